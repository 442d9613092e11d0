package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.avro.TextMessage;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.DeadLetterHeaders;
import io.slmclassifier.kafka.DeadLetters;
import io.slmclassifier.kafka.KafkaTestCluster;
import io.slmclassifier.kafka.WireFormat;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.function.IntFunction;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Records of the largest size the broker accepts, refused by the processor: their dead letters (the record plus
 * error headers) would be larger than any record the producer may send. They reach the dead-letter topic cut, the
 * records behind them are classified, and no stream thread dies.
 */
class DeadLetterSizeEndToEndIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = KafkaTestCluster.withSchemaRegistry();

    private static final byte[] KEY = "same-partition".getBytes(StandardCharsets.UTF_8);

    private static ProcessorConfig config(String app, Path stateDir) {
        return config(app, stateDir, Map.of());
    }

    private static ProcessorConfig config(String app, Path stateDir, Map<String, String> more) {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", kafka.bootstrapServers());
        c.put("schema.registry.url", kafka.schemaRegistryUrl());
        c.put("application.id", app);
        c.put("input.topic", app + ".in");
        c.put("output.topic", app + ".classified");
        c.put("dlq.topic", app + ".dlq");
        c.put("review.topic", app + ".review");
        c.put("model.dir", Fixtures.model("qwen3-tiny").toString());
        c.put("task.file", Fixtures.task("radr-intents").toString());
        c.put("device", "cpu");
        c.put("metrics.port", "0");
        c.put("state.dir", stateDir.toString());
        c.put("topics.partitions", "1");
        c.put("batch.max.size", "8");
        c.putAll(more);
        return ProcessorConfig.of(c);
    }

    /** A producer that lets the broker decide what is too large. */
    private static KafkaProducer<byte[], byte[]> unboundedProducer() {
        Properties p = kafka.client();
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, "4194304");
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, "16777216");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /**
     * The largest {@code n} for which the broker accepts {@code recordOfSize.apply(n)}, found by sending: the
     * broker's {@code message.max.bytes} decides, whatever the record's shape.
     */
    private static int largestAccepted(String probeTopic, IntFunction<ProducerRecord<byte[], byte[]>> recordOfSize)
            throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = unboundedProducer()) {
            int accepted = 0;
            int refused = 2_000_000;
            while (refused - accepted > 1) {
                int n = (accepted + refused) >>> 1;
                try {
                    producer.send(recordOfSize.apply(n)).get();
                    accepted = n;
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof RecordTooLargeException)) {
                        throw e;
                    }
                    refused = n;
                }
            }
            return accepted;
        }
    }

    private static byte[] filled(int size, int b) {
        byte[] bytes = new byte[size];
        Arrays.fill(bytes, (byte) b);
        return bytes;
    }

    private static List<Header> headers(int count, int valueBytes) {
        List<Header> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(new RecordHeader(String.format("h%02d", i), filled(valueBytes, 'a' + i)));
        }
        return out;
    }

    private static List<ConsumerRecord<byte[], byte[]>> readCommitted(String topic, int expected, Duration timeout) {
        Properties p = kafka.client();
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
            consumer.poll(Duration.ofMillis(500)).forEach(out::add);
        }
        return out;
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String key) {
        Header h = r.headers().lastHeader(key);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /** The dead letter keeps the start of the original value and of its headers, and says what it left out. */
    private static void assertCutLetterOf(ProducerRecord<byte[], byte[]> original, ConsumerRecord<byte[], byte[]> letter,
            String errorType, String truncated) throws Exception {
        assertEquals(errorType, header(letter, "slm.error.type"));
        assertEquals(truncated, header(letter, DeadLetters.TRUNCATED));
        assertEquals(String.valueOf(original.value().length), header(letter, DeadLetters.ORIGINAL_SIZE));
        assertEquals(sha256(original.value()), header(letter, DeadLetters.ORIGINAL_SHA256));
        if (truncated.contains("value")) {
            assertTrue(letter.value().length < original.value().length, "the value is cut");
            assertArrayEquals(Arrays.copyOf(original.value(), letter.value().length), letter.value(), "the value's first bytes");
        } else {
            assertArrayEquals(original.value(), letter.value());
        }
        assertArrayEquals(KEY, letter.key());
        Header[] before = original.headers().toArray();
        Header[] after = letter.headers().toArray();
        int kept = 0;
        while (kept < after.length && !after[kept].key().startsWith("slm.")) {
            assertEquals(before[kept].key(), after[kept].key());
            assertArrayEquals(before[kept].value(), after[kept].value());
            kept++;
        }
        if (truncated.contains("headers")) {
            assertTrue(kept < before.length, "headers were left out");
            assertEquals(String.valueOf(before.length), header(letter, DeadLetters.ORIGINAL_HEADERS));
        } else {
            assertEquals(before.length, kept, "every header is kept");
            assertNull(header(letter, DeadLetters.ORIGINAL_HEADERS));
        }
    }

    @Test
    void recordsOfTheLargestSizeTheBrokerTakesAreDeadLetteredCutAndTheRecordsBehindThemFlow(@TempDir Path state)
            throws Exception {
        String app = "largest";
        String in = app + ".in";
        String probe = app + ".probe";
        try (Admin admin = Admin.create(kafka.client())) {
            admin.createTopics(List.of(new NewTopic(probe, 1, (short) 1))).all().get();
        }

        // Plain text: invalid UTF-8, with one header.
        List<Header> oneHeader = List.of(new RecordHeader("trace", "t-1".getBytes(StandardCharsets.UTF_8)));
        int plainSize = largestAccepted(probe, n -> new ProducerRecord<>(probe, null, KEY, filled(n, 0xFF), oneHeader));
        ProducerRecord<byte[], byte[]> plain = new ProducerRecord<>(in, null, KEY, filled(plainSize, 0xFF), oneHeader);

        // Avro: the registry's wire format with the id of the real TextMessage schema, then a datum that is no datum.
        byte[] validAvro = AvroSerde.forType(TextMessage.class, kafka.registryClient())
                .serializer().serialize(in, TextMessage.newBuilder().setId("x").setText("Ist negativ.").build());
        IntFunction<byte[]> avroOfSize = n -> {
            byte[] value = filled(n, 0xFF);
            System.arraycopy(validAvro, 0, value, 0, WireFormat.PREFIX_LENGTH);
            return value;
        };
        int avroSize = largestAccepted(probe, n -> new ProducerRecord<>(probe, KEY, avroOfSize.apply(n)));
        ProducerRecord<byte[], byte[]> avro = new ProducerRecord<>(in, KEY, avroOfSize.apply(avroSize));

        // Huge headers that leave room for a value: only the value needs to be cut.
        List<Header> bigHeaders = headers(15, 69_000);
        int withBigHeadersSize = largestAccepted(probe, n -> new ProducerRecord<>(probe, null, KEY,
                filled(n, 'x'), bigHeaders));
        ProducerRecord<byte[], byte[]> withBigHeaders = new ProducerRecord<>(in, null, KEY,
                filled(withBigHeadersSize, 'x'), bigHeaders);

        // Headers that fill the whole record: some of them have to go.
        byte[] shortText = "Einen Augenblick.".getBytes(StandardCharsets.UTF_8);
        IntFunction<List<Header>> fillingHeaders = n -> {
            List<Header> h = new ArrayList<>(headers(15, 69_000));
            h.add(new RecordHeader("last", filled(n, 'z')));
            return h;
        };
        int lastHeaderSize = largestAccepted(probe, n -> new ProducerRecord<>(probe, null, KEY, shortText,
                fillingHeaders.apply(n)));
        ProducerRecord<byte[], byte[]> onlyHeaders = new ProducerRecord<>(in, null, KEY, shortText,
                fillingHeaders.apply(lastHeaderSize));

        try (ProcessorService service = new ProcessorService(config(app, state))) {
            service.start();
            try (KafkaProducer<byte[], byte[]> producer = unboundedProducer()) {
                for (ProducerRecord<byte[], byte[]> poison : List.of(plain, avro, withBigHeaders, onlyHeaders)) {
                    producer.send(poison).get();
                }
                producer.send(new ProducerRecord<>(in, KEY, "Ist negativ, noch nicht.".getBytes(StandardCharsets.UTF_8)));
                producer.send(new ProducerRecord<>(in, KEY, "Ja, hier ist Zugführer, kommen.".getBytes(StandardCharsets.UTF_8))).get();
            }

            List<ConsumerRecord<byte[], byte[]>> results = readCommitted(app + ".classified", 2, Duration.ofSeconds(120));
            assertEquals(2, results.size(), "the records behind the poison are classified");
            List<ConsumerRecord<byte[], byte[]>> dead = readCommitted(app + ".dlq", 4, Duration.ofSeconds(30));
            assertEquals(4, dead.size(), "one dead letter per poison record");
            assertCutLetterOf(plain, dead.get(0), "undecodable", "value");
            assertCutLetterOf(avro, dead.get(1), "undecodable", "value");
            assertCutLetterOf(withBigHeaders, dead.get(2), "headers-too-large", "value");
            assertCutLetterOf(onlyHeaders, dead.get(3), "headers-too-large", "headers");
            assertEquals(0, service.streamThreadDeaths(), "no stream thread died");
            assertEquals(KafkaStreams.State.RUNNING, service.state());
            HttpURLConnection ready = (HttpURLConnection) URI.create("http://127.0.0.1:" + service.operationsPort()
                    + "/health/ready").toURL().openConnection();
            assertEquals(200, ready.getResponseCode());
            System.out.printf("largest accepted: plain value %d bytes (one header), Avro value %d bytes, value %d bytes "
                    + "behind 15 x 69,000-byte headers, last header %d bytes; dead letters %s bytes%n", plainSize, avroSize,
                    withBigHeadersSize, lastHeaderSize, dead.stream().map(r -> r.serializedValueSize() + "+"
                            + DeadLetters.headerBytes(r.headers().toArray())).toList());
        }
    }

    /**
     * A result larger than its topic takes (the output topic's {@code max.message.bytes} is low here): under
     * exactly-once the broker's refusal would abort every transaction that carried it, so it is dead-lettered
     * before it is sent, and the records behind it are classified.
     */
    @Test
    void aResultLargerThanItsTopicTakesIsDeadLetteredAndStopsNothing(@TempDir Path state) throws Exception {
        String app = "small-output";
        String in = app + ".in";
        try (Admin admin = Admin.create(kafka.client())) {
            admin.createTopics(List.of(new NewTopic(app + ".classified", 1, (short) 1)
                    .configs(Map.of("max.message.bytes", "4000")))).all().get();
        }
        byte[] longText = ("Lagebild: " + "RobLW an Zugführer, kommen. ".repeat(300)).getBytes(StandardCharsets.UTF_8);
        try (ProcessorService service = new ProcessorService(config(app, state))) {
            service.start();
            try (KafkaProducer<byte[], byte[]> producer = unboundedProducer()) {
                producer.send(new ProducerRecord<>(in, KEY, longText)).get();
                producer.send(new ProducerRecord<>(in, KEY, "Ist negativ, noch nicht.".getBytes(StandardCharsets.UTF_8)));
                producer.send(new ProducerRecord<>(in, KEY, "Ja, hier ist Zugführer, kommen.".getBytes(StandardCharsets.UTF_8))).get();
            }
            List<ConsumerRecord<byte[], byte[]>> results = readCommitted(app + ".classified", 2, Duration.ofSeconds(120));
            assertEquals(2, results.size(), "the records behind the refused one are classified");
            List<ConsumerRecord<byte[], byte[]>> dead = readCommitted(app + ".dlq", 1, Duration.ofSeconds(30));
            assertEquals(1, dead.size());
            ConsumerRecord<byte[], byte[]> letter = dead.get(0);
            assertEquals("result-too-large", header(letter, "slm.error.type"));
            assertArrayEquals(longText, letter.value(), "the input as it came");
            // Kafka Connect's dead-letter headers, for the tools that read those: the source record as Connect
            // names it, and the exception (a verdict on the input, so without a stack trace).
            assertEquals(in, header(letter, DeadLetterHeaders.CONNECT_TOPIC));
            assertEquals("0", header(letter, DeadLetterHeaders.CONNECT_PARTITION));
            assertEquals("0", header(letter, DeadLetterHeaders.CONNECT_OFFSET));
            assertEquals(BadInput.class.getName(), header(letter, DeadLetterHeaders.CONNECT_EXCEPTION_CLASS));
            assertEquals(header(letter, DeadLetterHeaders.ERROR_MESSAGE),
                    header(letter, DeadLetterHeaders.CONNECT_EXCEPTION_MESSAGE));
            assertTrue(header(letter, DeadLetterHeaders.CONNECT_EXCEPTION_MESSAGE).startsWith("the result takes "));
            assertNull(header(letter, DeadLetterHeaders.CONNECT_EXCEPTION_STACKTRACE));
            assertEquals(0, service.streamThreadDeaths(), "no stream thread died");
            assertEquals(KafkaStreams.State.RUNNING, service.state());
        }
    }

    /**
     * A record the broker refuses although the processor kept it within every limit it knew (the output topic's
     * limit is lowered while the processor runs): the handler skips it and counts it, the stream thread lives on
     * and the records behind it are classified. Under at-least-once: under exactly-once the refusal leaves the
     * transaction unable to commit, whatever a handler answers.
     */
    @Test
    void aRecordTheBrokerRefusesUnforeseenIsSkippedAndCountedWithoutKillingTheThread(@TempDir Path state)
            throws Exception {
        String app = "lowered";
        String in = app + ".in";
        byte[] longText = ("Lagebild: " + "RobLW an Zugführer, kommen. ".repeat(300)).getBytes(StandardCharsets.UTF_8);
        try (ProcessorService service = new ProcessorService(config(app, state, Map.of("processing.guarantee", "at_least_once")))) {
            service.start();
            try (KafkaProducer<byte[], byte[]> producer = unboundedProducer()) {
                producer.send(new ProducerRecord<>(in, KEY, "Einen Augenblick.".getBytes(StandardCharsets.UTF_8))).get();
                assertEquals(1, readCommitted(app + ".classified", 1, Duration.ofSeconds(120)).size());
                try (Admin admin = Admin.create(kafka.client())) {
                    admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.TOPIC, app + ".classified"),
                            List.of(new AlterConfigOp(new ConfigEntry("max.message.bytes", "4000"),
                                    AlterConfigOp.OpType.SET)))).all().get();
                }
                producer.send(new ProducerRecord<>(in, KEY, longText)).get();
                producer.send(new ProducerRecord<>(in, KEY, "Ist negativ, noch nicht.".getBytes(StandardCharsets.UTF_8)));
                producer.send(new ProducerRecord<>(in, KEY, "Ja, hier ist Zugführer, kommen.".getBytes(StandardCharsets.UTF_8))).get();
            }
            List<ConsumerRecord<byte[], byte[]>> results = readCommitted(app + ".classified", 3, Duration.ofSeconds(120));
            assertEquals(3, results.size(), "the records behind the refused one are classified");
            assertEquals(1.0, service.metrics().registry().get("slm.records.dlq").tag("reason", "production-failure")
                    .counter().count());
            assertEquals(0, service.streamThreadDeaths(), "no stream thread died");
            assertEquals(KafkaStreams.State.RUNNING, service.state());
        }
    }

    /** The trainer's dead letters go through the same cut: a feedback record of the largest size is not lost. */
    @Test
    void aFeedbackRecordOfTheLargestSizeIsDeadLetteredCutByTheTrainer(@TempDir Path dir) throws Exception {
        String app = "feedback";
        String probe = app + ".probe";
        try (Admin admin = Admin.create(kafka.client())) {
            admin.createTopics(List.of(new NewTopic(probe, 1, (short) 1), new NewTopic(app + ".in", 1, (short) 1)))
                    .all().get();
        }
        int size = largestAccepted(probe, n -> new ProducerRecord<>(probe, KEY, filled(n, 0xFF)));
        ProducerRecord<byte[], byte[]> poison = new ProducerRecord<>(app + ".in", KEY, filled(size, 0xFF));
        try (io.slmclassifier.train.TrainerService trainer = new io.slmclassifier.train.TrainerService(
                io.slmclassifier.train.TrainerConfig.of(trainerSettings(app, dir)))) {
            trainer.start();
            try (KafkaProducer<byte[], byte[]> producer = unboundedProducer()) {
                producer.send(poison).get();
            }
            List<ConsumerRecord<byte[], byte[]>> dead = readCommitted(app + ".dlq", 1, Duration.ofSeconds(60));
            assertEquals(1, dead.size(), "the dead letter is written");
            assertCutLetterOf(poison, dead.get(0), "invalid-feedback", "value");
            assertTrue(trainer.ready());
        }
    }

    /**
     * A labeled example the dataset topic refuses (its limit below the feedback topic's) is not lost with its offset
     * committed: it goes to the dead-letter topic, and the example behind it reaches the dataset.
     */
    @Test
    void feedbackTheDatasetTopicRefusesIsDeadLetteredNotLost(@TempDir Path dir) throws Exception {
        String app = "refused";
        try (Admin admin = Admin.create(kafka.client())) {
            admin.createTopics(List.of(new NewTopic(app + ".in", 1, (short) 1),
                    new NewTopic(app + ".dataset", 1, (short) 1).configs(Map.of("max.message.bytes", "2000"))))
                    .all().get();
        }
        AvroSerde<LabeledExample> examples = AvroSerde.forType(LabeledExample.class, kafka.registryClient());
        try (io.slmclassifier.train.TrainerService trainer = new io.slmclassifier.train.TrainerService(
                io.slmclassifier.train.TrainerConfig.of(trainerSettings(app, dir)))) {
            trainer.start();
            try (KafkaProducer<byte[], byte[]> producer = unboundedProducer()) {
                for (String[] example : new String[][] {{"long", "Unit A to Unit B, over. ".repeat(200)},
                        {"short", "Unit A to Unit B, over."}}) {
                    producer.send(new ProducerRecord<>(app + ".in", example[0].getBytes(StandardCharsets.UTF_8),
                            examples.serializer().serialize(app + ".in", LabeledExample.newBuilder()
                                    .setId(example[0]).setText(example[1]).setLabel("call").setSource("test")
                                    .setLabeledAt(java.time.Instant.now()).build()))).get();
                }
            }
            List<ConsumerRecord<byte[], byte[]>> dead = readCommitted(app + ".dlq", 1, Duration.ofSeconds(60));
            assertEquals(1, dead.size(), "the refused example is dead-lettered");
            assertEquals("long", new String(dead.get(0).key(), StandardCharsets.UTF_8));
            List<ConsumerRecord<byte[], byte[]>> dataset = readCommitted(app + ".dataset", 1, Duration.ofSeconds(60));
            assertEquals("short", new String(dataset.get(0).key(), StandardCharsets.UTF_8));
            assertTrue(trainer.ready());

            // Micrometer's standard binders beside the trainer's own series, under Micrometer's names.
            String metrics = new String(URI.create("http://127.0.0.1:" + trainer.operationsPort() + "/metrics").toURL()
                    .openStream().readAllBytes(), StandardCharsets.UTF_8);
            for (String series : List.of("slm_trainer_feedback_total{", "jvm_memory_used_bytes{", "jvm_gc_",
                    "process_cpu_usage ", "kafka_consumer_fetch_manager_records_consumed_total{",
                    "kafka_producer_record_send_total{")) {
                assertTrue(metrics.contains("\n" + series), "no " + series + " series on /metrics:\n" + metrics);
            }
            // The shipped dashboard's trainer panel queries only series the trainer exposes.
            var trainerPanel = new java.util.TreeSet<>(io.slmclassifier.ops.GrafanaDashboard.metricNames());
            trainerPanel.removeIf(name -> !name.startsWith("slm_trainer_"));
            assertTrue(trainerPanel.size() >= 3, "the dashboard's trainer panel: " + trainerPanel);
            assertEquals(java.util.Set.of(), io.slmclassifier.ops.GrafanaDashboard.missing(trainerPanel, metrics),
                    "dashboard metrics missing on the trainer's /metrics");
        }
    }

    /** A trainer reading feedback from {@code <app>.in}, on the tiny model, its work in {@code dir}. */
    private static Map<String, String> trainerSettings(String app, Path dir) {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", kafka.bootstrapServers());
        c.put("schema.registry.url", kafka.schemaRegistryUrl());
        c.put("feedback.topics", app + ".in");
        c.put("dataset.topic", app + ".dataset");
        c.put("control.topic", app + ".control");
        c.put("adapters.topic", app + ".adapters");
        c.put("dlq.topic", app + ".dlq");
        c.put("model.dir", Fixtures.model("qwen3-tiny").toString());
        c.put("task.file", Fixtures.task("radr-intents").toString());
        c.put("device", "cpu");
        c.put("work.dir", dir.toString());
        c.put("metrics.port", "0");
        c.put("control.signing.key", "test-signing-key-of-at-least-32-characters");
        return c;
    }
}
