package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.devkit.LocalKafkaBroker;
import io.slmclassifier.kafka.WireFormat;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.quality.Metrics;
import io.slmclassifier.rollout.AdapterArchive;
import io.slmclassifier.rollout.AdapterLineage;
import io.slmclassifier.rollout.AdapterStore;
import io.slmclassifier.train.ColourTask;
import io.slmclassifier.train.LabeledData;
import io.slmclassifier.train.LoraTrainer;
import io.slmclassifier.train.ModelEvaluation;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The processor against a real broker: N in, N out, read_committed, none lost or doubled, order per key kept. */
class ProcessorEndToEndIT {
    private static LocalKafkaBroker broker;
    private static EmbeddedSchemaRegistry registry;

    @BeforeAll
    static void startBroker() throws Exception {
        broker = LocalKafkaBroker.start();
        registry = EmbeddedSchemaRegistry.builder().kafka(broker.bootstrapServers()).start();
    }

    @AfterAll
    static void stopBroker() {
        registry.close();
        broker.close();
    }

    /** The broker of the class whose {@code @BeforeAll} called {@link #startBroker} (the crash test reuses these helpers). */
    static String bootstrapServers() {
        return broker.bootstrapServers();
    }

    /** Decodes a result the way a consumer of intents.classified does: wire format, schema from the registry. */
    static Classification decode(String topic, byte[] value) {
        return AvroSerde.forType(Classification.class, SchemaRegistryClient.builder(registry.url()).build())
                .deserializer().deserialize(topic, value);
    }

    static ProcessorConfig config(String app, Path stateDir) {
        return config(app, stateDir, Map.of());
    }

    static ProcessorConfig config(String app, Path stateDir, Map<String, String> settings) {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", broker.bootstrapServers());
        c.put("schema.registry.url", registry.url());
        c.put("application.id", app);
        c.put("input.topic", app + ".in");
        c.put("output.topic", app + ".classified");
        c.put("dlq.topic", app + ".dlq");
        c.put("model.dir", Fixtures.model("qwen3-tiny").toString());
        c.put("task.file", Fixtures.task("radr-intents").toString());
        c.put("device", "cpu");
        c.put("metrics.port", "0");
        c.put("state.dir", stateDir.toString());
        c.put("topics.partitions", "2");
        c.put("batch.max.size", "8");
        c.putAll(settings);
        return ProcessorConfig.of(c);
    }

