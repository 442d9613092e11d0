package io.slmclassifier.console;

import java.util.Map;
import java.util.Properties;

/**
 * What the console needs once, at start, beside each task's {@link ConsoleSettings}: whether it listens at all, the
 * clients it starts with, and whether it creates the feedback topics it writes to, as the processor creates its own.
 * The stream side builds it from its configuration ({@code ProcessorConfig#consoleStartup}); the console reads no
 * configuration keys itself.
 *
 * @param enabled false when {@code console.port} is negative: no console
 * @param kafkaClient settings of a plain Kafka client (bootstrap servers and the {@code kafka.*} pass-through)
 * @param registryClient the schema registry client's settings
 * @param createTopics whether missing feedback topics are created, with {@code partitions} and {@code replication}
 */
public record ConsoleStartup(boolean enabled, Properties kafkaClient, Map<String, Object> registryClient,
        boolean createTopics, int partitions, int replication) {

    public ConsoleStartup {
        Properties copy = new Properties();
        copy.putAll(kafkaClient);
        kafkaClient = copy;
        registryClient = Map.copyOf(registryClient);
    }
}
