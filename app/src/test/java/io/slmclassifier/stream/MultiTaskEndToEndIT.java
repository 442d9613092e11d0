package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.KafkaTestCluster;
import io.slmclassifier.rollout.AdapterArchive;
import io.slmclassifier.rollout.AdapterLineage;
import io.slmclassifier.rollout.AdapterStore;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import io.slmclassifier.train.ColourTask;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * One processor, one model in memory, three tasks with different labels (emotion, radr-intents and a colours task
 * this test writes), each on its own topics and control topic: every task's messages come back on its own output
 * with its labels; an adapter version published for one task changes only that task's results; an event on a
 * task's control topic that names another task is refused there.
 */
class MultiTaskEndToEndIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = KafkaTestCluster.withSchemaRegistry();

    /** Three texts per task, sent once on the base model and once more after the colours adapter is served. */
    private static final Map<String, List<String>> TEXTS = Map.of(
            "emotion", List.of("I feel wonderful today.", "This makes me so angry.", "I miss you terribly."),
            "radr-intents", List.of("RobLW an Zugführer, kommen.", "Ist negativ, noch nicht.", "Verstanden, Ende."),
            "colours", List.of("The sky is blue.", "A red apple.", "Green grass everywhere."));

    @Test
    void threeTasksOnOneModelEachWithItsOwnTopicsLabelsAndAdapterLineage(@TempDir Path dir) throws Exception {
        Path colours = Files.writeString(dir.resolve("colours.yaml"), ColourTask.YAML);
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", kafka.bootstrapServers());
        c.put("schema.registry.url", kafka.schemaRegistryUrl());
        c.put("application.id", "multi");
        c.put("tasks", Fixtures.task("emotion") + "," + Fixtures.task("radr-intents") + "," + colours);
        c.put("model.dir", Fixtures.model("qwen3-tiny").toString());
        c.put("device", "cpu");
        c.put("metrics.port", "0");
        c.put("state.dir", dir.resolve("streams").toString());
        c.put("adapter.cache.dir", dir.resolve("adapters").toString());
        c.put("topics.partitions", "1");
        c.put("batch.max.size", "8");
        ProcessorConfig config = ProcessorConfig.of(c);

        try (ProcessorService service = new ProcessorService(config)) {
            assertEquals(List.of("emotion", "radr-intents", "colours"),
                    service.pipelines().stream().map(TaskPipeline::name).toList());
            for (TaskPipeline pipeline : service.pipelines()) {
                assertEquals("multi-" + pipeline.name(), pipeline.config().get("application.id"));
                assertEquals(dir.resolve("adapters").resolve(pipeline.name()).toString(),
                        pipeline.config().get("adapter.cache.dir"));
            }
            service.start();

            // Each task's texts come back on its own output, with its labels, from the base model.
            Map<String, Map<String, Classification>> base = new HashMap<>();
            for (String task : TEXTS.keySet()) {
                base.put(task, roundTrip(task, "base"));
                for (Classification result : base.get(task).values()) {
                    assertEquals(task, result.getTask());
                    assertTrue(service.pipeline(task).classifier().task().labels().contains(result.getLabel()),
                            task + " answered with a label it does not have: " + result.getLabel());
                    assertEquals(service.pipeline(task).classifier().task().labels().size(),
                            result.getProbabilities().size());
                    assertNull(result.getAdapterVersion(), "the base model");
                }
            }

            // On emotion's control topic, an event for the colours task (from a writer that checks nothing: the
            // processor's own log of the topic refuses to write it): not emotion's lineage, so refused when read.
            TaskPipeline emotion = service.pipeline("emotion");
            TaskPipeline colourPipeline = service.pipeline("colours");
            byte[] archive = AdapterArchive.pack(Fixtures.RESOURCES.resolve("adapters").resolve("peft-r8"));
            try (ControlLog anyTask = new ControlLog(config.kafkaClient(), "emotion.control",
                    new ControlRecords(kafka.registryClient()))) {
                anyTask.publish(lineage(service, colourPipeline).activeEvent(1, archive, "not-fetched").build());
            }
            awaitTrue(() -> emotion.rollout().control().ignoredTotal() == 1, "emotion read the event");
            assertTrue(emotion.rollout().control().ignored().get(0).reason().contains("task 'colours'"),
                    emotion.rollout().control().ignored().toString());

            // The colours task's version 1, published on its own topics as the trainer does.
            colourPipeline.rollout().control().publish(lineage(service, colourPipeline)
                    .store(new AdapterStore("kafka", config.kafkaClient(), "colours.adapters", ""), 1, archive).build());
            awaitTrue(() -> colourPipeline.rollout().serving() == 1, "colours serves version 1");

            // The same texts again: only the colours task's results change.
            for (String task : TEXTS.keySet()) {
                Map<String, Classification> after = roundTrip(task, "after");
                double largest = 0;
                for (String text : TEXTS.get(task)) {
                    largest = Math.max(largest, maxDifference(base.get(task).get(text), after.get(text)));
                    Long version = after.get(text).getAdapterVersion();
                    assertEquals(task.equals("colours") ? Long.valueOf(1) : null, version, task + ": " + text);
                }
                System.out.printf("task %s: largest probability change after the colours adapter: %.3g%n", task, largest);
                if (task.equals("colours")) {
                    assertTrue(largest > 1e-3, "the adapter changes the colours results: " + largest);
                } else {
                    assertTrue(largest <= 1e-5, task + " changed with another task's adapter: " + largest);
                }
            }
            assertEquals(0, emotion.rollout().serving(), "emotion ignored the colours event");
            assertTrue(emotion.rollout().control().state().event(1).isEmpty(), "its lineage has no version 1");
            assertEquals(0, service.pipeline("radr-intents").rollout().serving());

            assertEquals(KafkaStreams.State.RUNNING, service.state());
            String metrics = new String(URI.create("http://127.0.0.1:" + service.operationsPort() + "/metrics").toURL()
                    .openStream().readAllBytes(), StandardCharsets.UTF_8);
            for (String task : TEXTS.keySet()) {
                assertTrue(metrics.contains("slm_records_out_total{task=\"" + task + "\"} 6.0"), metrics);
            }
            assertTrue(metrics.contains("slm_adapter_version{task=\"colours\"} 1.0"), metrics);
            assertTrue(metrics.contains("slm_adapter_version{task=\"emotion\"} -1.0"), metrics);
            var ready = (java.net.HttpURLConnection) URI.create("http://127.0.0.1:" + service.operationsPort()
                    + "/health/ready").toURL().openConnection();
            assertEquals(200, ready.getResponseCode());
        }
    }

    /** The lineage of {@code pipeline}'s task on the service's model, whose events the trainer would write. */
    private static AdapterLineage lineage(ProcessorService service, TaskPipeline pipeline) throws IOException {
        var model = service.classifier().model();
        return AdapterLineage.of(model.id(), model.dir(), pipeline.classifier().task());
    }

    /** Sends the task's texts keyed {@code <round>-<i>} to its input; returns its results of that round by text. */
    private static Map<String, Classification> roundTrip(String task, String round) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            List<String> texts = TEXTS.get(task);
            for (int i = 0; i < texts.size(); i++) {
                producer.send(new ProducerRecord<>(task + ".in", round + "-" + i, texts.get(i))).get();
            }
        }
        Map<String, Classification> results = new HashMap<>();
        var decoder = AvroSerde.forType(Classification.class, kafka.registryClient())
                .deserializer();
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime());
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(task + ".classified"));
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (results.size() < TEXTS.get(task).size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (new String(r.key(), StandardCharsets.UTF_8).startsWith(round + "-")) {
                        Classification result = decoder.deserialize(r.topic(), r.value());
                        results.put(result.getText(), result);
                    }
                }
            }
        }
        assertEquals(TEXTS.get(task).size(), results.size(), task + ": results of round " + round);
        return results;
    }

    private static double maxDifference(Classification before, Classification after) {
        double largest = 0;
        for (int k = 0; k < before.getProbabilities().size(); k++) {
            largest = Math.max(largest, Math.abs(before.getProbabilities().get(k).getProbability()
                    - after.getProbabilities().get(k).getProbability()));
        }
        return largest;
    }

    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertFalse(System.nanoTime() > deadline, "timed out waiting: " + what);
            Thread.sleep(100);
        }
    }
}
