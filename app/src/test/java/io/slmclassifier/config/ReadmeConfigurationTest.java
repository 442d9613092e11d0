package io.slmclassifier.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.train.TrainerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The configuration reference (docs/configuration.md, linked from the README) holds each service's table exactly as
 * its definitions make it: every key with its real default and documentation, in the order of the definitions,
 * and no row for a key that is gone. On a difference the message is the table to paste.
 */
class ReadmeConfigurationTest {

    static final Path CONFIGURATION_REFERENCE = Path.of("docs/configuration.md");

    /** The heading line above each service's table in the reference. */
    private static final Map<String, ConfigDefinitions> TABLES = Map.of(
            "Processor (`processor`):", ProcessorConfig.DEFINITIONS,
            "Trainer (`trainer`):", TrainerConfig.DEFINITIONS);

    /** The markdown table of {@code definitions}: one row per key, as the reference shows them. */
    static String table(ConfigDefinitions definitions) {
        StringBuilder table = new StringBuilder("| key | default | meaning |\n|---|---|---|\n");
        for (ConfigDefinitions.Key key : definitions.keys()) {
            table.append("| `").append(key.name()).append("` | ")
                    .append(key.defaultValue().isEmpty() ? "" : "`" + key.defaultValue() + "`").append(" | ")
                    .append(key.documentation()).append(" |\n");
        }
        return table.toString();
    }

    /** The table under {@code heading} in the reference: its lines from the header row to the first line that is no row. */
    private static String documentedTable(List<String> lines, String heading) {
        int at = lines.indexOf(heading);
        assertTrue(at >= 0, CONFIGURATION_REFERENCE + " has no line '" + heading + "'");
        List<String> rows = new ArrayList<>();
        for (int i = at + 1; i < lines.size(); i++) {
            if (lines.get(i).startsWith("|")) {
                rows.add(lines.get(i));
            } else if (!rows.isEmpty()) {
                break;
            }
        }
        return String.join("\n", rows) + "\n";
    }

    @Test
    void eachServicesTableIsTheOneItsDefinitionsMake() throws Exception {
        List<String> lines = Files.readAllLines(CONFIGURATION_REFERENCE);
        TABLES.forEach((heading, definitions) -> assertEquals(table(definitions), documentedTable(lines, heading),
                CONFIGURATION_REFERENCE + ": the table under '" + heading + "' differs from the definitions"));
    }

    @Test
    void theReadmeLinksToTheConfigurationReference() throws Exception {
        // The reference left the README for its own file; a reader starting at the README must still find it.
        assertTrue(Files.readString(Path.of("README.md")).contains("](" + CONFIGURATION_REFERENCE + ")"),
                "README.md does not link to " + CONFIGURATION_REFERENCE);
    }

    @Test
    void theShippedTrainerFileParses() throws Exception {
        TrainerConfig c = TrainerConfig.load(Path.of("trainer/trainer.properties"), java.util.Map.of(), java.util.Map.of());
        assertTrue(c.getList("feedback.topics").contains("intents.feedback"));
        assertTrue(c.getInt("trigger.examples") > 0);
        assertTrue(c.getDouble("gate.min.improvement") >= 0);
    }
}
