package io.slmclassifier.config;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.train.TrainerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The README's configuration reference lists every key with its real default, so the two cannot drift apart. */
class ReadmeConfigurationTest {

    @Test
    void everyKeyAndDefaultIsInTheReadme() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        for (String[][] table : new String[][][] {ProcessorConfig.DEFAULTS, TrainerConfig.DEFAULTS}) {
            for (String[] row : table) {
                String line = "| `" + row[0] + "` | " + (row[1].isEmpty() ? "" : "`" + row[1] + "`") + " | " + row[2] + " |";
                assertTrue(readme.contains(line), "README.md lacks the configuration row:\n" + line);
            }
        }
    }

    @Test
    void theShippedTrainerFileParses() throws Exception {
        TrainerConfig c = TrainerConfig.load(Path.of("trainer/trainer.properties"), java.util.Map.of(), java.util.Map.of());
        assertTrue(c.getList("feedback.topics").contains("intents.feedback"));
        assertTrue(c.getInt("trigger.examples") > 0);
        assertTrue(c.getDouble("gate.min.improvement") >= 0);
    }
}
