package io.slmclassifier.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.slmclassifier.cli.CommandRun;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an operator sees for a misspelt key or a bad value: the service does not start, and says why in one line,
 * before it reaches for Kafka (the broker named here does not exist).
 */
class ConfigurationRefusalTest {

    /** Runs a command and returns its exit code and what it wrote to stderr, stripped. */
    private static String[] run(String... args) {
        CommandRun run = CommandRun.of(args);
        return new String[] {String.valueOf(run.code()), run.err().strip()};
    }

    @Test
    void aMisspeltKeyInAFlagOrTheFileIsOneLineWithTheNearestKey(@TempDir Path dir) throws Exception {
        for (String service : new String[] {"processor", "trainer"}) {
            String[] flag = run(service, "--set", "bootstrap.servers=127.0.0.1:1", "--set", "metrics.prot=-1");
            assertEquals("2", flag[0], flag[1]);
            assertEquals("error: unknown configuration 'metrics.prot': did you mean 'metrics.port'?", flag[1], service);
        }
        Path file = Files.writeString(dir.resolve("trainer.properties"), "bootstrap.servers=127.0.0.1:1\ntrigger.exampels=5\n");
        String[] fromFile = run("trainer", "--config", file.toString());
        assertEquals("2", fromFile[0], fromFile[1]);
        assertEquals("error: " + file + ": unknown configuration 'trigger.exampels': did you mean 'trigger.examples'?",
                fromFile[1]);
        // A key of the other service is no key of this one.
        assertEquals("error: unknown configuration 'trigger.examples'",
                run("processor", "--set", "trigger.examples=5")[1]);
    }

    @Test
    void aBadValueIsOneLineNamingTheKeyTheValueAndWhatIsAllowed() {
        String[] refused = run("processor", "--set", "bootstrap.servers=127.0.0.1:1", "--set", "batch.linger.ms=-5");
        assertEquals("2", refused[0], refused[1]);
        assertEquals("error: configuration 'batch.linger.ms' must be at least 0, not '-5'", refused[1]);
        assertEquals("error: configuration 'lora.dropout' must be at least 0 and below 1, not '1.5'",
                run("trainer", "--set", "lora.dropout=1.5")[1]);
    }
}
