package io.slmclassifier.cli;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabelProbability;
import io.slmclassifier.model.hub.HubException;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.stream.AvroSerde;
import io.slmclassifier.stream.LocalKafkaBroker;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.stream.ProcessorService;
import io.slmclassifier.stream.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.stream.registry.SchemaRegistryClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Everything on one machine: a real single-node Kafka broker and the embedded schema registry on loopback,
 * the stream processor, and a prompt where typed sentences go to {@code intents.in} and their classifications
 * come back from {@code intents.classified}.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run a local broker, registry and processor, and classify sentences typed at the prompt.")
public final class DemoCommand implements Callable<Integer> {

    static final String DEFAULT_MODEL = "Qwen/Qwen3-0.6B";

    @Option(names = "--model", description = ModelOptions.DESCRIPTION + " Default: " + DEFAULT_MODEL
            + ", or demo-tiny when it cannot be downloaded.")
    String model;

    @Option(names = "--task", defaultValue = "tasks/radr-intents.yaml", description = "Task file (default: ${DEFAULT-VALUE}).")
    Path task;

    @Option(names = "--registry-port", defaultValue = "0", description = "Registry port (default: a free one).")
    int registryPort;

    @Option(names = "--kafka-port", defaultValue = "0", description = "Broker port (default: a free one).")
    int kafkaPort;

    @Option(names = "--data-dir", description = "Keep broker data and processor state here across restarts.")
    Path dataDir;

    @Option(names = "--device", defaultValue = "auto") String device;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        ModelResolver resolver = ModelResolver.fromEnvironment();
        if (dataDir != null) {
            resolver = resolver.withDemoTinyDir(dataDir.resolve("models").resolve(ModelResolver.DEMO_TINY));
        }
        Path modelDir = resolveModel(model, resolver, out);
        Path state = dataDir != null ? dataDir.resolve("state") : Files.createTempDirectory("slm-demo-state-");
        LocalKafkaBroker.Builder brokerBuilder = LocalKafkaBroker.builder().port(kafkaPort);
        if (dataDir != null) {
            brokerBuilder.dataDir(dataDir.resolve("kafka"));
        }
        out.println("starting a local Kafka broker...");
        try (LocalKafkaBroker broker = brokerBuilder.start();
                EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.builder().kafka(broker.bootstrapServers())
                        .port(registryPort).start()) {
            Map<String, String> c = new HashMap<>();
            c.put("bootstrap.servers", broker.bootstrapServers());
            c.put("schema.registry.url", registry.url());
            c.put("model.dir", modelDir.toString());
            c.put("task.file", task.toString());
            c.put("device", device);
            c.put("state.dir", state.toString());
            c.put("metrics.port", "0");
            c.put("topics.partitions", "1");
            try (ProcessorService processor = new ProcessorService(ProcessorConfig.of(c));
                    KafkaProducer<byte[], byte[]> producer = producer(broker);
                    KafkaConsumer<byte[], byte[]> consumer = consumer(broker)) {
                // Ctrl-C: stop the processor cleanly (the broker's own hook stops the broker).
                Runtime.getRuntime().addShutdownHook(new Thread(processor::close, "demo-shutdown"));
                processor.start();
                while (processor.state() != KafkaStreams.State.RUNNING) {
                    Thread.sleep(100);
                }
                out.printf("%nbootstrap servers  %s%nschema registry    %s%ntopics             intents.in -> "
                        + "intents.classified (dead letters: intents.dlq)%nmetrics            http://127.0.0.1:%d/metrics%n",
                        broker.bootstrapServers(), registry.url(), processor.operationsPort());
                if (modelDir.equals(resolver.demoTinyDir()) || modelDir.endsWith("qwen3-tiny")) {
                    out.println("\n" + RANDOM_WEIGHTS_NOTE);
                }
                out.println("\nType a sentence and press Enter (Ctrl-D or Ctrl-C to stop).");
                AvroSerde<Classification> results = AvroSerde.forType(Classification.class,
                        SchemaRegistryClient.builder(registry.url()).build());
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                String line;
                out.print("> ");
                out.flush();
                while ((line = in.readLine()) != null) {
                    if (!line.isBlank()) {
                        String id = UUID.randomUUID().toString();
                        producer.send(new ProducerRecord<>("intents.in", id.getBytes(StandardCharsets.UTF_8),
                                line.getBytes(StandardCharsets.UTF_8))).get();
                        print(out, awaitResult(consumer, results, id));
                    }
                    out.print("> ");
                    out.flush();
                }
                out.println();
            }
        }
        return 0;
    }

    static final String RANDOM_WEIGHTS_NOTE = "This model has random weights: its labels mean nothing until the "
            + "trainer has learned from feedback.";

    /**
     * The model directory for a {@code --model} value; without one, the default model, or demo-tiny when the
     * default cannot be had (no network, offline, not cached), so the demo always starts.
     */
    static Path resolveModel(String spec, ModelResolver resolver, PrintStream out) throws IOException {
        if (spec != null) {
            return resolver.resolve(spec);
        }
        try {
            return resolver.resolve(DEFAULT_MODEL);
        } catch (HubException e) {
            out.println(DEFAULT_MODEL + " could not be downloaded: " + e.getMessage() + ".");
            out.println("Falling back to " + ModelResolver.DEMO_TINY + ", a tiny model with random weights.");
            return resolver.resolve(ModelResolver.DEMO_TINY);
        }
    }

    private static Classification awaitResult(KafkaConsumer<byte[], byte[]> consumer, AvroSerde<Classification> serde,
            String key) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                if (key.equals(new String(r.key(), StandardCharsets.UTF_8))) {
                    return serde.deserializer().deserialize(r.topic(), r.value());
                }
            }
        }
        throw new IllegalStateException("no classification came back within 60 s");
    }

    private static void print(PrintStream out, Classification c) {
        out.printf("%s  (%.3f)  adapter %s, %d ms%n", c.getLabel(),
                c.getProbabilities().get(c.getLabelIndex()).getProbability(),
                c.getAdapterVersion() == null ? "base" : c.getAdapterVersion(), c.getLatencyMs());
        StringBuilder all = new StringBuilder("   ");
        for (LabelProbability p : c.getProbabilities()) {
            all.append(String.format(" %s %.3f", p.getLabel(), p.getProbability()));
        }
        out.println(all);
    }

    private static KafkaProducer<byte[], byte[]> producer(LocalKafkaBroker broker) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static KafkaConsumer<byte[], byte[]> consumer(LocalKafkaBroker broker) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "demo-console-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.subscribe(List.of("intents.classified"));
        consumer.poll(Duration.ofMillis(500)); // join the group before the first sentence is sent
        return consumer;
    }
}
