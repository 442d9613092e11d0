package io.slmclassifier.kafka;

import io.slmclassifier.devkit.LocalKafkaBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
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
 */
public final class KafkaTestCluster implements BeforeAllCallback, AfterAllCallback {

    private static final Logger log = LoggerFactory.getLogger(KafkaTestCluster.class);

    private AutoCloseable broker;
    private String bootstrapServers;

    public String bootstrapServers() {
        if (bootstrapServers == null) {
            throw new IllegalStateException("the broker is not started: register KafkaTestCluster as a static"
                    + " @RegisterExtension field");
        }
        return bootstrapServers;
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
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
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
