package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** A service that cannot start says why in one line and exits with 2, soon. */
class StartupFailureTest {

    @Test
    void anUnreachableBrokerIsOneLineWithinTheStartupTimeout() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort(); // closed again: nothing listens there
        }
        for (String service : new String[] {"processor", "trainer"}) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            PrintStream stderr = System.err;
            long started = System.nanoTime();
            int code;
            try {
                System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
                code = Main.run(service, "--set", "bootstrap.servers=127.0.0.1:" + port, "--set", "startup.timeout.ms=2000",
                        "--set", "schema.registry.url=http://127.0.0.1:1", "--set", "metrics.port=-1");
            } finally {
                System.setErr(stderr);
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            assertEquals(2, code, err.toString(StandardCharsets.UTF_8));
            assertEquals("error: cannot reach Kafka at 127.0.0.1:" + port + " within 2 s: Connection refused "
                    + "(bootstrap.servers; startup.timeout.ms)", err.toString(StandardCharsets.UTF_8).strip());
            assertTrue(seconds < 10, service + " gave up after " + seconds + " s");
        }
    }
}
