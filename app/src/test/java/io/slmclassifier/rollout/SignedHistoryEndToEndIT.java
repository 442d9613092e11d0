package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.slmclassifier.Fixtures;
import io.slmclassifier.classify.Task;
import io.slmclassifier.cli.CommandRun;
import io.slmclassifier.kafka.KafkaTestCluster;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.model.ModelConfig;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.stream.ProcessorService;
import io.slmclassifier.train.ColourTask;
import io.slmclassifier.train.TrainerConfig;
import io.slmclassifier.train.TrainerService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A writer without the signing key writes a tombstone for a signed adapter event and the broker compacts the
 * event away: the restarted processor still serves the version, the trainer writes its event again, and
 * {@code adapter list} shows the version with a warning about the tombstone.
 */
class SignedHistoryEndToEndIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = KafkaTestCluster.withSchemaRegistry();
    private static final String SIGNING_KEY = "signed-history-test-key-of-32-characters";
    private static final String CONTROL = "signed.control";

    @Test
    void anUnsignedTombstoneCompactedOverASignedEventChangesNeitherServingNorHistory(@TempDir Path dir) throws Exception {
        Path taskFile = Files.writeString(dir.resolve("colours.yaml"), ColourTask.YAML);
        Path modelDir = Fixtures.model("qwen3-tiny");
        try (Admin admin = Admin.create(kafka.client())) {
            // Segments roll after 100 ms and any dirty segment is cleaned: compaction within the cleaner's
            // back-off (15 s); the tombstone itself stays an hour.
            admin.createTopics(List.of(new NewTopic(CONTROL, 1, (short) 1).configs(Map.of("cleanup.policy", "compact",
                    "segment.ms", "100", "min.cleanable.dirty.ratio", "0.01", "min.compaction.lag.ms", "0",
                    "delete.retention.ms", "3600000")), new NewTopic("signed.adapters", 1, (short) 1)
                    .configs(Map.of("cleanup.policy", "compact")))).all().get();
        }

        // Version 2, a real adapter in the store, announced by a signed event.
        TorchRuntime.configureOffline();
        byte[] archive;
        try (NDManager manager = NDManager.newBaseManager();
                LoraAdapter adapter = LoraAdapter.initialize(new LoraConfig(4, 8, 0, List.of("q_proj", "v_proj"), false,
                        "qwen3-tiny"), ModelConfig.load(modelDir), manager, 3)) {
            adapter.save(dir.resolve("v2"));
            archive = AdapterArchive.pack(dir.resolve("v2"));
        }
        AdapterStore store = new AdapterStore("kafka", kafka.client(), "signed.adapters", "", AdapterStore.DEFAULT_MAX_BYTES);
        try (ControlLog trainerOfRecord = control(null)) {
            trainerOfRecord.publish(AdapterLineage.of("qwen3-tiny", modelDir, Task.load(taskFile)).store(store, 2, archive)
                    .setMetrics(Map.of("macro_f1", 0.9)).build());
        }

        // The processor serves it and the trainer reads it; both stop.
        try (ProcessorService processor = new ProcessorService(processorConfig(dir, taskFile))) {
            processor.start();
            assertEquals(2, processor.rollout().serving());
        }
        try (TrainerService trainer = new TrainerService(trainerConfig(dir, taskFile))) {
            trainer.start();
            Eventually.awaitTrue(trainer::ready, Duration.ofSeconds(60), "the trainer read the control topic");
        }

        // A writer without the key: a tombstone for adapter-2; the broker compacts the signed event away.
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.client(), new StringSerializer(),
                new ByteArraySerializer())) {
            Thread.sleep(300);
            producer.send(new ProducerRecord<>(CONTROL, "adapter-2", null)).get();
            Thread.sleep(300);
            producer.send(new ProducerRecord<>(CONTROL, "filler", new byte[] {1})).get(); // rolls the tombstone's segment
        }
        Eventually.awaitTrue(() -> valuesOf("adapter-2") == 0, Duration.ofSeconds(120), "compaction deleted the signed event");
        try (ControlLog topicAlone = control(null)) {
            topicAlone.catchUp(Duration.ofSeconds(20));
            assertTrue(topicAlone.state().event(2).isEmpty(), "the topic alone no longer knows version 2");
        }

        // The restarted processor serves version 2 before it consumes anything: from its verified journal.
        try (ProcessorService processor = new ProcessorService(processorConfig(dir, taskFile))) {
            processor.start();
            assertEquals(2, processor.rollout().serving(), "the restarted processor serves what was signed");
        }

        // The restarted trainer notices that its event is gone and writes it again, signed.
        try (TrainerService trainer = new TrainerService(trainerConfig(dir, taskFile))) {
            trainer.start();
            Eventually.awaitTrue(() -> valuesOf("adapter-2") == 1, Duration.ofSeconds(60), "the trainer wrote version 2 again");
        }

        // What an operator sees: version 2 serving, and the tombstone named in a warning.
        CommandRun listing = CommandRun.of("adapter", "list", "--set", "bootstrap.servers=" + kafka.bootstrapServers(),
                "--set", "schema.registry.url=" + kafka.schemaRegistryUrl(), "--set", "control.topic=" + CONTROL, "--set",
                "control.signing.key=" + SIGNING_KEY);
        String listed = listing.out();
        assertEquals(0, listing.code(), listed + listing.err());
        assertTrue(listed.lines().anyMatch(l -> l.startsWith("2 ") && l.contains("serving")), listed);
        assertTrue(listed.contains("serving: version 2"), listed);
        assertTrue(listed.lines().anyMatch(l -> l.startsWith("warning:")), listed);
        assertTrue(listed.lines().anyMatch(l -> l.contains("adapter-2 at " + CONTROL) && l.contains("a tombstone")
                && l.contains("the key holds applied records")), listed);
    }

    /** How many records with a value the control topic holds now for this key. */
    private static long valuesOf(String key) {
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(kafka.client(), new StringDeserializer(),
                new ByteArrayDeserializer())) {
            TopicPartition partition = new TopicPartition(CONTROL, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            long count = 0;
            while (consumer.position(partition) < end) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    count += key.equals(r.key()) && r.value() != null ? 1 : 0;
                }
            }
            return count;
        }
    }

    private static ControlLog control(Path journal) {
        ControlLog log = new ControlLog(kafka.client(), CONTROL, new ControlRecords(kafka.registryClient()),
                ControlSignature.of(SIGNING_KEY));
        if (journal != null) {
            log.keepJournal(journal);
        }
        return log;
    }

    private static ProcessorConfig processorConfig(Path dir, Path taskFile) {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", kafka.bootstrapServers());
        c.put("schema.registry.url", kafka.schemaRegistryUrl());
        c.put("application.id", "signed");
        c.put("input.topic", "signed.in");
        c.put("output.topic", "signed.classified");
        c.put("dlq.topic", "signed.dlq");
        c.put("control.topic", CONTROL);
        c.put("adapters.topic", "signed.adapters");
        c.put("model.dir", Fixtures.model("qwen3-tiny").toString());
        c.put("task.file", taskFile.toString());
        c.put("device", "cpu");
        c.put("metrics.port", "-1");
        c.put("state.dir", dir.resolve("state").toString());
        c.put("adapter.cache.dir", dir.resolve("adapters").toString());
        c.put("instance.id", "processor-0");
        c.put("topics.partitions", "1");
        c.put("control.signing.key", SIGNING_KEY);
        return ProcessorConfig.of(c);
    }

    private static TrainerConfig trainerConfig(Path dir, Path taskFile) {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", kafka.bootstrapServers());
        c.put("schema.registry.url", kafka.schemaRegistryUrl());
        c.put("feedback.topics", "signed.feedback");
        c.put("dataset.topic", "signed.dataset");
        c.put("control.topic", CONTROL);
        c.put("adapters.topic", "signed.adapters");
        c.put("dlq.topic", "signed.dlq");
        c.put("model.dir", Fixtures.model("qwen3-tiny").toString());
        c.put("task.file", taskFile.toString());
        c.put("device", "cpu");
        c.put("work.dir", dir.resolve("trainer").toString());
        c.put("metrics.port", "-1");
        c.put("topics.partitions", "1");
        c.put("control.signing.key", SIGNING_KEY);
        return TrainerConfig.of(c);
    }


}
