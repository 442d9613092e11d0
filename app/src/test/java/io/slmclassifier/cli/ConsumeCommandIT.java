package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabelProbability;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.DeadLetterHeaders;
import io.slmclassifier.kafka.DeadLetters;
import io.slmclassifier.kafka.KafkaTestCluster;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code consume} against a real broker and registry: Avro results decoded by the schema their id names, dead
 * letters with their headers, and one line with exit code 2 where the registry or the topic is not there.
 */
class ConsumeCommandIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = KafkaTestCluster.withSchemaRegistry();

    private static final ObjectMapper JSON = new ObjectMapper();

    private static CommandRun consume(String... args) {
        List<String> all = new ArrayList<>(List.of("consume", "--bootstrap-servers", kafka.bootstrapServers()));
        all.addAll(List.of(args));
        return CommandRun.of(all);
    }

    private static void createTopic(String topic) throws Exception {
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
    }

    private static void send(List<ProducerRecord<byte[], byte[]>> records) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                Map.<String, Object>of("bootstrap.servers", kafka.bootstrapServers()), new ByteArraySerializer(),
                new ByteArraySerializer())) {
            for (ProducerRecord<byte[], byte[]> r : records) {
                producer.send(r).get();
            }
        }
    }

    private static Classification classification() {
        return Classification.newBuilder().setId("m-7").setText("Ist negativ, noch nicht.").setLabel("disconfirm")
                .setLabelIndex(0)
                .setProbabilities(List.of(new LabelProbability("disconfirm", 0.75), new LabelProbability("confirm", 0.25)))
                .setLogits(List.of(2.5, 1.4)).setLabelMass(null).setTask("radr-intents").setModelId("qwen3-tiny")
                .setAdapterVersion(3L).setSourceTopic("intents.in").setSourcePartition(0).setSourceOffset(41)
                .setEventTime(Instant.ofEpochMilli(1_700_000_000_000L))
                .setProcessingTime(Instant.ofEpochMilli(1_700_000_000_050L)).setLatencyMs(50).setTruncated(false)
                .setConfidence(0.75).setAbstained(false).setCalibrationTemperature(null).build();
    }

    @Test
    void printsAvroValuesDecodedTextAndBytesAsTheyAre() throws Exception {
        String topic = "consume.classified";
        createTopic(topic);
        byte[] avro = AvroSerde.forType(Classification.class, kafka.registryClient())
                .serializer().serialize(topic, classification());
        RecordHeaders binaryHeader = new RecordHeaders();
        binaryHeader.add("trace", new byte[] {(byte) 0xFF, 0x01});
        binaryHeader.add("hop", "a".getBytes(StandardCharsets.UTF_8));
        binaryHeader.add("hop", "b".getBytes(StandardCharsets.UTF_8));
        send(List.of(new ProducerRecord<>(topic, "k1".getBytes(StandardCharsets.UTF_8), avro),
                new ProducerRecord<>(topic, null, (byte[]) null, "Verstanden.".getBytes(StandardCharsets.UTF_8), binaryHeader),
                new ProducerRecord<>(topic, new byte[] {(byte) 0xC3, 0x28}, new byte[] {(byte) 0xFF, (byte) 0xFE})));

        CommandRun run = consume("--topic", topic, "--from-beginning", "--max-messages", "3", "--registry-url", kafka.schemaRegistryUrl());
        assertEquals(0, run.code(), String.join("\n", run.said()));
        assertEquals(3, run.outLines().size(), String.join("\n", run.outLines()));
        assertEquals(List.of("consumed 3 record(s) from " + topic), run.said());

        JsonNode result = JSON.readTree(run.outLines().get(0));
        assertEquals(topic, result.get("topic").asText());
        assertEquals(0, result.get("offset").asLong());
        assertEquals("k1", result.get("key").asText());
        JsonNode value = result.get("value");
        assertEquals("m-7", value.get("id").asText());
        assertEquals("confirm", value.get("probabilities").get(1).get("label").asText());
        assertEquals(0.25, value.get("probabilities").get(1).get("probability").asDouble());
        assertEquals(3, value.get("adapter_version").asLong(), "a union's value as it is: " + value);
        assertTrue(value.get("adapter_version").isNumber(), "not {\"long\": 3}: " + value);
        assertTrue(value.get("label_mass").isNull());
        assertEquals(1_700_000_000_000L, value.get("event_time").asLong());
        assertTrue(result.get("schema_id").asInt() > 0);

        JsonNode text = JSON.readTree(run.outLines().get(1));
        assertEquals("Verstanden.", text.get("value").asText());
        assertTrue(text.get("key").isNull());
        assertEquals(Base64.getEncoder().encodeToString(new byte[] {(byte) 0xFF, 0x01}),
                text.get("headers").get("trace").get("base64").asText());
        assertEquals(JSON.readTree("[\"a\", \"b\"]"), text.get("headers").get("hop"), "a repeated header keeps both");

        JsonNode binary = JSON.readTree(run.outLines().get(2));
        assertEquals("wyg=", binary.get("key_base64").asText());
        assertEquals("//4=", binary.get("value_base64").asText());

        // From now on: the records above are old, and nothing new comes before the timeout.
        CommandRun fromNow = consume("--topic", topic, "--timeout-ms", "1500", "--registry-url", kafka.schemaRegistryUrl());
        assertEquals(0, fromNow.code(), String.join("\n", fromNow.said()));
        assertEquals(List.of(), fromNow.outLines());
        assertEquals(List.of("consumed 0 record(s) from " + topic), fromNow.said());
    }

    @Test
    void printsADeadLettersHeadersAndItsCutAvroValueAsBase64(@TempDir Path dir) throws Exception {
        String topic = "consume.dlq";
        createTopic(topic);
        byte[] avro = AvroSerde.forType(Classification.class, kafka.registryClient())
                .serializer().serialize(topic, classification());
        byte[] cut = Arrays.copyOf(avro, avro.length / 2);
        DeadLetters.Letter letter = DeadLetters.of(null, cut, null, "undecodable", "the Avro datum cannot be read",
                new IllegalStateException("short datum"), "consume.in", 2, 17, DeadLetters.MIN_RECORD_BYTES);
        send(List.of(new ProducerRecord<>(topic, null, letter.key(), letter.value(), letter.headers())));

        CommandRun run = consume("--topic", topic, "--from-beginning", "--max-messages", "1", "--registry-url", kafka.schemaRegistryUrl());
        assertEquals(0, run.code(), String.join("\n", run.said()));
        JsonNode dead = JSON.readTree(run.outLines().get(0));
        JsonNode headers = dead.get("headers");
        assertEquals("undecodable", headers.get(DeadLetterHeaders.ERROR_TYPE).asText());
        assertEquals("consume.in", headers.get(DeadLetterHeaders.CONNECT_TOPIC).asText());
        assertEquals("17", headers.get(DeadLetterHeaders.CONNECT_OFFSET).asText());
        assertTrue(headers.get(DeadLetterHeaders.CONNECT_EXCEPTION_STACKTRACE).asText()
                .startsWith("java.lang.IllegalStateException: short datum"));
        assertEquals(Base64.getEncoder().encodeToString(cut), dead.get("value_base64").asText(), "every byte, as it came");
        assertTrue(dead.get("value_error").asText().startsWith("not an Avro value of schema "), dead.toString());

        // From a shell, with the logging a terminal gets: the JSON line on stdout, the count on stderr, nothing else.
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true", "-cp", QuietTerminalIT.shippedClassPath(), "io.slmclassifier.cli.Main",
                "consume", "--topic", topic, "--from-beginning", "--max-messages", "1", "--bootstrap-servers",
                kafka.bootstrapServers(), "--registry-url", kafka.schemaRegistryUrl()));
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process shell = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        shell.getOutputStream().close();
        assertTrue(shell.waitFor(60, TimeUnit.SECONDS), "consume finished");
        assertEquals(0, shell.exitValue(), Files.readString(err));
        assertEquals(List.of("consumed 1 record(s) from " + topic), Files.readAllLines(err));
        assertEquals(List.of(run.outLines().get(0)), Files.readAllLines(out));
    }

    @Test
    void anUnreachableRegistryOrAMissingTopicIsOneLineAndExit2() throws Exception {
        int deadPort;
        try (ServerSocket free = new ServerSocket(0)) {
            deadPort = free.getLocalPort();
        }
        String deadRegistry = "http://127.0.0.1:" + deadPort;
        CommandRun noRegistry = consume("--topic", "consume.classified", "--registry-url", deadRegistry, "--timeout-ms", "2000");
        assertEquals(2, noRegistry.code());
        assertEquals(1, noRegistry.said().size(), String.join("\n", noRegistry.said()));
        assertTrue(noRegistry.said().get(0).startsWith("error: cannot reach the schema registry at " + deadRegistry
                + " within 2 s: "), noRegistry.said().get(0));
        assertTrue(noRegistry.said().get(0).endsWith("(--registry-url; --timeout-ms)"), noRegistry.said().get(0));

        CommandRun noTopic = consume("--topic", "consume.nowhere", "--timeout-ms", "5000");
        assertEquals(2, noTopic.code());
        assertEquals(List.of("error: no topic consume.nowhere on Kafka at " + kafka.bootstrapServers()), noTopic.said());
    }
}
