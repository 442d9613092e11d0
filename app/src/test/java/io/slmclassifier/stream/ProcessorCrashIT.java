package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.devkit.ProcessorProcess;
import io.slmclassifier.devkit.ProgressWait;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGKILL while records wait for their batch: the processor in a child JVM has consumed (and committed) every
 * input but classified none; after a restart every input appears in the output exactly once. Every wait follows
 * the child's progress (its log, the offsets, the results), so a busy machine makes the test slow, not red.
 */
class ProcessorCrashIT {
    /** How long nothing may move (no log line, no offset, no result) before the child is taken to be stuck. */
    private static final Duration STALL = Duration.ofSeconds(90);
    /** The most one wait may take however much still moves. */
    private static final Duration CAP = Duration.ofMinutes(10);
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
        // Records must wait in the store for the linger: an idle worker would otherwise run them at once.
        config.put("batch.idle.start", "false");
        // The killed member holds its partitions until its session expires: keep that short.
        config.put("kafka.consumer.session.timeout.ms", "6000");
        return ProcessorProcess.start(config, log);
    }

    /** The inputs the group has committed as consumed, summed over the partitions. */
    private static long committed(String app) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, ProcessorEndToEndIT.bootstrapServers());
        try (Admin admin = Admin.create(p)) {
            Map<TopicPartition, OffsetAndMetadata> offsets =
                    admin.listConsumerGroupOffsets(app).partitionsToOffsetAndMetadata().get(60, TimeUnit.SECONDS);
            return offsets.values().stream().filter(o -> o != null).mapToLong(OffsetAndMetadata::offset).sum();
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the offsets of group " + app, e);
        }
    }

    /**
     * The results on {@code topic} as a read_committed consumer sees them: read until {@code expected} came, while
     * results come or the child logs (starting, joining, restoring its store), then a little longer for duplicates.
     */
    private static List<ConsumerRecord<byte[], byte[]>> readCommittedWhileProgressing(String topic, int expected, Path log)
            throws InterruptedException {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, ProcessorEndToEndIT.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            ProgressWait.await(() -> {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
                return out.size() >= expected;
            }, () -> out.size() + ProcessorProcess.size(log), STALL, CAP);
            consumer.poll(Duration.ofMillis(500)).forEach(out::add);
        }
        return out;
    }

    @Test
    void killedWhileBatchesAreBufferedThenRestartedLosesAndDoublesNothing(@TempDir Path dir) throws Exception {
        String app = "crash";
        int n = 60;
        Path log = dir.resolve("processor.log");
        Process first = startChild(app, dir.resolve("state-1"), log, "600000");
        try {
            ProcessorProcess.awaitLog(first, log, "Processor ready", 1, STALL);
            ProcessorEndToEndIT.produce(app + ".in", n, 5);
            ProgressWait.Result consumed = ProgressWait.await(() -> committed(app) >= n,
                    () -> committed(app) + ProcessorProcess.size(log), STALL, CAP);
            assertEquals(n, committed(app), "every input consumed and committed before the kill: " + consumed.describe());
        } finally {
            first.destroyForcibly(); // SIGKILL: no shutdown hook, no flush
            first.waitFor(30, TimeUnit.SECONDS);
        }
        assertTrue(ProcessorEndToEndIT.readCommitted(app + ".classified", 1, Duration.ofSeconds(2)).isEmpty(),
                "nothing was classified before the crash: the records were waiting in the store");

        // A new instance on a new state directory: the store comes back from its changelog.
        Process second = startChild(app, dir.resolve("state-2"), log, "50");
        try {
            List<ConsumerRecord<byte[], byte[]>> results = readCommittedWhileProgressing(app + ".classified", n, log);
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
