package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.kafka.KafkaTestCluster;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control topic against a real broker with signing on, attacked by a writer without the key: genuine signed
 * records copied from the topic, headers included, and written again; an unsigned tombstone that makes
 * compaction delete a signed event.
 */
class ControlLogIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = KafkaTestCluster.withSchemaRegistry();
    private static final String KEY = "control-log-test-signing-key-of-32-characters";

    @Test
    void signedCommandsCopiedFromTheTopicAndWrittenAgainChangeNothing() throws Exception {
        String topic = createTopic("replay.control", Map.of());
        try (ControlLog writer = log(topic); ControlLog follower = log(topic)) {
            for (long v = 1; v <= 3; v++) {
                writer.publish(active(v));
            }
            writer.catchUp(Duration.ofSeconds(20));
            writer.command(AdapterCommandType.ROLLBACK, null, "alice");
            writer.command(AdapterCommandType.PIN, 3L, "alice");
            writer.command(AdapterCommandType.UNPIN, null, "alice");
            follower.follow(s -> { });
            awaitTrue(() -> follower.state().commands().size() == 3, "the follower read the three commands");
            assertEquals(OptionalLong.of(2), follower.state().serving(), "rollback, pin 3, unpin: version 2");

            // The attack: the rollback and the pin exactly as they are on the topic, headers and signature included.
            List<ConsumerRecord<String, byte[]>> copies = new ArrayList<>();
            for (ConsumerRecord<String, byte[]> r : readAll(topic)) {
                if (r.key().startsWith("command-rollback-") || r.key().startsWith("command-pin-")) {
                    copies.add(r);
                }
            }
            assertEquals(2, copies.size());
            String logged = stderrWhile(() -> {
                try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.client(),
                        new StringSerializer(), new ByteArraySerializer())) {
                    for (ConsumerRecord<String, byte[]> r : copies) {
                        producer.send(new ProducerRecord<>(topic, null, r.key(), r.value(), r.headers())).get();
                    }
                }
                // Read, the copies are either refused or applied as commands: either way the follower has them.
                awaitTrue(() -> follower.ignoredTotal() + follower.state().commands().size() == 5,
                        "the follower read both copies");
            });

            ControlState after = follower.state();
            assertEquals(OptionalLong.of(2), after.serving(), "a replayed rollback would serve 1, a replayed pin 3");
            assertEquals(OptionalLong.empty(), after.pinned());
            assertEquals(3, after.commands().size());
            for (ConsumerRecord<String, byte[]> r : copies) {
                assertEquals(1, logged.lines().filter(l -> l.contains("WARN") && l.contains("Refusing record " + r.key())
                        && l.contains("replay")).count(), "one WARN line naming " + r.key() + ":\n" + logged);
            }
            // A reader that starts now folds the same: the copies are refused there too.
            try (ControlLog fresh = log(topic)) {
                fresh.catchUp(Duration.ofSeconds(20));
                assertEquals(OptionalLong.of(2), fresh.state().serving());
                assertEquals(2, fresh.ignored().size(), fresh.ignored().toString());
                assertTrue(fresh.ignored().stream().allMatch(i -> i.reason().contains("replay")), fresh.ignored().toString());
            }
        }
    }

    @Test
    void anUnsignedTombstoneAndCompactionEraseNothingThatWasApplied(@TempDir Path dir) throws Exception {
        // Segments roll after 100 ms and the cleaner takes any dirty segment: compaction within the broker's
        // cleaner back-off (15 s), and the tombstone itself kept for an hour.
        String topic = createTopic("tombstone.control", Map.of("segment.ms", "100", "min.cleanable.dirty.ratio", "0.01",
                "min.compaction.lag.ms", "0", "delete.retention.ms", "3600000"));
        Path trainerJournal = dir.resolve("trainer").resolve(ControlLog.JOURNAL_FILE);
        Path processorJournal = dir.resolve("processor").resolve(ControlLog.JOURNAL_FILE);
        try (ControlLog trainer = log(topic, trainerJournal); ControlLog processor = log(topic, processorJournal)) {
            trainer.publish(active(1));
            trainer.publish(active(2));
            trainer.catchUp(Duration.ofSeconds(20));
            processor.catchUp(Duration.ofSeconds(20));
            assertEquals(OptionalLong.of(2), processor.state().serving());
        }
        assertTrue(Files.isRegularFile(processorJournal));

        // A writer without the key deletes version 2's event, and compaction removes it from the topic.
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.client(), new StringSerializer(),
                new ByteArraySerializer())) {
            Thread.sleep(300);
            producer.send(new ProducerRecord<>(topic, "adapter-2", null)).get();
            Thread.sleep(300);
            producer.send(new ProducerRecord<>(topic, "filler", new byte[] {1})).get(); // rolls the tombstone's segment
        }
        Eventually.awaitTrue(() -> readAll(topic).stream().noneMatch(r -> r.key().equals("adapter-2") && r.value() != null),
                Duration.ofSeconds(120), "compaction deleted the signed event of version 2");

        // Today's reader of the topic alone: version 2 is gone.
        try (ControlLog fresh = log(topic)) {
            fresh.catchUp(Duration.ofSeconds(20));
            assertTrue(fresh.state().event(2).isEmpty());
            assertEquals(OptionalLong.of(1), fresh.state().serving());
        }
        // A journal is verified when it is loaded: one whose record was changed is left aside.
        Path tampered = dir.resolve("tampered").resolve(ControlLog.JOURNAL_FILE);
        Files.createDirectories(tampered.getParent());
        String journal = Files.readString(processorJournal);
        int at = journal.indexOf("\"signature\":\"") + "\"signature\":\"".length();
        Files.writeString(tampered, journal.substring(0, at) + (journal.charAt(at) == '0' ? '1' : '0') + journal.substring(at + 1));
        try (ControlLog forged = log(topic, tampered)) {
            forged.catchUp(Duration.ofSeconds(20));
            assertEquals(OptionalLong.of(1), forged.state().serving(), "a changed journal is not trusted");
        }

        // The restarted processor: version 2 from its journal, the tombstone listed as not applied.
        try (ControlLog processor = log(topic, processorJournal)) {
            processor.catchUp(Duration.ofSeconds(20));
            assertEquals(OptionalLong.of(2), processor.state().serving());
            assertTrue(processor.ignored().stream().anyMatch(i -> i.key().equals("adapter-2") && i.reason().equals("a tombstone")),
                    processor.ignored().toString());
            assertTrue(processor.applied("adapter-2"));
        }
        // The restarted trainer notices that its event is gone and writes it again; every reader has it then.
        try (ControlLog trainer = log(topic, trainerJournal)) {
            trainer.catchUp(Duration.ofSeconds(20));
            assertEquals(1, trainer.restore(r -> r instanceof AdapterEvent e && e.getStatus() != AdapterStatus.ERROR));
            assertEquals(0, trainer.restore(r -> true), "not twice while the copy is on its way");
        }
        try (ControlLog fresh = log(topic)) {
            fresh.catchUp(Duration.ofSeconds(20));
            assertEquals(OptionalLong.of(2), fresh.state().serving());
            AdapterEvent restored = fresh.state().event(2).orElseThrow();
            assertEquals(active(2).getSha256(), restored.getSha256());
            assertEquals(Instant.ofEpochMilli(2), restored.getCreatedAt(), "the event as it was first written");
            assertEquals(ControlLog.TRAINER_ISSUER, restored.getIssuer());
        }
    }

    private static ControlLog log(String topic) {
        return new ControlLog(kafka.client(), topic, new ControlRecords(kafka.registryClient()),
                ControlSignature.of(KEY));
    }

    private static ControlLog log(String topic, Path journal) {
        ControlLog log = log(topic);
        log.keepJournal(journal);
        return log;
    }

    private static String createTopic(String name, Map<String, String> settings) throws Exception {
        try (Admin admin = Admin.create(kafka.client())) {
            NewTopic topic = new NewTopic(name, 1, (short) 1);
            java.util.HashMap<String, String> configs = new java.util.HashMap<>(settings);
            configs.put("cleanup.policy", "compact");
            admin.createTopics(List.of(topic.configs(configs))).all().get();
        }
        return name;
    }

    private static List<ConsumerRecord<String, byte[]>> readAll(String topic) {
        Properties p = kafka.client();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
            while (consumer.position(partition) < end) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            return out;
        }
    }

    /** What the code logs (slf4j-simple writes to standard error) while {@code action} runs, still shown. */
    private static String stderrWhile(ThrowingRunnable action) throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream stderr = System.err;
        System.setErr(new PrintStream(new OutputStream() {
            @Override
            public void write(int b) {
                captured.write(b);
                stderr.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                captured.write(b, off, len);
                stderr.write(b, off, len);
            }
        }, true, StandardCharsets.UTF_8));
        try {
            action.run();
        } finally {
            System.setErr(stderr);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }

    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private static void awaitTrue(BooleanSupplier condition, String what) {
        Eventually.awaitTrue(condition, Duration.ofSeconds(30), what);
    }

    /** An ACTIVE event of a version; only the fields the control log reads are meaningful. */
    private static AdapterEvent active(long version) {
        return AdapterEvent.newBuilder().setVersion(version).setBaseModelId("m").setBaseModelSha256("b")
                .setTaskName("t").setTaskHash("h").setSha256("sha-of-" + version).setSizeBytes(1).setMetrics(Map.of())
                .setCreatedAt(java.time.Instant.ofEpochMilli(version)).setStatus(AdapterStatus.ACTIVE).build();
    }
}
