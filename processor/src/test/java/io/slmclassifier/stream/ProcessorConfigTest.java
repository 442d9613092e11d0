package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessorConfigTest {

    @Test
    void defaultsThenFileThenEnvironmentThenFlags(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("p.properties");
        Files.writeString(file, "bootstrap.servers=file:9092\nbatch.max.size=16\nkafka.security.protocol=SSL\n");
        ProcessorConfig c = ProcessorConfig.load(file,
                Map.of("SLM_BATCH_MAX_SIZE", "24", "SLM_KAFKA_SASL_JAAS_CONFIG", "secret", "PATH", "/bin"),
                Map.of("bootstrap.servers", "flag:9092"));
        assertEquals("flag:9092", c.get("bootstrap.servers"));
        assertEquals(24, c.getInt("batch.max.size"));
        assertEquals("exactly_once_v2", c.get("processing.guarantee"));
        assertEquals(Map.of("security.protocol", "SSL", "sasl.jaas.config", "secret"), c.kafkaPassThrough());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> c.require("model.dir")).getMessage()
                .contains("SLM_MODEL_DIR"));
        assertThrows(IllegalArgumentException.class,
                () -> ProcessorConfig.of(Map.of("batch.max.size", "many")).getInt("batch.max.size"));
    }

    /** Tokens need not be on a command line (ps shows it): any key can come from a file, a mounted secret. */
    @Test
    void secretsComeFromFilesNamedByKeyDotFile(@TempDir Path dir) throws Exception {
        Path secret = dir.resolve("console-token");
        Files.writeString(secret, "s3cret\n");
        ProcessorConfig c = ProcessorConfig.load(null, Map.of("SLM_CONSOLE_TOKEN_FILE", secret.toString()), Map.of());
        assertEquals("s3cret", c.get("console.token"));
        assertEquals("s3cret", ProcessorConfig.load(null, Map.of(),
                Map.of("adapter.store.token.file", secret.toString())).get("adapter.store.token"));
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> ProcessorConfig.load(null,
                Map.of("SLM_CONSOLE_TOKEN_FILE", secret.toString()), Map.of("console.token", "other")));
        assertTrue(twice.getMessage().contains("given twice"), twice.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> ProcessorConfig.load(null,
                Map.of("SLM_CONSOLE_TOKEN_FILE", dir.resolve("nope").toString()), Map.of()));
        assertTrue(missing.getMessage().contains("no such file"), missing.getMessage());
    }

    @Test
    void theShippedFileParses() throws Exception {
        ProcessorConfig c = ProcessorConfig.load(Path.of("processor/processor.properties"), Map.of(), Map.of());
        assertEquals("intents.in", c.get("input.topic"));
        assertEquals("intents.classified", c.get("output.topic"));
        assertEquals("intents.dlq", c.get("dlq.topic"));
    }

    /** A label-mass floor of 1 would set every result aside; a bad one stops start-up before Kafka is waited for. */
    @Test
    void theLabelMassFloorIsAtLeastZeroAndBelowOne() {
        assertEquals(0, ProcessorConfig.of(Map.of()).abstainMinLabelMass());
        assertEquals(0.25, ProcessorConfig.of(Map.of("abstain.min.label.mass", "0.25")).abstainMinLabelMass());
        assertEquals(0.999, ProcessorConfig.of(Map.of("abstain.min.label.mass", "0.999")).abstainMinLabelMass());
        for (String bad : List.of("1", "1.5", "-0.1", "NaN", "some")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ProcessorConfig.of(Map.of("abstain.min.label.mass", bad)).abstainMinLabelMass());
            assertTrue(e.getMessage().contains("'abstain.min.label.mass'") && e.getMessage().contains(bad),
                    e.getMessage());
        }
        // Refused while the configuration is read, so before the service waits for the (unreachable) broker.
        IllegalArgumentException atStart = assertThrows(IllegalArgumentException.class,
                () -> new ProcessorService(ProcessorConfig.of(Map.of("abstain.min.label.mass", "1",
                        "bootstrap.servers", "127.0.0.1:1", "startup.timeout.ms", "1")), null));
        assertTrue(atStart.getMessage().contains("abstain.min.label.mass"), atStart.getMessage());
    }

    /** A misspelt key would otherwise change nothing without a word: refused, with the key meant. */
    @Test
    void unknownKeysAreRefusedWithTheNearestOne(@TempDir Path dir) throws Exception {
        assertEquals("unknown configuration 'batch.max.sise': did you mean 'batch.max.size'?", assertThrows(
                IllegalArgumentException.class, () -> ProcessorConfig.of(Map.of("batch.max.sise", "16"))).getMessage());
        Path file = Files.writeString(dir.resolve("p.properties"), "input.topic=in\nabstain.treshold=0.5\n");
        assertEquals(file + ": unknown configuration 'abstain.treshold': did you mean 'abstain.threshold'?",
                assertThrows(IllegalArgumentException.class, () -> ProcessorConfig.load(file, Map.of(), Map.of()))
                        .getMessage());
        assertEquals("unknown configuration 'task.emotion.batch.lingr.ms': did you mean 'task.emotion.batch.linger.ms'?",
                assertThrows(IllegalArgumentException.class,
                        () -> ProcessorConfig.of(Map.of("task.emotion.batch.lingr.ms", "5"))).getMessage());
        assertEquals("unknown configuration 'gpu.memory'", assertThrows(IllegalArgumentException.class,
                () -> ProcessorConfig.of(Map.of("gpu.memory", "5"))).getMessage(), "nothing near: no guess");
        // What is known in every form: a key, its .file, one task's key, the Kafka clients' pass-through.
        ProcessorConfig known = ProcessorConfig.of(Map.of("batch.max.size", "16", "console.token.file", "",
                "task.emotion.batch.linger.ms", "5", "task.radr.v2.input.topic", "radr.in", "kafka.acks", "all",
                "task.emotion.kafka.linger.ms", "7"));
        assertEquals(16, known.getInt("batch.max.size"));
        assertEquals(Map.of("acks", "all"), known.kafkaPassThrough());
    }

    /**
     * Environments carry SLM_ variables of other programs (and of the other service): one that names no key is left
     * out with a warning, never a reason not to start.
     */
    @Test
    void anUnknownEnvironmentVariableIsLeftOutWithAWarningNotRefused() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stderr = System.err;
        ProcessorConfig c;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            c = ProcessorConfig.load(null, Map.of("SLM_SHARED", "/opt/shared", "SLM_TRIGGER_EXAMPLES", "5",
                    "SLM_BATCH_LINGER_MS", "3", "SLM_HUB_MAX_FILE_BYTES", "1000"), Map.of());
        } finally {
            System.setErr(stderr);
        }
        assertEquals(3, c.getInt("batch.linger.ms"));
        assertFalse(c.asMap().containsKey("shared"));
        assertFalse(c.asMap().containsKey("trigger.examples"));
        String warned = err.toString(StandardCharsets.UTF_8);
        assertTrue(warned.contains("Environment variable SLM_SHARED left out: unknown configuration 'shared'"), warned);
        assertTrue(warned.contains("Environment variable SLM_TRIGGER_EXAMPLES left out"), warned);
        assertFalse(warned.contains("SLM_HUB_MAX_FILE_BYTES"), "the hub client reads it: " + warned);
    }

    /** Every value is parsed once, at load: a bad one is one line naming the key, the value and what is allowed. */
    @Test
    void aBadValueIsOneLineNamingTheKeyTheValueAndWhatIsAllowed() {
        Map<Map<String, String>, String> refusals = Map.of(
                Map.of("processing.guarantee", "exactly_once"),
                "configuration 'processing.guarantee' must be one of exactly_once_v2, at_least_once, not 'exactly_once'",
                Map.of("batch.max.size", "many"), "configuration 'batch.max.size' must be auto or a whole number, not 'many'",
                Map.of("batch.max.size", "0"), "configuration 'batch.max.size' must be auto or at least 1, not '0'",
                Map.of("metrics.port", "70000"), "configuration 'metrics.port' must be a number in [-1, 65535], not '70000'",
                Map.of("topics.create", "yes"), "configuration 'topics.create' must be true or false, not 'yes'",
                Map.of("device", "tpu"), "configuration 'device' must be cpu, gpu, gpu:N or auto, not 'tpu'",
                Map.of("warmup.batch.sizes", "1,x"),
                "configuration 'warmup.batch.sizes' must be auto, none or row counts like 1024,1,7, not '1,x'",
                Map.of("calibration.temperature", "0"), "configuration 'calibration.temperature' must be above 0, not '0'",
                Map.of("task.emotion.abstain.threshold", "2"),
                "configuration 'task.emotion.abstain.threshold' must be a number in [0, 1], not '2'");
        refusals.forEach((values, message) -> assertEquals(message,
                assertThrows(IllegalArgumentException.class, () -> ProcessorConfig.of(values)).getMessage()));
        ProcessorConfig given = ProcessorConfig.of(Map.of("batch.max.size", "AUTO", "calibration.temperature", "",
                "warmup.batch.sizes", "64, 1,3", "device", "gpu:1"));
        assertEquals("auto", given.get("batch.max.size").toLowerCase());
        assertEquals("", given.get("calibration.temperature"));
    }

    @Test
    void thePrefixMinimumIsTheDevicesUnlessSet() {
        assertEquals(9, ProcessorConfig.of(Map.of()).batching().prefixMinRows(9), "auto: the device's");
        assertEquals(1, ProcessorConfig.of(Map.of("batch.prefix.min.rows", "1")).batching().prefixMinRows(9));
        assertEquals("configuration 'batch.prefix.min.rows' must be auto or at least 1, not '0'", assertThrows(
                IllegalArgumentException.class, () -> ProcessorConfig.of(Map.of("batch.prefix.min.rows", "0")))
                .getMessage());
    }
}