    static List<ConsumerRecord<byte[], byte[]>> readCommitted(String topic, int expected, Duration timeout) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (out.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            // A little longer, to see duplicates if there were any.
            consumer.poll(Duration.ofMillis(500)).forEach(out::add);
        }
        return out;
    }

    /** Serializes TextMessage inputs the way a producer with the registry's serializer does. */
    static org.apache.kafka.common.serialization.Serializer<io.slmclassifier.avro.TextMessage> textMessages() {
        return AvroSerde.forType(io.slmclassifier.avro.TextMessage.class,
                SchemaRegistryClient.builder(registry.url()).build()).serializer();
    }

    static KafkaProducer<byte[], byte[]> rawProducer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    static void produce(String topic, int count, int keys) {
        try (KafkaProducer<byte[], byte[]> producer = rawProducer()) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(topic, ("key-" + (i % keys)).getBytes(StandardCharsets.UTF_8),
                        ("Meldung " + i + ": RobLW an Zugführer, kommen.").getBytes(StandardCharsets.UTF_8)));
            }
        }
    }

    @Test
    void everyRecordIsClassifiedExactlyOnceInOrderPerKey(@TempDir Path state) throws Exception {
        String app = "e2e";
        int n = 40;
        try (ProcessorService service = new ProcessorService(config(app, state))) {
            service.start();
            produce(app + ".in", n, 4);
            List<ConsumerRecord<byte[], byte[]>> results = readCommitted(app + ".classified", n, Duration.ofSeconds(60));
            assertEquals(n, results.size());
            Set<String> texts = new HashSet<>();
            Map<String, Integer> lastPerKey = new HashMap<>();
            for (ConsumerRecord<byte[], byte[]> r : results) {
                Classification c = decode(app + ".classified", r.value());
                assertTrue(texts.add(c.getText()), "duplicate " + c.getText());
                int index = Integer.parseInt(c.getText().split(" ")[1].replace(":", ""));
                String key = new String(r.key(), StandardCharsets.UTF_8);
                assertEquals("key-" + (index % 4), key);
                Integer previous = lastPerKey.put(key, index);
                assertTrue(previous == null || previous < index, "order per key: " + previous + " then " + index);
            }
            assertEquals(KafkaStreams.State.RUNNING, service.state());
            String metrics = new String(new java.net.URL("http://127.0.0.1:" + service.operationsPort() + "/metrics")
                    .openStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(metrics.contains("slm_records_out_total{task=\"radr-intents\"} 40.0"), metrics);
            // Micrometer's standard binders, under Micrometer's names: what the usual JVM and Kafka dashboards query.
            for (String series : List.of("jvm_memory_used_bytes{", "jvm_gc_", "jvm_threads_live_threads ",
                    "jvm_classes_loaded_classes ", "process_cpu_usage ", "process_uptime_seconds ",
                    "kafka_consumer_fetch_manager_records_lag_max{", "kafka_consumer_coordinator_rebalance_total{",
                    "kafka_stream_thread_commit_rate{", "kafka_stream_thread_thread_state{")) {
                assertTrue(metrics.contains("\n" + series), "no " + series + " series on /metrics:\n" + metrics);
            }
            // The shipped dashboard's processor panels query only series the processor exposes.
            var dashboard = new java.util.TreeSet<>(io.slmclassifier.ops.GrafanaDashboard.metricNames());
            dashboard.removeIf(name -> name.startsWith("slm_trainer_"));
            assertEquals(java.util.Set.of(), io.slmclassifier.ops.GrafanaDashboard.missing(dashboard, metrics),
                    "dashboard metrics missing on the processor's /metrics");
            var ready = (java.net.HttpURLConnection) new java.net.URL("http://127.0.0.1:" + service.operationsPort()
                    + "/health/ready").openConnection();
            assertEquals(200, ready.getResponseCode());
        }
    }

    @Test
    void theWarmUpPassesAndTheResultSchemaComeBeforeAnyRecord(@TempDir Path state) throws Exception {
        String app = "warm-up";
        List<String> passes = java.util.Collections.synchronizedList(new ArrayList<>());
        InferenceWorker.Listener recorder = (task, texts, nanos, failed) ->
                passes.add(Thread.currentThread().getName() + " " + task + " " + texts + (failed ? " failed" : ""));
        try (ProcessorService service = new ProcessorService(config(app, state,
                Map.of("warmup.batch.sizes", "2,1", "review.topic", app + ".review")),
                ProcessorService::registryWire, recorder)) {
            assertEquals(List.of(), passes, "no pass before start");
            service.start();
            // Three runs of each size, a pass each, on the thread the records' passes run on; done when start returns.
            String twoRows = "inference-worker radr-intents 2";
            String oneRow = "inference-worker radr-intents 1";
            assertEquals(List.of(twoRows, twoRows, twoRows, oneRow, oneRow, oneRow), passes);
            // The first result does not wait on the registry: its schema is there before any record. Nothing abstains
            // (no threshold), so nothing goes under the review topic's subject.
            List<String> subjects = SchemaRegistryClient.builder(registry.url()).build().subjects();
            assertTrue(subjects.contains(app + ".classified-value"), subjects.toString());
            assertFalse(subjects.contains(app + ".review-value"), subjects.toString());
        }
    }

    @Test
    void avroInputsAreReadThroughTheRegistryAndUnknownIdsAreDeadLettered(@TempDir Path state) throws Exception {
        String app = "avro-in";
        try (ProcessorService service = new ProcessorService(config(app, state))) {
            service.start();
            var serializer = textMessages();
            byte[] message = serializer.serialize(app + ".in", io.slmclassifier.avro.TextMessage.newBuilder()
                    .setId("request-42").setText("Ja, hier ist Zugführer, kommen.").build());
            byte[] unknownId = java.util.Arrays.copyOf(WireFormat.prefix(987654), 9);
            try (KafkaProducer<byte[], byte[]> producer = rawProducer()) {
                producer.send(new ProducerRecord<>(app + ".in", "a".getBytes(), message));
                producer.send(new ProducerRecord<>(app + ".in", "b".getBytes(), unknownId));
            }
            List<ConsumerRecord<byte[], byte[]>> results = readCommitted(app + ".classified", 1, Duration.ofSeconds(60));
            assertEquals(1, results.size());
            Classification c = decode(app + ".classified", results.get(0).value());
            assertEquals("request-42", c.getId());
            assertEquals("Ja, hier ist Zugführer, kommen.", c.getText());
            List<ConsumerRecord<byte[], byte[]>> dead = readCommitted(app + ".dlq", 1, Duration.ofSeconds(30));
            assertEquals(1, dead.size());
            assertEquals("unknown-schema-id", new String(dead.get(0).headers().lastHeader("slm.error.type").value()));
            assertTrue(java.util.Arrays.equals(unknownId, dead.get(0).value()), "the original bytes are kept");
        }
    }

    /**
     * Records that once stopped every partition of their stream thread (issue: an Avro length of 2 GiB, a 70,000
     * character id or header key, a 1 MB text whose changelog record outgrew the broker): each goes to the
     * dead-letter topic with its reason, or is classified truncated, and the record behind them is classified.
     */
    @Test
    void probabilitiesAreCalibratedAndUnsureResultsAlsoGoToReview(@TempDir Path state) throws Exception {
        String app = "calibrated";
        Map<String, String> c = new HashMap<>(config(app, state).asMap());
        c.put("calibration.temperature", "2.5");
        c.put("abstain.threshold", "0.9"); // a tiny model with random weights is never that sure: all abstain
        c.put("review.topic", app + ".review");
        try (ProcessorService service = new ProcessorService(ProcessorConfig.of(c))) {
            service.start();
            assertTrue(SchemaRegistryClient.builder(registry.url()).build().subjects().contains(app + ".review-value"),
                    "results can abstain: the review topic's subject is resolved at the start too");
            try (KafkaProducer<byte[], byte[]> producer = rawProducer()) {
                for (String text : List.of("RobLW an Zugführer, kommen.", "Ist negativ, noch nicht.")) {
                    producer.send(new ProducerRecord<>(app + ".in", text.getBytes(StandardCharsets.UTF_8))).get();
                }
            }
            List<ConsumerRecord<byte[], byte[]>> results = readCommitted(app + ".classified", 2, Duration.ofSeconds(90));
            assertEquals(2, results.size());
            for (ConsumerRecord<byte[], byte[]> r : results) {
                Classification result = decode(app + ".classified", r.value());
                assertEquals(2.5, result.getCalibrationTemperature());
                double[] expected = softmax(result.getLogits(), 2.5);
                for (int k = 0; k < expected.length; k++) {
                    assertEquals(expected[k], result.getProbabilities().get(k).getProbability(), 1e-12);
                }
                assertEquals(expected[result.getLabelIndex()], result.getConfidence(), 1e-12);
                assertTrue(result.getConfidence() < 0.9, "unsure: " + result.getConfidence());
                assertTrue(result.getAbstained());
            }
            List<ConsumerRecord<byte[], byte[]>> review = readCommitted(app + ".review", 2, Duration.ofSeconds(30));
            assertEquals(results.stream().map(r -> decode(app + ".classified", r.value()).getId()).sorted().toList(),
                    review.stream().map(r -> decode(app + ".review", r.value()).getId()).sorted().toList());
            assertTrue(service.metrics().scrape().contains("slm_records_abstained_total"), "counted per label");
        }
    }

    @Test
    void theTemperatureInAnAdaptersArchiveIsAppliedToItsResults(@TempDir Path state) throws Exception {
        String app = "archived-temperature";
        ProcessorConfig config = withAdapterTopics(config(app, state.resolve("streams")), app);
        try (ProcessorService service = new ProcessorService(config)) {
            service.start();
            var model = service.classifier().model();
            Path dir = state.resolve("adapter");
            try (var adapter = io.slmclassifier.model.LoraAdapter.initialize(io.slmclassifier.model.LoraConfig.defaults(model.id()),
                    model.weights().config, model.manager(), 7)) {
                adapter.save(dir);
            }
            java.nio.file.Files.writeString(dir.resolve("calibration.json"), "{\"temperature\": 3.0}");
            publishAdapter(service, config, app, dir);
            try (KafkaProducer<byte[], byte[]> producer = rawProducer()) {
                producer.send(new ProducerRecord<>(app + ".in", "Ist negativ.".getBytes(StandardCharsets.UTF_8))).get();
            }
            Classification result = decode(app + ".classified",
                    readCommitted(app + ".classified", 1, Duration.ofSeconds(60)).get(0).value());
            assertEquals(1L, result.getAdapterVersion());
            assertEquals(3.0, result.getCalibrationTemperature());
            double[] expected = softmax(result.getLogits(), 3.0);
            for (int k = 0; k < expected.length; k++) {
                assertEquals(expected[k], result.getProbabilities().get(k).getProbability(), 1e-12);
            }
        }
    }

    /**
     * An adapter trained to over-confidence (LoRA on clean colour labels, then asked about texts whose labels are 30%
     * random, as people's labels sometimes are): its temperature, fitted on one such set, halves the calibration
     * error on another, and does so in the stream once the archive carrying it is rolled out.
     */
    @Test
    void anOverConfidentAdaptersTemperatureHalvesHeldOutEceInTheStream(@TempDir Path state) throws Exception {
        String app = "over-confident";
        Path taskFile = java.nio.file.Files.writeString(state.resolve("colours.yaml"), ColourTask.YAML);
        Map<String, String> c = new HashMap<>(config(app, state.resolve("streams")).asMap());
        c.put("task.file", taskFile.toString());
        c.put("batch.max.size", "32");
        ProcessorConfig config = withAdapterTopics(ProcessorConfig.of(c), app);
        Task task = Task.load(taskFile);
        List<LabeledData.Example> calibration = noisy(ColourTask.sentences(300, 3), 0.3, 30);
        List<LabeledData.Example> heldOut = noisy(ColourTask.sentences(300, 4), 0.3, 40);
        Path dir = state.resolve("adapter");
        double temperature;
        double before;
        double after;
        try (LanguageModel model = LanguageModel.load(Fixtures.model("qwen3-tiny"), TorchRuntime.device("cpu"), null);
                LoraAdapter adapter = LoraAdapter.initialize(new LoraConfig(8, 16, 0.05, List.of("q_proj", "k_proj",
                        "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), false, model.id()),
                        model.weights().config, model.manager(), 42);
                LoraTrainer trainer = new LoraTrainer(model, task, adapter,
                        new LoraTrainer.Settings(2, 1e-2, 8, 0, 0.0, 1.0, 0, 42))) {
            LoraTrainer.Result trained = trainer.train(ColourTask.sentences(240, 1), ColourTask.sentences(60, 2), dir,
                    new LoraTrainer.Progress() {
                        @Override
                        public void step(int step, int totalSteps, double loss, double examplesPerSecond) {}

                        @Override
                        public void evaluated(int step, Metrics metrics, boolean best) {}
                    });
            assertTrue(trained.best().accuracy() > 0.9, "learned the clean labels: " + trained.best().accuracy());
            try (LoraAdapter best = LoraAdapter.load(dir, model.weights().config, model.manager())) {
                ModelEvaluation.Outcome fit = ModelEvaluation.classify(model, task, best, calibration, 32);
                Calibration.Report report = fit.calibration();
                temperature = report.scaled().temperature();
                // What the trainer writes beside the weights: the processor reads it when it loads them.
                new com.fasterxml.jackson.databind.ObjectMapper().writeValue(dir.resolve("calibration.json").toFile(),
                        report.summary(calibration.size()));
                ModelEvaluation.Outcome held = ModelEvaluation.classify(model, task, best, heldOut, 32);
                before = Calibration.measure(held.logits(), held.truth(), 1).ece();
                after = Calibration.measure(held.logits(), held.truth(), temperature).ece();
            }
        }
        System.out.printf("over-confident adapter: T %.3f fitted on 300 noisy examples, held-out ECE %.4f before, %.4f after%n",
                temperature, before, after);
        assertTrue(temperature > 1 && Calibration.fittedInside(temperature), "over-confident: T " + temperature);
        assertTrue(before > 0.1 && after <= before / 2, "held-out ECE " + before + " before, " + after + " after");

        try (ProcessorService service = new ProcessorService(config)) {
            service.start();
            publishAdapter(service, config, app, dir);
            try (KafkaProducer<byte[], byte[]> producer = rawProducer()) {
                for (int i = 0; i < heldOut.size(); i++) {
                    producer.send(new ProducerRecord<>(app + ".in", ("held-" + i).getBytes(StandardCharsets.UTF_8),
                            heldOut.get(i).text().getBytes(StandardCharsets.UTF_8)));
                }
            }
            Map<String, Classification> byText = new HashMap<>();
            for (ConsumerRecord<byte[], byte[]> r : readCommitted(app + ".classified", heldOut.size(), Duration.ofSeconds(120))) {
                Classification result = decode(app + ".classified", r.value());
                byText.put(result.getText(), result);
            }
            float[][] streamed = new float[heldOut.size()][];
            int[] truth = new int[heldOut.size()];
            double[] confidence = new double[heldOut.size()];
            boolean[] right = new boolean[heldOut.size()];
            for (int i = 0; i < heldOut.size(); i++) {
                Classification result = byText.get(heldOut.get(i).text());
                assertEquals(1L, result.getAdapterVersion());
                assertEquals(temperature, result.getCalibrationTemperature(), 0, "the archive's T, as written");
                streamed[i] = new float[result.getLogits().size()];
                for (int k = 0; k < streamed[i].length; k++) {
                    streamed[i][k] = result.getLogits().get(k).floatValue();
                }
                truth[i] = heldOut.get(i).label();
                confidence[i] = result.getConfidence();
                right[i] = result.getLabelIndex() == truth[i];
            }
            // The stream's probabilities are the calibrated ones: their ECE on the held-out labels is the one measured
            // above at T, and at most half of what the same logits give uncalibrated.
            double streamedAfter = Calibration.ece(confidence, right);
            assertEquals(Calibration.measure(streamed, truth, temperature).ece(), streamedAfter, 1e-9);
            assertTrue(streamedAfter <= Calibration.measure(streamed, truth, 1).ece() / 2,
                    "in the stream: ECE " + streamedAfter + " against " + Calibration.measure(streamed, truth, 1).ece());
        }
    }

    /** {@code share} of the examples get a label drawn at random (which may be the right one). */
    private static List<LabeledData.Example> noisy(List<LabeledData.Example> clean, double share, long seed) {
        java.util.Random random = new java.util.Random(seed);
        return clean.stream().map(e -> random.nextDouble() < share
                ? new LabeledData.Example(e.text(), random.nextInt(ColourTask.LABELS.size())) : e).toList();
    }

    private static ProcessorConfig withAdapterTopics(ProcessorConfig config, String app) {
        Map<String, String> c = new HashMap<>(config.asMap());
        c.put("control.topic", app + ".control");
        c.put("adapters.topic", app + ".adapters");
        return ProcessorConfig.of(c);
    }

    /**
     * The adapter in {@code dir} as the trainer publishes it: PEFT files (and calibration.json) in one archive, chunks on
     * the adapters topic, an ACTIVE event for version 1 on the control topic; returns once the processor serves it.
     */
    private static void publishAdapter(ProcessorService service, ProcessorConfig config, String app, Path dir)
            throws Exception {
        var model = service.classifier().model();
        AdapterStore store = new AdapterStore("kafka", config.kafkaClient(), app + ".adapters", "");
        service.rollout().control().publish(AdapterLineage.of(model.id(), model.dir(), service.classifier().task())
                .store(store, 1, AdapterArchive.pack(dir)).build());
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (service.rollout().serving() != 1 && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertEquals(1, service.rollout().serving());
    }

    private static double[] softmax(List<Double> logits, double temperature) {
        double max = logits.stream().mapToDouble(l -> l / temperature).max().orElseThrow();
        double[] p = logits.stream().mapToDouble(l -> Math.exp(l / temperature - max)).toArray();
        double sum = java.util.Arrays.stream(p).sum();
        return java.util.Arrays.stream(p).map(v -> v / sum).toArray();
    }

    @Test
    void poisonRecordsAreDeadLetteredAndTheRecordsBehindThemFlow(@TempDir Path state) throws Exception {
        String app = "poison";
        try (ProcessorService service = new ProcessorService(config(app, state))) {
            service.start();
            var serializer = textMessages();
            byte[] valid = serializer.serialize(app + ".in", io.slmclassifier.avro.TextMessage.newBuilder()
                    .setId("ok").setText("Ist negativ, noch nicht.").build());
            byte[] hugeLength = java.util.Arrays.copyOf(valid, 11); // magic byte, schema id, then a 2 GiB length
            System.arraycopy(new byte[] {(byte) 0xfe, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 0x61}, 0, hugeLength, 5, 6);
            byte[] longId = serializer.serialize(app + ".in", io.slmclassifier.avro.TextMessage.newBuilder()
                    .setId("i".repeat(70_000)).setText("Ja, hier ist Zugführer, kommen.").build());
            byte[] bigText = ("Lagebild " + "x".repeat(1_040_000 - 9)).getBytes(StandardCharsets.UTF_8);
            try (KafkaProducer<byte[], byte[]> producer = rawProducer()) {
                byte[] key = "same-partition".getBytes(StandardCharsets.UTF_8);
                producer.send(new ProducerRecord<>(app + ".in", key, hugeLength));
                producer.send(new ProducerRecord<>(app + ".in", key, longId));
                ProducerRecord<byte[], byte[]> longHeader = new ProducerRecord<>(app + ".in", key,
                        "Einen Augenblick.".getBytes(StandardCharsets.UTF_8));
                longHeader.headers().add("h".repeat(70_000), new byte[] {1});
                producer.send(longHeader);
                producer.send(new ProducerRecord<>(app + ".in", key, bigText));
                producer.send(new ProducerRecord<>(app + ".in", key, valid)).get();
            }
            List<ConsumerRecord<byte[], byte[]>> results = readCommitted(app + ".classified", 2, Duration.ofSeconds(90));
            assertEquals(2, results.size(), "the long text (truncated) and the record behind the poison");
            Classification truncated = decode(app + ".classified", results.get(0).value());
            assertTrue(truncated.getTruncated());
            assertEquals(10_000, truncated.getText().length());
            assertEquals("ok", decode(app + ".classified", results.get(1).value()).getId());
            List<ConsumerRecord<byte[], byte[]>> dead = readCommitted(app + ".dlq", 3, Duration.ofSeconds(30));
            assertEquals(List.of("undecodable", "id-too-long", "headers-too-large"), dead.stream()
                    .map(r -> new String(r.headers().lastHeader("slm.error.type").value(), StandardCharsets.UTF_8)).toList());
            assertTrue(java.util.Arrays.equals(hugeLength, dead.get(0).value()), "the original bytes are kept");
            assertEquals(KafkaStreams.State.RUNNING, service.state());
            var ready = (java.net.HttpURLConnection) new java.net.URL("http://127.0.0.1:" + service.operationsPort()
                    + "/health/ready").openConnection();
            assertEquals(200, ready.getResponseCode());
            assertTrue(service.streamThreadsSteady());
        }
    }
}
