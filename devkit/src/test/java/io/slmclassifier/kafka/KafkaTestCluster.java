package io.slmclassifier.kafka;

import io.slmclassifier.devkit.LocalKafkaBroker;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One real Kafka broker per test class:
 *
 * <pre>
 * &#64;RegisterExtension
 * static final KafkaTestCluster kafka = new KafkaTestCluster();
 * ... kafka.bootstrapServers() ...
 * </pre>
 *
 * <p>Where Docker is available it runs the {@code apache/kafka} image through Testcontainers; elsewhere a
 * {@link LocalKafkaBroker} child process. The system property {@code kafka.test.broker} forces one:
 * {@code local}, {@code docker} or {@code auto} (the default). {@code kafka.test.image} picks the image.
 *
 * <p>{@link #withSchemaRegistry()} adds the embedded schema registry, started after the broker and closed before
 * it, for the tests of Avro topics. {@link #client()} and {@link #recordsOn} are what most tests ask of the broker.
 */
public final class KafkaTestCluster implements BeforeAllCallback, AfterAllCallback {

    private static final Logger log = LoggerFactory.getLogger(KafkaTestCluster.class);

    private final boolean withRegistry;
    private AutoCloseable broker;
    private String bootstrapServers;
    private EmbeddedSchemaRegistry registry;

    /** A broker alone. */
    public KafkaTestCluster() {
        this(false);
    }

    private KafkaTestCluster(boolean withRegistry) {
        this.withRegistry = withRegistry;
    }

    /** A broker with the embedded schema registry beside it. */
    public static KafkaTestCluster withSchemaRegistry() {
        return new KafkaTestCluster(true);
    }

    public String bootstrapServers() {
        if (bootstrapServers == null) {
            throw new IllegalStateException("the broker is not started: register KafkaTestCluster as a static"
                    + " @RegisterExtension field");
        }
        return bootstrapServers;
    }

    /** The registry's address; only with {@link #withSchemaRegistry()}. */
    public String schemaRegistryUrl() {
        if (registry == null) {
            throw new IllegalStateException(bootstrapServers == null ? "the broker is not started"
                    : "no schema registry: make the extension with KafkaTestCluster.withSchemaRegistry()");
        }
        return registry.url();
    }

    /** A client of the registry; only with {@link #withSchemaRegistry()}. */
    public SchemaRegistryClient registryClient() {
        return SchemaRegistryClient.builder(schemaRegistryUrl()).build();
    }

    /** The configuration of a Kafka client of this broker: its bootstrap servers alone. */
    public Properties client() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrapServers());
        return p;
    }

    /** How many records the topic holds: its end offsets, summed over its partitions. */
    public long recordsOn(String topic) {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(client(), new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            return consumer.endOffsets(partitions).values().stream().mapToLong(Long::longValue).sum();
        }
    }

    /** The local broker when that is what runs (to restart it, read its log); null under Docker. */
    public LocalKafkaBroker localBroker() {
        return broker instanceof LocalKafkaBroker local ? local : null;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        String mode = System.getProperty("kafka.test.broker", "auto").toLowerCase(Locale.ROOT);
        boolean docker = switch (mode) {
            case "docker" -> true;
            case "local" -> false;
            default -> dockerAvailable();
        };
        if (docker) {
            String image = System.getProperty("kafka.test.image", "apache/kafka:4.4.0");
            var container = new org.testcontainers.kafka.KafkaContainer(image);
            container.start();
            broker = container::stop;
            bootstrapServers = container.getBootstrapServers();
            log.info("Kafka for {} runs in Docker ({}) at {}", context.getDisplayName(), image, bootstrapServers);
        } else {
            LocalKafkaBroker local = LocalKafkaBroker.start();
            broker = local;
            bootstrapServers = local.bootstrapServers();
        }
        if (withRegistry) {
            registry = EmbeddedSchemaRegistry.builder().kafka(bootstrapServers).start();
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (registry != null) {
            registry.close();
            registry = null;
        }
        if (broker != null) {
            broker.close();
            broker = null;
            bootstrapServers = null;
        }
    }

    static boolean dockerAvailable() {
        // Ask Testcontainers only where a Docker endpoint may exist: without one it logs an ERROR per probe.
        boolean endpointHint = System.getenv("DOCKER_HOST") != null
                || Files.exists(Path.of("/var/run/docker.sock"))
                || Files.exists(Path.of(System.getProperty("user.home"), ".docker", "run", "docker.sock"))
                || Files.exists(Path.of(System.getProperty("user.home"), ".testcontainers.properties"));
        if (!endpointHint) {
            return false;
        }
        try {
            return org.testcontainers.DockerClientFactory.instance().isDockerAvailable();
        } catch (Throwable noDocker) {
            // Testcontainers throws or fails to link in odd environments: no Docker, then.
            return false;
        }
    }
}
