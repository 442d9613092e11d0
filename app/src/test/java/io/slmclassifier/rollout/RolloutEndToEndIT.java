package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvaluation;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.devkit.LocalKafkaBroker;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.rollout.EvaluationRecords;
import io.slmclassifier.quality.Metrics;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.stream.ProcessorService;
import io.slmclassifier.train.ColourTask;
import io.slmclassifier.train.LabeledData;
import io.slmclassifier.train.TrainerConfig;
import io.slmclassifier.train.TrainerService;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole loop against a real broker with a tiny random model: traffic is classified at about chance; labeled
 * feedback arrives; the trainer trains, passes the gate and publishes; the processor swaps without losing or
 * doubling a record and the live macro-F1 on held-out traffic reaches 0.9; a rollback brings the base model
 * back; a corrupt adapter is refused with an error event while the old one keeps serving; a pin survives a
 * processor restart.
 */
class RolloutEndToEndIT {
    private static LocalKafkaBroker broker;
    private static EmbeddedSchemaRegistry registry;

    @BeforeAll
    static void start() throws Exception {
        broker = LocalKafkaBroker.start();
        registry = EmbeddedSchemaRegistry.builder().kafka(broker.bootstrapServers()).start();
    }

    @AfterAll
    static void stop() {
        registry.close();
        broker.close();
    }

    /** Shared by the trainer, the processor and the operator's commands below; forged records lack it. */
    private static final String SIGNING_KEY = "test-signing-key-of-at-least-32-characters";

    private static ProcessorConfig processorConfig(Path dir, Path taskFile) {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", broker.bootstrapServers());
        c.put("schema.registry.url", registry.url());
        c.put("application.id", "loop");
        c.put("input.topic", "loop.in");
        c.put("output.topic", "loop.classified");
        c.put("dlq.topic", "loop.dlq");
        c.put("control.topic", "loop.control");
        c.put("adapters.topic", "loop.adapters");
        c.put("model.dir", Fixtures.model("qwen3-tiny").toString());
        c.put("task.file", taskFile.toString());
        c.put("device", "cpu");
        c.put("metrics.port", "-1");
        c.put("state.dir", dir.resolve("state").toString());
        c.put("adapter.cache.dir", dir.resolve("adapters").toString());
        c.put("instance.id", "processor-0");
        c.put("topics.partitions", "2");
        c.put("batch.max.size", "16");
        c.put("control.signing.key", SIGNING_KEY);
        return ProcessorConfig.of(c);
    }

    private static TrainerConfig trainerConfig(Path dir, Path taskFile) {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", broker.bootstrapServers());
        c.put("schema.registry.url", registry.url());
        c.put("feedback.topics", "loop.feedback");
        c.put("dataset.topic", "loop.dataset");
        c.put("control.topic", "loop.control");
        c.put("adapters.topic", "loop.adapters");
        c.put("dlq.topic", "loop.dlq");
        c.put("model.dir", Fixtures.model("qwen3-tiny").toString());
        c.put("task.file", taskFile.toString());
        c.put("device", "cpu");
        c.put("work.dir", dir.resolve("trainer").toString());
        c.put("metrics.port", "0");
        c.put("trigger.examples", "300");
        c.put("train.epochs", "4");
        c.put("train.learning.rate", "1e-2");
        c.put("train.warmup.steps", "5");
        c.put("train.seed", "7");
        c.put("lora.r", "8");
        c.put("lora.alpha", "16");
        c.put("lora.dropout", "0");
        c.put("gate.min.improvement", "0.05");
        c.put("control.signing.key", SIGNING_KEY);
        return TrainerConfig.of(c);
    }

