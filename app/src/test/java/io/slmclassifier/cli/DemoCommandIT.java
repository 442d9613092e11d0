package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;

/** The demo as a person uses it: typed sentences come back classified through Kafka, corrections go to feedback. */
class DemoCommandIT {

    /** Runs the demo with this standard input; returns its exit code and everything it printed. */
    private static String run(InputStream in, ByteArrayOutputStream captured, String... args) {
        InputStream stdin = System.in;
        PrintStream stdout = System.out;
        try {
            System.setIn(in);
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return code + "\n" + captured.toString(StandardCharsets.UTF_8);
        } finally {
            System.setIn(stdin);
            System.setOut(stdout);
        }
    }

    @Test
    void typedSentencesComeBackClassifiedAndCorrectionsAreSent() {
        String input = "RobLW an Zugführer, kommen.\n\nIst negativ, noch nicht.\n!disconfirm\n!nope\n/pin 9\n/adapters\n/quit\n";
        String output = run(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)), new ByteArrayOutputStream(),
                "demo", "--device", "cpu");
        assertTrue(output.startsWith("0\n"), output);
        assertTrue(output.contains("bootstrap servers  127.0.0.1:"), output);
        assertTrue(output.contains("schema registry    http://127.0.0.1:"), output);
        assertTrue(output.contains("labels mean nothing"), output);
        long answers = output.lines().filter(l -> l.contains("adapter base")).count();
        assertEquals(2, answers, output);
        assertTrue(output.contains("disconfirm ") && output.contains("confirm "), output);
        assertTrue(output.contains("feedback sent: \"Ist negativ, noch nicht.\" is disconfirm"), output);
        assertTrue(output.contains("error: 'nope' is not a label of this task"), output);
        assertTrue(output.contains("error: no adapter version 9"), output);
        assertTrue(output.contains("no adapter versions yet: the base model serves"), output);
    }

    @Test
    void theSimulationShowsTheTrainerLearning() throws Exception {
        PipedOutputStream keyboard = new PipedOutputStream();
        PipedInputStream in = new PipedInputStream(keyboard);
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        CompletableFuture<String> demo = CompletableFuture.supplyAsync(() -> run(in, captured, "demo", "--device", "cpu",
                "--simulate", "--train-after", "100"));
        // An accuracy line from a trained adapter, high enough to show learning.
        Pattern learned = Pattern.compile("accuracy of the last 50 answers: (\\d\\.\\d\\d) \\(adapter [1-9]");
        long deadline = System.nanoTime() + 240_000_000_000L;
        double accuracy = -1;
        while (System.nanoTime() < deadline && accuracy < 0.9 && !demo.isDone()) {
            Thread.sleep(500);
            Matcher m = learned.matcher(captured.toString(StandardCharsets.UTF_8));
            while (m.find()) {
                accuracy = Math.max(accuracy, Double.parseDouble(m.group(1)));
            }
        }
        keyboard.write("/quit\n".getBytes(StandardCharsets.UTF_8));
        keyboard.close();
        String output = demo.get();
        assertTrue(output.startsWith("0\n"), output);
        assertTrue(output.contains("[trainer] version 1 published"), output);
        assertTrue(accuracy >= 0.9, "live accuracy after training " + accuracy + "\n" + output);
    }

    /** Waits until the demo has printed {@code expected}; fails with what it printed if it does not within two minutes. */
    private static String await(ByteArrayOutputStream captured, CompletableFuture<String> demo, String expected)
            throws InterruptedException {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (System.nanoTime() < deadline && !demo.isDone()) {
            String output = captured.toString(StandardCharsets.UTF_8);
            if (output.contains(expected)) {
                return output;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("no '" + expected + "' in:\n" + captured.toString(StandardCharsets.UTF_8));
    }

    /** The examples on a feedback topic of the demo's broker, read from the beginning. */
    private static List<LabeledExample> feedback(String bootstrap, String registry, String topic) {
        AvroSerde<LabeledExample> serde = AvroSerde.forType(LabeledExample.class,
                SchemaRegistryClient.builder(registry).build());
        List<LabeledExample> examples = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, Duration.ofSeconds(10));
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    examples.add(serde.deserializer().deserialize(r.topic(), r.value()));
                }
            }
        }
        return examples;
    }

    @Test
    void severalTasksEachAtItsOwnPromptWithItsOwnLabelsAndFeedbackTopic() throws Exception {
        PipedOutputStream keyboard = new PipedOutputStream();
        PipedInputStream in = new PipedInputStream(keyboard);
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        CompletableFuture<String> demo = CompletableFuture.supplyAsync(() -> run(in, captured, "demo", "--device", "cpu",
                "--model", "demo-tiny", "--task", "tasks/emotion.yaml", "--task", "radr-intents"));
        String started = await(captured, demo, "Type a sentence");
        Matcher bootstrap = Pattern.compile("bootstrap servers  (\\S+)").matcher(started);
        Matcher registry = Pattern.compile("schema registry    (\\S+)").matcher(started);
        Matcher console = Pattern.compile("web console        (http://\\S+)").matcher(started);
        assertTrue(bootstrap.find() && registry.find() && console.find(), started);
        assertTrue(started.contains("topics             emotion: emotion.in -> emotion.classified"), started);
        assertTrue(started.contains("topics             radr-intents: radr-intents.in -> radr-intents.classified"),
                started);

        // The console's page opens at either task, and its API answers for the task the page names.
        for (String task : List.of("emotion", "radr-intents")) {
            var page = (java.net.HttpURLConnection) new java.net.URL(console.group(1) + "?task=" + task).openConnection();
            assertEquals(200, page.getResponseCode());
            String state = new String(new java.net.URL(console.group(1) + "api/state?task=" + task).openStream()
                    .readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(state.contains("\"task\":\"" + task + "\""), state);
        }

        String typed = "I am so happy today\n!confirm\n/task radr-intents\nRobLW an Zugführer, kommen.\n!joy\n"
                + "!confirm\n/tasks\n/task nope\n";
        keyboard.write(typed.getBytes(StandardCharsets.UTF_8));
        keyboard.flush();
        String output = await(captured, demo, "no task 'nope' in this demo");

        // Each line comes back from its own task, with that task's labels only.
        Matcher emotion = Pattern.compile("emotion> emotion: (\\S+)  \\(.*\n(.*)\n").matcher(output);
        assertTrue(emotion.find(), output);
        List<String> emotions = List.of("sadness", "joy", "love", "anger", "fear", "surprise");
        assertTrue(emotions.contains(emotion.group(1)), emotion.group());
        assertEquals(emotions, labelsOf(emotion.group(2)), emotion.group());
        Matcher radr = Pattern.compile("radr-intents> radr-intents: (\\S+)  \\(.*\n(.*)\n").matcher(output);
        assertTrue(radr.find(), output);
        List<String> intents = List.of("disconfirm", "order", "provide_info", "request_info", "call", "response_call",
                "other", "confirm");
        assertTrue(intents.contains(radr.group(1)), radr.group());
        assertEquals(intents, labelsOf(radr.group(2)), radr.group());

        // A label is the current task's: confirm is not an emotion, joy is not an intent.
        assertTrue(output.contains("emotion> error: 'confirm' is not a label of this task: [sadness, joy"), output);
        assertTrue(output.contains("task radr-intents: radr-intents.in -> radr-intents.classified"), output);
        assertTrue(output.contains("radr-intents> error: 'joy' is not a label of this task: [disconfirm"), output);
        assertTrue(output.contains("feedback sent to radr-intents.feedback: \"RobLW an Zugführer, kommen.\" is confirm"),
                output);
        assertTrue(output.contains("  emotion       serving base") && output.contains("* radr-intents  serving base"),
                output);

        // The correction is on the feedback topic of its task, and only there.
        List<LabeledExample> radrFeedback = feedback(bootstrap.group(1), registry.group(1), "radr-intents.feedback");
        assertEquals(1, radrFeedback.size(), radrFeedback.toString());
        assertEquals("RobLW an Zugführer, kommen.", radrFeedback.get(0).getText());
        assertEquals("confirm", radrFeedback.get(0).getLabel());
        assertEquals(List.of(), feedback(bootstrap.group(1), registry.group(1), "emotion.feedback"));

        keyboard.write("/quit\n".getBytes(StandardCharsets.UTF_8));
        keyboard.close();
        assertTrue(demo.get().startsWith("0\n"), captured.toString(StandardCharsets.UTF_8));
    }

    /** The labels of a probabilities line ("    joy 0.412 love 0.100 ..."), in order. */
    private static List<String> labelsOf(String probabilities) {
        List<String> labels = new ArrayList<>();
        String[] words = probabilities.strip().split("\\s+");
        for (int i = 0; i < words.length; i += 2) {
            labels.add(words[i]);
        }
        return labels;
    }
}
