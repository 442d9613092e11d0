package io.slmclassifier.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.cli.CommandRun;
import java.net.ServerSocket;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A console token short enough to guess is refused before anything starts: by the settings, by the processor and by
 * the demo, in one line that names where it was given and never repeats it.
 */
class ConsoleTokenTest {
    private static final String FIFTEEN = "fifteen-chars!!";

    @Test
    void settingsRefuseATokenUnder16Characters() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> settings(FIFTEEN));
        assertEquals("configuration 'console.token' is 15 characters long; it must have at least 16 (openssl rand -hex 16 "
                + "makes one), or be empty for a read-only console", e.getMessage());
        assertTrue(settings(FIFTEEN + "x").writable());
        assertFalse(settings("").writable(), "no token: a read-only console");
    }

    @Test
    void theProcessorRefusesItBeforeReachingForKafka() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort(); // nothing listens there: had the token passed, Kafka would be the error
        }
        String err = refusal("processor", "--set", "bootstrap.servers=127.0.0.1:" + port, "--set", "console.port=0",
                "--set", "console.token=" + FIFTEEN, "--set", "metrics.port=-1",
                "--set", "schema.registry.url=http://127.0.0.1:1");
        assertTrue(err.startsWith("error: configuration 'console.token' is 15 characters long"), err);
        assertFalse(err.contains(FIFTEEN), "the token is not repeated");
        assertEquals(1, err.lines().count(), err);
    }

    @Test
    void theDemoRefusesItBeforeStartingAnything() {
        String err = refusal("demo", "--console-token", FIFTEEN);
        assertTrue(err.startsWith("error: --console-token (or SLM_CONSOLE_TOKEN) is 15 characters long"), err);
        assertFalse(err.contains(FIFTEEN), "the token is not repeated");
    }

    private static ConsoleSettings settings(String token) {
        return new ConsoleSettings("127.0.0.1", 0, token, "127.0.0.1:9092", Map.of(), "intents.classified",
                "intents.dlq", "intents.feedback");
    }

    private static String refusal(String... args) {
        CommandRun run = CommandRun.of(args);
        assertEquals(2, run.code(), run.err());
        return run.err().strip();
    }
}
