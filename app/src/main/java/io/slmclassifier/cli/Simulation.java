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
 */
final class Simulation implements AutoCloseable {
    private static final int WINDOW = 50;

    private final LocalKafkaBroker broker;
    private final AvroSerde<LabeledExample> feedback;
    private final AvroSerde<Classification> results;
    private final PrintStream out;
    private final Map<String, String> truth = new ConcurrentHashMap<>();
    private final Thread users;
    private final Thread scorer;
    private volatile boolean running = true;

    Simulation(LocalKafkaBroker broker, SchemaRegistryClient registry, PrintStream out) {
        this.broker = broker;
        this.feedback = AvroSerde.forType(LabeledExample.class, registry);
        this.results = AvroSerde.forType(Classification.class, registry);
        this.out = out;
        this.users = new Thread(this::send, "simulated-users");
        this.scorer = new Thread(this::score, "simulation-scorer");
        users.setDaemon(true);
        scorer.setDaemon(true);
    }

    void start() {
        out.println("\nSimulating: 10 colour sentences a second with their labels; the accuracy of each "
                + WINDOW + " answers follows.");
        scorer.start();
        users.start();
    }

    private void send() {
        Map<String, Object> settings = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(settings, new ByteArraySerializer(), new ByteArraySerializer())) {
            long sent = 0;
            for (long seed = 1; running; seed++) {
                for (LabeledData.Example e : ColourTask.sentences(10, seed)) {
                    String id = "sim-" + sent++;
                    String label = ColourTask.LABELS.get(e.label());
                    truth.put(id, label);
                    byte[] key = id.getBytes(StandardCharsets.UTF_8);
                    producer.send(new ProducerRecord<>("intents.in", key, e.text().getBytes(StandardCharsets.UTF_8)));
                    producer.send(new ProducerRecord<>("intents.feedback", key, feedback.serializer().serialize(
                            "intents.feedback", LabeledExample.newBuilder().setId(id).setText(e.text()).setLabel(label)
                                    .setSource("simulation").setLabeledAt(Instant.now()).build())));
                }
                Thread.sleep(1000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void score() {
        ArrayDeque<Boolean> window = new ArrayDeque<>();
        String version = "base";
        try (KafkaConsumer<byte[], byte[]> consumer = DemoCommand.consumer(broker)) {
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    String expected = truth.remove(new String(r.key(), StandardCharsets.UTF_8));
                    if (expected == null) {
                        continue; // typed at the prompt
                    }
                    Classification c = results.deserializer().deserialize(r.topic(), r.value());
                    version = c.getAdapterVersion() == null ? "base" : c.getAdapterVersion().toString();
                    window.add(expected.equals(c.getLabel()));
                    if (window.size() == WINDOW) {
                        long right = window.stream().filter(b -> b).count();
                        out.printf("%n[simulation] accuracy of the last %d answers: %.2f (adapter %s)%n> ", WINDOW,
                                right / (double) WINDOW, version);
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
