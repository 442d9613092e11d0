package io.slmclassifier.cli;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.devkit.LocalKafkaBroker;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.train.ColourTask;
import io.slmclassifier.train.LabeledData;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The demo's synthetic users: ten colour sentences a second go to {@code intents.in}, each with its true label
 * to {@code intents.feedback}; the answers coming back are scored, and the accuracy of every 50 is printed
 * with the adapter version that gave them, so the trainer's progress can be watched.
 *
 * <p>With several tasks each task gets ten sentences a second of its own, on its own input and feedback topics, and
 * its own accuracy lines. Only the colours task has sentences written for it; every other task gets sentences of
 * the same kind made of its own labels (one label hidden among filler words), which a model learns as quickly.
 */
final class Simulation implements AutoCloseable {
    private static final int WINDOW = 50;

    private final LocalKafkaBroker broker;
    private final AvroSerde<LabeledExample> feedback;
    private final AvroSerde<Classification> results;
    private final PrintStream out;
    private final List<DemoPrompt.DemoTask> tasks;
    private final java.util.function.Supplier<String> prompt;
    private final Map<String, String> truth = new ConcurrentHashMap<>();
    private final Thread users;
    private final Thread scorer;
    private volatile boolean running = true;

    /** @param prompt the prompt as it is now, shown again after each accuracy line */
    Simulation(LocalKafkaBroker broker, SchemaRegistryClient registry, PrintStream out, List<DemoPrompt.DemoTask> tasks,
            java.util.function.Supplier<String> prompt) {
        this.broker = broker;
        this.tasks = List.copyOf(tasks);
        this.prompt = prompt;
        this.feedback = AvroSerde.forType(LabeledExample.class, registry);
        this.results = AvroSerde.forType(Classification.class, registry);
        this.out = out;
        this.users = new Thread(this::send, "simulated-users");
        this.scorer = new Thread(this::score, "simulation-scorer");
        users.setDaemon(true);
        scorer.setDaemon(true);
    }

    private boolean severalTasks() {
        return tasks.size() > 1;
    }

    void start() {
        if (severalTasks()) {
            out.println("\nSimulating: 10 sentences a second for each task with their labels (colours: colour "
                    + "sentences; any other task: one of its labels among filler words); each task's accuracy of "
                    + "each " + WINDOW + " answers follows.");
        } else {
            out.println("\nSimulating: 10 colour sentences a second with their labels; the accuracy of each "
                    + WINDOW + " answers follows.");
        }
        scorer.start();
        users.start();
    }

    private void send() {
        Map<String, Object> settings = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(settings, new ByteArraySerializer(), new ByteArraySerializer())) {
            long sent = 0;
            for (long seed = 1; running; seed++) {
                for (DemoPrompt.DemoTask task : tasks) {
                    for (LabeledData.Example e : ColourTask.sentences(task.labels(), 10, seed)) {
                        String id = "sim-" + sent++;
                        String label = task.labels().get(e.label());
                        truth.put(id, label);
                        byte[] key = id.getBytes(StandardCharsets.UTF_8);
                        producer.send(new ProducerRecord<>(task.inputTopic(), key, e.text().getBytes(StandardCharsets.UTF_8)));
                        producer.send(new ProducerRecord<>(task.feedbackTopic(), key, feedback.serializer().serialize(
                                task.feedbackTopic(), LabeledExample.newBuilder().setId(id).setText(e.text())
                                        .setLabel(label).setSource("simulation").setLabeledAt(Instant.now()).build())));
                    }
                }
                Thread.sleep(1000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void score() {
        // Each task's answers scored apart, by the output topic they came from.
        Map<String, ArrayDeque<Boolean>> windows = new java.util.HashMap<>();
        Map<String, String> taskOfTopic = new java.util.HashMap<>();
        tasks.forEach(task -> taskOfTopic.put(task.outputTopic(), task.name()));
        try (KafkaConsumer<byte[], byte[]> consumer = DemoCommand.consumer(broker, List.copyOf(taskOfTopic.keySet()))) {
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    String expected = truth.remove(new String(r.key(), StandardCharsets.UTF_8));
                    if (expected == null) {
                        continue; // typed at the prompt
                    }
                    Classification c = results.deserializer().deserialize(r.topic(), r.value());
                    String version = c.getAdapterVersion() == null ? "base" : c.getAdapterVersion().toString();
                    String task = taskOfTopic.get(r.topic());
                    ArrayDeque<Boolean> window = windows.computeIfAbsent(task, t -> new ArrayDeque<>());
                    window.add(expected.equals(c.getLabel()));
                    if (window.size() == WINDOW) {
                        long right = window.stream().filter(b -> b).count();
                        out.printf("%n[simulation] %saccuracy of the last %d answers: %.2f (adapter %s)%n%s",
                                severalTasks() ? task + ": " : "", WINDOW, right / (double) WINDOW, version,
                                prompt.get());
                        out.flush();
                        window.clear();
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        running = false;
        users.interrupt();
        try {
            users.join(5000);
            scorer.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
