package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.cli.Main;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.train.TrainerConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Signing is a choice a service states: unsigned it says so, and with control.signing.required it refuses to run. */
class ControlSigningTest {

    @Test
    void theServicesSayUnsignedWithoutAKeyAndSignedWithOne() {
        Map<String, String> key = Map.of("control.signing.key", "k".repeat(32));
        assertEquals("unsigned", ControlSigning.describe(ControlSigning.of(ProcessorConfig.of(Map.of()))));
        assertEquals("signed", ControlSigning.describe(ControlSigning.of(ProcessorConfig.of(key))));
        assertEquals("unsigned", ControlSigning.describe(ControlSigning.of(TrainerConfig.of(Map.of()))));
        assertEquals("signed", ControlSigning.describe(ControlSigning.of(TrainerConfig.of(key))));
    }

    /** Refused before anything else starts: the broker named here does not exist, and that is never reached. */
    @Test
    void requiredWithoutAKeyRefusesToStartInOneLine() throws Exception {
        int deadPort;
        try (ServerSocket free = new ServerSocket(0)) {
            deadPort = free.getLocalPort();
        }
        for (String service : new String[] {"processor", "trainer"}) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            PrintStream stderr = System.err;
            int code;
            try {
                System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
                code = Main.run(service, "--set", "control.signing.required=true",
                        "--set", "bootstrap.servers=127.0.0.1:" + deadPort, "--set", "startup.timeout.ms=2000",
                        "--set", "schema.registry.url=http://127.0.0.1:" + deadPort, "--set", "metrics.port=-1");
            } finally {
                System.setErr(stderr);
            }
            String said = err.toString(StandardCharsets.UTF_8).strip();
            assertEquals(2, code, said);
            assertEquals("error: control.signing.required is true but no control.signing.key is set (give "
                    + "control.signing.key.file or SLM_CONTROL_SIGNING_KEY_FILE, 32+ characters)", said, service);
        }
        // With a key it gets past the check, to the (absent) broker.
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stderr = System.err;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            Main.run("processor", "--set", "control.signing.required=true", "--set", "control.signing.key=" + "k".repeat(32),
                    "--set", "bootstrap.servers=127.0.0.1:" + deadPort, "--set", "startup.timeout.ms=1000",
                    "--set", "schema.registry.url=http://127.0.0.1:" + deadPort, "--set", "metrics.port=-1");
        } finally {
            System.setErr(stderr);
        }
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("cannot reach Kafka"), err.toString(StandardCharsets.UTF_8));
    }
}
