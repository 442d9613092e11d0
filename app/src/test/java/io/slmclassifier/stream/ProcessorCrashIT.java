package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.devkit.ProcessorProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGKILL while records wait for their batch: the processor in a child JVM has consumed (and committed) every
 * input but classified none; after a restart every input appears in the output exactly once.
 */
class ProcessorCrashIT {
    @BeforeAll
    static void startBroker() throws Exception {
        ProcessorEndToEndIT.startBroker();
    }

    @AfterAll
    static void stopBroker() {
        ProcessorEndToEndIT.stopBroker();
    }

    private Process startChild(String app, Path state, Path log, String linger) throws Exception {
        Map<String, String> config = new HashMap<>(ProcessorEndToEndIT.config(app, state).asMap());
        config.put("batch.max.size", "1000");
        config.put("batch.linger.ms", linger);
        // The killed member holds its partitions until its session expires: keep that short.
        config.put("kafka.consumer.session.timeout.ms", "6000");
        return ProcessorProcess.start(config, log);
    }

    private static long committed(String app) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, ProcessorEndToEndIT.bootstrapServers());
        try (Admin admin = Admin.create(p)) {
            Map<TopicPartition, OffsetAndMetadata> offsets =
                    admin.listConsumerGroupOffsets(app).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
            return offsets.values().stream().filter(o -> o != null).mapToLong(OffsetAndMetadata::offset).sum();
        }
    }

    @Test
    void killedWhileBatchesAreBufferedThenRestartedLosesAndDoublesNothing(@TempDir Path dir) throws Exception {
        String app = "crash";
        int n = 60;
        Path log = dir.resolve("processor.log");
        Process first = startChild(app, dir.resolve("state-1"), log, "600000");
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            ProcessorProcess.awaitLog(first, log, "Processor ready", 1, Duration.ofSeconds(90));
            ProcessorEndToEndIT.produce(app + ".in", n, 5);
            while (committed(app) < n && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertEquals(n, committed(app), "every input consumed and committed before the kill");
        } finally {
            first.destroyForcibly(); // SIGKILL: no shutdown hook, no flush
            first.waitFor(30, TimeUnit.SECONDS);
        }
        assertTrue(ProcessorEndToEndIT.readCommitted(app + ".classified", 1, Duration.ofSeconds(2)).isEmpty(),
                "nothing was classified before the crash: the records were waiting in the store");

        // A new instance on a new state directory: the store comes back from its changelog.
        Process second = startChild(app, dir.resolve("state-2"), log, "50");
        try {
            List<ConsumerRecord<byte[], byte[]>> results =
                    ProcessorEndToEndIT.readCommitted(app + ".classified", n, Duration.ofSeconds(120));
            Set<String> texts = new HashSet<>();
            for (ConsumerRecord<byte[], byte[]> r : results) {
                Classification c = ProcessorEndToEndIT.decode(app + ".classified", r.value());
                assertTrue(texts.add(c.getText()), "classified twice: " + c.getText());
            }
            assertEquals(n, texts.size(), java.nio.file.Files.readString(log));
        } finally {
            // SIGTERM: the shutdown hook finishes the batch in flight and commits.
            assertTrue(ProcessorProcess.stop(second, Duration.ofSeconds(60)), "the processor stops on SIGTERM");
        }
        assertTrue(java.nio.file.Files.readString(log).contains("Stopped"), "a clean stop is logged");
    }
}
