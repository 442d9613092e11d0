package io.slmclassifier.config;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.train.TrainerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The configuration reference (docs/configuration.md, linked from the README) lists every key with its real
 * default, so the two cannot drift apart.
 */
class ReadmeConfigurationTest {

    static final Path CONFIGURATION_REFERENCE = Path.of("docs/configuration.md");

    @Test
    void everyKeyAndDefaultIsInTheConfigurationReference() throws Exception {
        String reference = Files.readString(CONFIGURATION_REFERENCE);
        for (String[][] table : new String[][][] {ProcessorConfig.DEFAULTS, TrainerConfig.DEFAULTS}) {
            for (String[] row : table) {
                String line = "| `" + row[0] + "` | " + (row[1].isEmpty() ? "" : "`" + row[1] + "`") + " | " + row[2] + " |";
                assertTrue(reference.contains(line), CONFIGURATION_REFERENCE + " lacks the configuration row:\n" + line);
            }
        }
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