    @Test
    void feedbackTrainsAnAdapterThatIsRolledOutRolledBackAndPinned(@TempDir Path dir) throws Exception {
        Path taskFile = Files.writeString(dir.resolve("colours.yaml"), ColourTask.YAML);
        List<LabeledData.Example> heldOut = ColourTask.sentences(90, 3);
        SchemaRegistryClient registryClient = SchemaRegistryClient.builder(registry.url()).build();
        AvroSerde<Classification> results = AvroSerde.forType(Classification.class, registryClient);
        AtomicReference<ProcessorService> processor = new AtomicReference<>(new ProcessorService(processorConfig(dir, taskFile)));
        try (TrainerService trainer = new TrainerService(trainerConfig(dir, taskFile));
                KafkaProducer<byte[], byte[]> producer = producer();
                KafkaConsumer<byte[], byte[]> output = consumer("loop.classified");
                ControlLog control = new ControlLog(clientSettings(), "loop.control", new ControlRecords(registryClient),
                        ControlSignature.of(SIGNING_KEY));
                ControlLog forger = new ControlLog(clientSettings(), "loop.control", new ControlRecords(registryClient))) {
            processor.get().start();
            trainer.start();
            Map<String, Classification> seen = new HashMap<>();
            List<String> duplicates = new ArrayList<>();

            // 1. Before any feedback: the base model, at about chance.
            send(producer, "before", heldOut);
            Metrics before = macroF1(collect(output, results, seen, duplicates, "before-", heldOut.size()), heldOut, null);
            assertTrue(before.macroF1() < 0.6, "chance before training: " + before.macroF1());

            // 2. Labeled feedback (and one with a label the task does not have), while traffic keeps flowing.
            AtomicBoolean flowing = new AtomicBoolean(true);
            AtomicInteger sent = new AtomicInteger();
            Thread traffic = new Thread(() -> {
                List<LabeledData.Example> texts = ColourTask.sentences(2000, 9);
                while (flowing.get() && sent.get() < texts.size()) {
                    int i = sent.getAndIncrement();
                    producer.send(new ProducerRecord<>("loop.in", ("traffic-" + i).getBytes(StandardCharsets.UTF_8),
                            texts.get(i).text().getBytes(StandardCharsets.UTF_8)));
                    sleep(40);
                }
            });
            traffic.start();
            AvroSerde<LabeledExample> feedback = AvroSerde.forType(LabeledExample.class, registryClient);
            List<LabeledData.Example> labeled = ColourTask.sentences(300, 1);
            for (int i = 0; i < labeled.size(); i++) {
                LabeledData.Example e = labeled.get(i);
                producer.send(new ProducerRecord<>("loop.feedback", feedback.serializer().serialize("loop.feedback",
                        LabeledExample.newBuilder().setId("example-" + i).setText(e.text())
                                .setLabel(ColourTask.LABELS.get(e.label())).setSource("test")
                                .setLabeledAt(Instant.now()).build())));
            }
            producer.send(new ProducerRecord<>("loop.feedback", feedback.serializer().serialize("loop.feedback",
                    LabeledExample.newBuilder().setId("bad").setText("a purple house").setLabel("purple")
                            .setSource("test").setLabeledAt(Instant.now()).build())));
            producer.flush();

            // 3. The trainer publishes version 1; the processor swaps to it while traffic flows.
            Eventually.awaitTrue(() -> processor.get().rollout().serving() == 1, Duration.ofMinutes(4), "processor serves version 1");
            sleep(500);
            flowing.set(false);
            traffic.join();
            control.catchUp(Duration.ofSeconds(10));
            AdapterEvent v1 = control.state().event(1).orElseThrow();
            assertEquals(AdapterStatus.ACTIVE, v1.getStatus());
            assertTrue(v1.getMetrics().get("macro_f1") >= v1.getMetrics().get("serving_macro_f1") + 0.05, v1.toString());
            // Calibration of the candidate on the validation split, with the temperature fitted there.
            assertTrue(v1.getMetrics().get("ece") >= 0 && v1.getMetrics().get("ece") <= 1, v1.toString());
            assertTrue(v1.getMetrics().get("nll") > 0 && v1.getMetrics().get("brier") >= 0, v1.toString());
            // A fit that ends at a bound (every validation example right, as is likely here) publishes no temperature.
            Double temperature = v1.getMetrics().get("temperature");
            assertTrue(temperature == null || temperature > Calibration.MIN_TEMPERATURE && temperature < Calibration.MAX_TEMPERATURE,
                    v1.toString());
            // The evaluation behind those figures, published for the console to draw.
            AdapterEvaluation evaluation = v1.getEvaluation();
            assertNotNull(evaluation, "the trainer's event carries its evaluation");
            assertEquals(ColourTask.LABELS, evaluation.getLabels());
            assertEquals(v1.getMetrics().get("validation_examples").intValue(), evaluation.getExamples());
            assertEquals(evaluation.getExamples(), evaluation.getConfusion().stream().flatMap(List::stream)
                    .mapToInt(Integer::intValue).sum(), "the confusion matrix counts every validation example");
            assertEquals(Calibration.BINS, evaluation.getReliability().size());
            assertEquals(v1.getMetrics().get("ece"), EvaluationRecords.fromAvro(evaluation).calibration().reported().ece(), 1e-9);
            assertEquals(1.0, evaluation.getCoverage().get(evaluation.getCoverage().size() - 1).getCoverage(), 1e-12);
            assertEquals(temperature, evaluation.getTemperature());
            assertEquals(temperature == null, evaluation.getReliabilityCalibrated().isEmpty());

            // 4. Held-out traffic through the new version: macro-F1 of the live output at least 0.9.
            send(producer, "after", heldOut);
            List<Classification> served = collect(output, results, seen, duplicates, "after-", heldOut.size());
            // The version's temperature, where it has one, is what the processor applied.
            served.forEach(c -> assertEquals(temperature, c.getCalibrationTemperature()));
            Metrics after = macroF1(served, heldOut, 1L);
            assertTrue(after.macroF1() >= 0.9, "live macro-F1 after the swap: " + after.macroF1());

            // Across the swap, every traffic record came out exactly once, first from the base and later from v1.
            List<Classification> flowed = collect(output, results, seen, duplicates, "traffic-", sent.get());
            assertEquals(sent.get(), flowed.size(), "traffic records lost");
            assertTrue(duplicates.isEmpty(), "doubled: " + duplicates);
            // Refused and retired versions left the disk: the cache holds the served version only.
            try (var cached = Files.list(dir.resolve("adapters"))) {
                List<String> names = cached.map(p -> p.getFileName().toString())
                        .filter(n -> !n.equals(ControlLog.JOURNAL_FILE) && !n.equals(AdapterRollout.LAST_SERVED)).toList();
                assertFalse(names.isEmpty());
                assertTrue(names.stream().allMatch(n -> n.startsWith("1-")), names.toString());
            }
            assertTrue(flowed.stream().anyMatch(c -> c.getAdapterVersion() == null), "some traffic before the swap");
            assertTrue(flowed.stream().anyMatch(c -> Long.valueOf(1).equals(c.getAdapterVersion())), "traffic after it");

            // 5. Rollback: the base model serves again within a few batches.
            control.command(AdapterCommandType.ROLLBACK, null, "test");
            Eventually.awaitTrue(() -> processor.get().rollout().serving() == 0, Duration.ofSeconds(30), "rolled back to the base model");
            send(producer, "rolled-back", heldOut.subList(0, 8));
            collect(output, results, seen, duplicates, "rolled-back-", 8)
                    .forEach(c -> assertNull(c.getAdapterVersion(), "served by the base after the rollback"));
            // The rollback holds the lineage until an operator resumes (UNPIN); version 1 stays rolled back.
            assertTrue(state(control).hold().isPresent(), "held after the rollback");
            control.command(AdapterCommandType.UNPIN, null, "test");
            Eventually.awaitTrue(() -> state(control).hold().isEmpty(), Duration.ofSeconds(30), "resumed");
            assertEquals(0, processor.get().rollout().serving(), "nothing newer than the rolled-back version 1 to serve");

            // 6. A corrupt adapter is refused with an ERROR event; the serving model stays.
            control.publish(AdapterEvent.newBuilder(v1).setVersion(2).setParentVersion(1L)
                    .setSha256("0".repeat(64)).setCreatedAt(Instant.now()).build());
            Eventually.awaitTrue(() -> !state(control).errors(2).isEmpty(), Duration.ofSeconds(30), "an error event for version 2");
            assertTrue(state(control).errors(2).get("processor-0").contains("corrupt"), state(control).errors(2).toString());
            assertEquals(0, processor.get().rollout().serving());
            send(producer, "refused", heldOut.subList(0, 4));
            collect(output, results, seen, duplicates, "refused-", 4).forEach(c -> assertNull(c.getAdapterVersion()));

            // 6b. A forged event whose sha names a path outside the cache is refused before anything is read.
            control.publish(AdapterEvent.newBuilder(v1).setVersion(3).setParentVersion(1L)
                    .setSha256(v1.getSha256() + "/../../../../tmp/forged").setCreatedAt(Instant.now()).build());
            Eventually.awaitTrue(() -> !state(control).errors(3).isEmpty(), Duration.ofSeconds(30), "an error event for version 3");
            assertTrue(state(control).errors(3).get("processor-0").contains("not 64 hex digits"),
                    state(control).errors(3).toString());
            assertEquals(0, processor.get().rollout().serving());

            // 6c. A signed event naming a location outside the configured store (the adapters topic) is refused
            // before anything is read, and the control-log thread goes on: the next command still applies.
            String[] outside = {"file:///dev/zero", "http://127.0.0.1:1/adapter.zip", "kafka:another.topic/0/0"};
            for (int i = 0; i < outside.length; i++) {
                String location = outside[i];
                long version = 10 + i; // each newer than the last, so each is the one the log asks for
                control.publish(AdapterEvent.newBuilder(v1).setVersion(version).setParentVersion(1L)
                        .setLocation(location).setCreatedAt(Instant.now()).build());
                Eventually.awaitTrue(() -> !state(control).errors(version).isEmpty(), Duration.ofSeconds(30),
                        "an error event for " + location);
                assertTrue(state(control).errors(version).get("processor-0").contains("not inside"),
                        state(control).errors(version).toString());
            }
            assertEquals(0, processor.get().rollout().serving());

            // 6d. Commands and events without a valid signature are ignored: a forged pin changes nothing.
            forger.publish(io.slmclassifier.avro.AdapterCommand.newBuilder().setCommand(AdapterCommandType.PIN).setVersion(1L)
                    .setRequestedBy("forger").setRequestedAt(Instant.now()).build());
            forger.publish(AdapterEvent.newBuilder(v1).setVersion(40).setParentVersion(1L).setCreatedAt(Instant.now()).build());
            send(producer, "forged", heldOut.subList(0, 4));
            collect(output, results, seen, duplicates, "forged-", 4).forEach(c -> assertNull(c.getAdapterVersion()));
            sleep(2000); // the follower polls every 200 ms: ample time to have read (and dropped) both records
            assertEquals(0, processor.get().rollout().serving(), "the forged pin was ignored");

            // 7. Pin version 1, then restart the processor: it serves version 1 again before it consumes anything.
            control.command(AdapterCommandType.PIN, 1L, "test");
            Eventually.awaitTrue(() -> processor.get().rollout().serving() == 1, Duration.ofSeconds(30), "pinned version 1");
            processor.get().close();
            processor.set(new ProcessorService(processorConfig(dir, taskFile)));
            processor.get().start();
            assertEquals(1, processor.get().rollout().serving(), "a restarted processor serves the pinned version at once");
            send(producer, "restarted", heldOut.subList(0, 4));
            collect(output, results, seen, duplicates, "restarted-", 4)
                    .forEach(c -> assertEquals(1L, c.getAdapterVersion()));
            assertTrue(duplicates.isEmpty(), "doubled: " + duplicates);

            // The feedback record with an unknown label went to the dead-letter topic with its reason.
            try (KafkaConsumer<byte[], byte[]> dlq = consumer("loop.dlq")) {
                List<ConsumerRecord<byte[], byte[]>> dead = poll(dlq, 1, Duration.ofSeconds(20));
                assertEquals(1, dead.size());
                assertEquals("invalid-feedback", new String(dead.get(0).headers().lastHeader("slm.error.type").value()));
            }
            assertEquals(300, trainer.dataset().size());
            String metrics = new String(new java.net.URL("http://127.0.0.1:" + trainer.operationsPort() + "/metrics")
                    .openStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(metrics.contains("slm_trainer_dataset_examples 300.0"), metrics);
            assertTrue(metrics.contains("slm_trainer_feedback_total{outcome=\"dead_lettered\"} 1.0"), metrics);

            // What an operator sees with `adapter list`.
            java.io.ByteArrayOutputStream listing = new java.io.ByteArrayOutputStream();
            java.io.PrintStream stdout = System.out;
            int code;
            try {
                System.setOut(new java.io.PrintStream(listing, true, StandardCharsets.UTF_8));
                code = io.slmclassifier.cli.Main.run("adapter", "list", "--set", "bootstrap.servers=" + broker.bootstrapServers(),
                        "--set", "schema.registry.url=" + registry.url(), "--set", "control.topic=loop.control");
            } finally {
                System.setOut(stdout);
            }
            String listed = listing.toString(StandardCharsets.UTF_8);
            assertEquals(0, code, listed);
            assertTrue(listed.contains("serving: version 1 (pinned)"), listed);
            assertTrue(listed.lines().anyMatch(l -> l.startsWith("1 ") && l.contains("serving")), listed);
            assertTrue(listed.lines().findFirst().orElse("").contains(" ECE "), listed);
            double servedEce = v1.getMetrics().getOrDefault("ece_calibrated", v1.getMetrics().get("ece"));
            assertTrue(listed.lines().anyMatch(l -> l.startsWith("1 ") && l.contains(String.format(" %.4f ", servedEce))),
                    "version 1 with its ECE as served: " + listed);
            assertTrue(listed.contains("error on processor-0"), listed);
        } finally {
            processor.get().close();
        }
    }

    private static ControlState state(ControlLog control) {
        try (ControlLog fresh = new ControlLog(clientSettings(), control.topic(),
                new ControlRecords(SchemaRegistryClient.builder(registry.url()).build()))) {
            fresh.catchUp(Duration.ofSeconds(10));
            return fresh.state();
        }
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, String prefix, List<LabeledData.Example> texts) {
        for (int i = 0; i < texts.size(); i++) {
            producer.send(new ProducerRecord<>("loop.in", (prefix + "-" + i).getBytes(StandardCharsets.UTF_8),
                    texts.get(i).text().getBytes(StandardCharsets.UTF_8)));
        }
        producer.flush();
    }

    /** Reads results until {@code count} with keys starting with {@code prefix} are in; records every key seen. */
    private static List<Classification> collect(KafkaConsumer<byte[], byte[]> output, AvroSerde<Classification> serde,
            Map<String, Classification> seen, List<String> duplicates, String prefix, int count) {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (seen.keySet().stream().filter(k -> k.startsWith(prefix)).count() < count && System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : output.poll(Duration.ofMillis(200))) {
                String key = new String(r.key(), StandardCharsets.UTF_8);
                if (seen.put(key, serde.deserializer().deserialize(r.topic(), r.value())) != null) {
                    duplicates.add(key);
                }
            }
        }
        List<Classification> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Classification c = seen.get(prefix + i);
            if (c != null) {
                out.add(c);
            }
        }
        return out;
    }

    private static Metrics macroF1(List<Classification> results, List<LabeledData.Example> truth, Long version) {
        assertEquals(truth.size(), results.size());
        int[] expected = new int[truth.size()];
        int[] predicted = new int[truth.size()];
        for (int i = 0; i < truth.size(); i++) {
            expected[i] = truth.get(i).label();
            predicted[i] = results.get(i).getLabelIndex();
            assertEquals(version, results.get(i).getAdapterVersion());
        }
        return Metrics.of(ColourTask.LABELS, expected, predicted);
    }


    private static Properties clientSettings() {
        Properties p = new Properties();
        p.put("bootstrap.servers", broker.bootstrapServers());
        return p;
    }

    private static KafkaProducer<byte[], byte[]> producer() {
        Properties p = clientSettings();
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static KafkaConsumer<byte[], byte[]> consumer(String topic) {
        Properties p = clientSettings();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "check-" + topic + "-" + System.nanoTime());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.subscribe(List.of(topic));
        return consumer;
    }

    private static List<ConsumerRecord<byte[], byte[]>> poll(KafkaConsumer<byte[], byte[]> consumer, int count, Duration timeout) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (out.size() < count && System.nanoTime() < deadline) {
            consumer.poll(Duration.ofMillis(200)).forEach(out::add);
        }
        return out;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
