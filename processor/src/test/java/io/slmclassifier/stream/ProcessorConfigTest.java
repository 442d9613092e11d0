package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
        ProcessorConfig unreachable = ProcessorConfig.of(Map.of("abstain.min.label.mass", "1",
                "bootstrap.servers", "127.0.0.1:1", "startup.timeout.ms", "1"));
        IllegalArgumentException atStart = assertThrows(IllegalArgumentException.class,
                () -> new ProcessorService(unreachable, null));
        assertTrue(atStart.getMessage().contains("abstain.min.label.mass"), atStart.getMessage());
    }
}
