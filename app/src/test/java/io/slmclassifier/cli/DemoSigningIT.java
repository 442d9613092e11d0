package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.rollout.ControlSignature;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The demo signs the control topic by default, with a key of its own kept in its data directory. */
class DemoSigningIT {

    @Test
    void theDataDirectoryKeyIsMadeOnceOwnerOnlyAndKept(@TempDir Path dir) throws Exception {
        DemoCommand.SigningKey first = DemoCommand.SigningKey.of(null, null, dir);
        Path file = dir.resolve(DemoCommand.SIGNING_KEY_FILE);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertTrue(first.key().length() >= 32, first.key());
        assertTrue(ControlSignature.of(first.key()).enabled());
        assertEquals(first.key(), DemoCommand.SigningKey.of(null, null, dir).key(), "the same key after a restart");
        assertFalse(first.key().equals(DemoCommand.SigningKey.of(null, null, Files.createDirectory(dir.resolve("other"))).key()),
                "random per data directory");

        String given = "g".repeat(40);
        Path givenFile = Files.writeString(dir.resolve("given.key"), given + "\n");
        assertEquals(given, DemoCommand.SigningKey.of(givenFile, "e".repeat(40), dir).key(), "a given file wins");
        assertEquals("e".repeat(40), DemoCommand.SigningKey.of(null, "e".repeat(40), dir).key(),
                "then SLM_CONTROL_SIGNING_KEY");
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES) // a generous cap: the demo's start-up waits have none of their own
    void theDemosProcessorTrainerAndPromptSign(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        PipedOutputStream keyboard = new PipedOutputStream();
        PipedInputStream in = new PipedInputStream(keyboard);
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        CompletableFuture<Integer> demo = CompletableFuture.supplyAsync(() -> run(in, captured, "demo", "--model",
                "demo-tiny", "--device", "cpu", "--console-port", "-1", "--data-dir", data.toString()));
        try {
            awaitOutput(captured, demo, "Type a sentence");
            String output = captured.toString(StandardCharsets.UTF_8);
            Path keyFile = data.resolve(DemoCommand.SIGNING_KEY_FILE);
            assertTrue(output.contains("control topic      signed with the key in " + keyFile), output);
            String key = Files.readString(keyFile).strip();

            Matcher ports = Pattern.compile("processor http://127\\.0\\.0\\.1:(\\d+)/metrics, trainer http://127\\.0\\.0\\.1:(\\d+)/metrics")
                    .matcher(output);
            assertTrue(ports.find(), output);
            for (int group = 1; group <= 2; group++) {
                JsonNode health = new ObjectMapper().readTree(URI.create("http://127.0.0.1:" + ports.group(group) + "/health").toURL());
                assertEquals("signed", health.path("control").asText(), health.toString());
            }

            keyboard.write("/unpin\n".getBytes(StandardCharsets.UTF_8));
            keyboard.flush();
            awaitOutput(captured, demo, "sent UNPIN");
            Matcher bootstrap = Pattern.compile("bootstrap servers  (\\S+)").matcher(output);
            assertTrue(bootstrap.find(), output);
            List<ConsumerRecord<String, byte[]>> control = readControlTopic(bootstrap.group(1));
            assertFalse(control.isEmpty(), "the command is on the control topic");
            ControlSignature signature = ControlSignature.of(key);
            for (ConsumerRecord<String, byte[]> r : control) {
                assertTrue(signature.verify(r.key(), r.value(), r.headers()), "signed with the data directory's key: " + r.key());
            }
            assertFalse(ControlSignature.of("x".repeat(32)).verify(control.get(0).key(), control.get(0).value(),
                    control.get(0).headers()), "and with no other");
        } finally {
            keyboard.write("/quit\n".getBytes(StandardCharsets.UTF_8));
            keyboard.close();
        }
        assertEquals(0, demo.get(), captured.toString(StandardCharsets.UTF_8));
    }

    private static List<ConsumerRecord<String, byte[]>> readControlTopic(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition partition = new TopicPartition("intents.control", 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            while (consumer.position(partition) < end) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    private static void awaitOutput(ByteArrayOutputStream captured, CompletableFuture<Integer> demo, String text)
            throws InterruptedException {
        while (!captured.toString(StandardCharsets.UTF_8).contains(text)) {
            assertFalse(demo.isDone(), "the demo ended: " + captured.toString(StandardCharsets.UTF_8));
            Thread.sleep(200);
        }
    }

    private static int run(InputStream in, ByteArrayOutputStream captured, String... args) {
        InputStream stdin = System.in;
        PrintStream stdout = System.out;
        try {
            System.setIn(in);
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            return Main.run(args);
        } finally {
            System.setIn(stdin);
            System.setOut(stdout);
        }
    }
}
