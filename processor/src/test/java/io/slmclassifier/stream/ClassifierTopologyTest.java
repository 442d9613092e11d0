package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The topology with the real classifier on the tiny model, driven by Kafka Streams' test driver. */
class ClassifierTopologyTest {
    private static LanguageModel model;
    private static Classifier classifier;
    private static Task task;

    @BeforeAll
    static void load() throws Exception {
        model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null);
        task = Task.load(Fixtures.task("radr-intents"));
        classifier = new Classifier(model, task, Classifier.Options.defaults());
    }

    @AfterAll
    static void close() {
        classifier.close();
        model.close();
    }

    /** Plain Avro binary: the registry wire format is the serde's business, not the topology's. */
    static final class RawAvro implements Serializer<Classification> {
        @Override
        public byte[] serialize(String topic, Classification data) {
            try {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
                new SpecificDatumWriter<>(Classification.class).write(data, encoder);
                encoder.flush();
                return out.toByteArray();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    static Classification decode(byte[] bytes) throws IOException {
        return new SpecificDatumReader<>(Classification.class).read(null, DecoderFactory.get().binaryDecoder(bytes, null));
    }

    /** Batches run on the worker thread: advance the wall clock until their results are emitted. */
    private static void drain(TopologyTestDriver driver, TestOutputTopic<?, ?> topic, int expected) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (topic.getQueueSize() < expected && System.nanoTime() < deadline) {
            driver.advanceWallClockTime(Duration.ofMillis(20));
            Thread.sleep(5);
        }
    }

    private TopologyTestDriver driver(InferenceWorker worker, int maxBatch, boolean truncate, AtomicInteger batches) {
        return driver(worker, maxBatch, truncate, batches, 0, 0, new ArrayList<>());
    }

    /** @param abstained collects the labels the listener is told abstained */
    private TopologyTestDriver driver(InferenceWorker worker, int maxBatch, boolean truncate, AtomicInteger batches,
            double abstainThreshold, double abstainMinLabelMass, List<String> abstained) {
        ClassifierTopology.Settings settings = new ClassifierTopology.Settings("intents.in", "intents.classified",
                "intents.dlq", task.name(), "qwen3-tiny", task.labels(), maxBatch, Duration.ofMillis(10),
                Duration.ofSeconds(30), 524_288, 1_048_576, 1_048_576, "intents.review", abstainThreshold, abstainMinLabelMass);
        InputDecoder decoder = new InputDecoder(InputDecoder.Format.AUTO, null, 60, truncate);
        var topology = ClassifierTopology.build(settings, decoder,
                ClassifierTopology.Inference.lane(worker, InferenceWorker.DEFAULT_TASK), new RawAvro(), new ClassifierTopology.Listener() {
            public void received() {}

            public void classified(long ms) {}

            public void deadLettered(BadInput.Reason r) {}

            public void batch(int size) {
                batches.incrementAndGet();
            }

            public void abstained(String label) {
                abstained.add(label);
            }
        }, version -> null);
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "topology-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        return new TopologyTestDriver(topology, props);
    }

    @Test
    void classifiesInBatchesKeepingKeyTimestampHeadersAndOrder() throws Exception {
        AtomicInteger batches = new AtomicInteger();
        // The passes wait until every record is in, so what starts each batch is the topology's choice alone.
        java.util.concurrent.CountDownLatch allIn = new java.util.concurrent.CountDownLatch(1);
        try (InferenceWorker<String> worker = InferenceWorker.unprepared(batch -> {
                    try {
                        allIn.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return classifier.classify(batch);
                }, 64, (task, n, t, f) -> { });
                TopologyTestDriver driver = driver(worker, 3, true, batches)) {
            TestInputTopic<byte[], byte[]> in = driver.createInputTopic("intents.in", new ByteArraySerializer(), new ByteArraySerializer());
            TestOutputTopic<byte[], byte[]> out = driver.createOutputTopic("intents.classified", new ByteArrayDeserializer(), new ByteArrayDeserializer());
            List<String> texts = List.of("RobLW an Zugführer, kommen.", "Ist negativ, noch nicht.", "Ja, hier ist Zugführer.",
                    "Einen Augenblick, ich melde mich gleich.", "Verstanden, Wassertrupp geht vor.");
            Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
            for (int i = 0; i < texts.size(); i++) {
                RecordHeaders headers = new RecordHeaders();
                headers.add("trace", ("t" + i).getBytes(StandardCharsets.UTF_8));
                in.pipeInput(new TestRecord<>(("k" + i).getBytes(StandardCharsets.UTF_8),
                        texts.get(i).getBytes(StandardCharsets.UTF_8), headers, t0.plusSeconds(i)));
            }
            allIn.countDown();
            drain(driver, out, texts.size());
            List<TestRecord<byte[], byte[]>> results = out.readRecordsToList();
            assertEquals(texts.size(), results.size());
            assertEquals(3, batches.get(), "the idle worker got the first record at once, the size trigger the next "
                    + "three while it was busy, the linger punctuator the fifth once fewer than two batches were in flight");
            for (int i = 0; i < texts.size(); i++) {
                TestRecord<byte[], byte[]> r = results.get(i);
                Classification c = decode(r.value());
                assertEquals("k" + i, new String(r.key(), StandardCharsets.UTF_8));
                assertEquals(t0.plusSeconds(i), r.getRecordTime());
                assertEquals("t" + i, new String(r.headers().lastHeader("trace").value(), StandardCharsets.UTF_8));
                assertEquals("base", new String(r.headers().lastHeader("adapter-version").value(), StandardCharsets.UTF_8));
                assertEquals("qwen3-tiny", new String(r.headers().lastHeader("model-id").value(), StandardCharsets.UTF_8));
                assertEquals(texts.get(i), c.getText());
                assertEquals("intents.in-0-" + i, c.getId());
                assertEquals(i, c.getSourceOffset());
                assertNull(c.getAdapterVersion());
                assertEquals(task.labels().size(), c.getProbabilities().size());
                var expected = classifier.classify(List.of(texts.get(i))).get(0);
                assertEquals(expected.label(), c.getLabel());
                assertEquals(expected.probabilities()[0], c.getProbabilities().get(0).getProbability(), 1e-6);
            }
            assertEquals(0, driver.getKeyValueStore(ClassifierTopology.STORE).approximateNumEntries());
        }
    }

    @Test
    void badInputGoesToTheDeadLetterTopicWithItsReason() throws Exception {
        AtomicInteger batches = new AtomicInteger();
        try (InferenceWorker<String> worker = InferenceWorker.unprepared(classifier::classify, 64, (task, n, t, f) -> { });
                TopologyTestDriver driver = driver(worker, 8, false, batches)) {
            TestInputTopic<byte[], byte[]> in = driver.createInputTopic("intents.in", new ByteArraySerializer(), new ByteArraySerializer());
            TestOutputTopic<byte[], byte[]> dlq = driver.createOutputTopic("intents.dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
            TestOutputTopic<byte[], byte[]> out = driver.createOutputTopic("intents.classified", new ByteArrayDeserializer(), new ByteArrayDeserializer());
            in.pipeInput("a".getBytes(), new byte[0]);
            in.pipeInput("b".getBytes(), "   ".getBytes(StandardCharsets.UTF_8));
            in.pipeInput("c".getBytes(), new byte[] {(byte) 0xC3, (byte) 0x28});
            in.pipeInput("d".getBytes(), "x".repeat(61).getBytes(StandardCharsets.UTF_8));
            RecordHeaders confluent8 = new RecordHeaders();
            confluent8.add("__value_schema_id", new byte[] {1, 0, 0, 0, 7});
            in.pipeInput(new TestRecord<>("e".getBytes(), "{\"id\":1}".getBytes(StandardCharsets.UTF_8), confluent8, Instant.now()));
            in.pipeInput("f".getBytes(), "Ist negativ, noch nicht.".getBytes(StandardCharsets.UTF_8));
            drain(driver, out, 1);
            List<TestRecord<byte[], byte[]>> dead = dlq.readRecordsToList();
            List<String> reasons = dead.stream().map(r -> new String(r.headers().lastHeader("slm.error.type").value())).toList();
            assertEquals(List.of("empty-text", "empty-text", "undecodable", "text-too-long", "header-schema-id"), reasons);
            TestRecord<byte[], byte[]> tooLong = dead.get(3);
            assertEquals("d", new String(tooLong.key()));
            assertEquals("x".repeat(61), new String(tooLong.value(), StandardCharsets.UTF_8), "the original value is kept");
            assertEquals("intents.in", new String(tooLong.headers().lastHeader("slm.source.topic").value()));
            assertEquals("0", new String(tooLong.headers().lastHeader("slm.source.partition").value()));
            assertEquals("3", new String(tooLong.headers().lastHeader("slm.source.offset").value()));
            assertTrue(new String(tooLong.headers().lastHeader("slm.error.message").value()).contains("text.max.chars=60"));
            assertEquals(1, out.getQueueSize(), "the good record still comes through");
        }
    }

    @Test
    void aTextTheModelCannotHandleIsDeadLetteredAlone() throws Exception {
        AtomicInteger batches = new AtomicInteger();
        try (InferenceWorker<String> worker = InferenceWorker.unprepared(texts -> {
                    if (texts.stream().anyMatch(t -> t.contains("BOOM"))) {
                        throw new IllegalStateException("out of memory");
                    }
                    return classifier.classify(texts);
                }, 64, (task, n, t, f) -> { });
                TopologyTestDriver driver = driver(worker, 8, true, batches)) {
            TestInputTopic<byte[], byte[]> in = driver.createInputTopic("intents.in", new ByteArraySerializer(), new ByteArraySerializer());
            TestOutputTopic<byte[], byte[]> dlq = driver.createOutputTopic("intents.dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
            TestOutputTopic<byte[], byte[]> out = driver.createOutputTopic("intents.classified", new ByteArrayDeserializer(), new ByteArrayDeserializer());
            in.pipeInput("1".getBytes(), "Ja, kommen.".getBytes(StandardCharsets.UTF_8));
            in.pipeInput("2".getBytes(), "BOOM".getBytes(StandardCharsets.UTF_8));
            in.pipeInput("3".getBytes(), "Nein.".getBytes(StandardCharsets.UTF_8));
            String longBoom = "BOOM " + "y".repeat(80);
            in.pipeInput("4".getBytes(), longBoom.getBytes(StandardCharsets.UTF_8));
            drain(driver, out, 2);
            assertEquals(2, out.getQueueSize());
            TestRecord<byte[], byte[]> dead = dlq.readRecord();
            assertEquals("model-failure", new String(dead.headers().lastHeader("slm.error.type").value()));
            assertEquals("2", new String(dead.key()));
            // The model saw a truncated text; the dead letter still carries the value exactly as it came.
            TestRecord<byte[], byte[]> truncated = dlq.readRecord();
            assertEquals("4", new String(truncated.key()));
            assertEquals(longBoom, new String(truncated.value(), StandardCharsets.UTF_8));
        }
    }

    /**
     * Confidence only compares the classes with each other; a label mass under abstain.min.label.mass sets a
     * result aside however confident it is, and a result above the floor stays where it was.
     */
    @Test
    void aLabelMassUnderTheFloorAbstainsWhateverTheConfidence() throws Exception {
        List<String> texts = List.of("RobLW an Zugführer, kommen.", "Ist negativ, noch nicht.", "Ja, hier ist Zugführer.",
                "Einen Augenblick, ich melde mich gleich.", "Wie ist das Wetter morgen in Berlin?", "Verstanden, Ende.");
        try (Classifier withMass = new Classifier(model, task, Classifier.Options.defaults().withLabelMass(true))) {
            List<io.slmclassifier.classify.Classification> expected = withMass.classify(texts);
            double[] masses = expected.stream().mapToDouble(io.slmclassifier.classify.Classification::labelMass)
                    .sorted().toArray();
            int half = masses.length / 2;
            assertTrue(masses[half - 1] < masses[half], "no gap to put the floor in: " + Arrays.toString(masses));
            double floor = (masses[half - 1] + masses[half]) / 2;
            // A threshold in force that every result clears: what abstains, abstains by its label mass.
            double threshold = expected.stream().mapToDouble(c -> c.probabilities()[c.labelIndex()]).min()
                    .orElseThrow() / 2;
            assertTrue(threshold > 0);

            AtomicInteger batches = new AtomicInteger();
            List<String> abstained = new CopyOnWriteArrayList<>();
            try (InferenceWorker<String> worker = InferenceWorker.unprepared(withMass::classify, 64, (task, n, t, f) -> { });
                    TopologyTestDriver driver = driver(worker, 8, true, batches, threshold, floor, abstained)) {
                TestInputTopic<byte[], byte[]> in = driver.createInputTopic("intents.in", new ByteArraySerializer(), new ByteArraySerializer());
                TestOutputTopic<byte[], byte[]> out = driver.createOutputTopic("intents.classified", new ByteArrayDeserializer(), new ByteArrayDeserializer());
                TestOutputTopic<byte[], byte[]> review = driver.createOutputTopic("intents.review", new ByteArrayDeserializer(), new ByteArrayDeserializer());
                for (int i = 0; i < texts.size(); i++) {
                    in.pipeInput(("k" + i).getBytes(StandardCharsets.UTF_8), texts.get(i).getBytes(StandardCharsets.UTF_8));
                }
                drain(driver, out, texts.size());
                List<TestRecord<byte[], byte[]>> results = out.readRecordsToList();
                assertEquals(texts.size(), results.size());

                List<String> underFloor = new ArrayList<>();
                List<String> underFloorLabels = new ArrayList<>();
                for (int i = 0; i < texts.size(); i++) {
                    Classification c = decode(results.get(i).value());
                    double mass = expected.get(i).labelMass();
                    assertEquals(mass, c.getLabelMass(), mass * 1e-6, "the result carries its label mass");
                    assertTrue(c.getConfidence() > threshold, "confidence " + c.getConfidence() + " over " + threshold);
                    if (mass < floor) {
                        assertTrue(c.getAbstained(), texts.get(i) + ": label mass " + mass + " under " + floor);
                        underFloor.add("k" + i);
                        underFloorLabels.add(c.getLabel());
                    } else {
                        assertFalse(c.getAbstained(), texts.get(i) + ": label mass " + mass + " over " + floor);
                    }
                }
                assertEquals(half, underFloor.size());

                List<TestRecord<byte[], byte[]>> reviewed = review.readRecordsToList();
                assertEquals(underFloor, reviewed.stream().map(r -> new String(r.key(), StandardCharsets.UTF_8)).toList(),
                        "exactly the results under the floor go to review");
                for (TestRecord<byte[], byte[]> r : reviewed) {
                    assertTrue(decode(r.value()).getAbstained());
                }
                assertEquals(underFloorLabels, abstained, "counted by their labels");
            }
        }
    }
}
