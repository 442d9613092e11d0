package io.slmclassifier.cli;

import io.slmclassifier.config.ConfigDefinitions;
import io.slmclassifier.config.ConfigDefinitions.Type;
import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.ops.ServiceKeys;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.train.TrainerConfig;
import io.slmclassifier.kafka.KafkaReachability;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.kafka.registry.SchemaRegistryException;
import io.slmclassifier.ops.ConfigOptions;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Reads a topic and prints each record as one JSON line ({@link RecordJson}): Avro values decoded through the
 * registry, as {@code kafka-avro-console-consumer} does, and dead letters with their headers. It reads every
 * partition without a consumer group, so it commits nothing and moves no one's offsets.
 */
@Command(name = "consume", mixinStandardHelpOptions = true,
        description = "Print the records of a topic as JSON lines, Avro values decoded through the schema registry.")
public final class ConsumeCommand implements Callable<Integer> {
    @Mixin
    LogOptions logging;

    /** The settings this command reads; a processor's or trainer's file works as it is (their other keys are left alone). */
    static final ConfigDefinitions DEFINITIONS = new ConfigDefinitions()
        .define(ServiceKeys.BOOTSTRAP_SERVERS)
        .define("schema.registry.url", Type.STRING, "", ServiceKeys.KAFKA, "schema registry; without one, Avro values are printed as their bytes")
        .define(ServiceKeys.REGISTRY_USER_INFO)
        .define(ServiceKeys.REGISTRY_BEARER_TOKEN)
        .alsoAccepting(ProcessorConfig.DEFINITIONS, TrainerConfig.DEFINITIONS);

    /** How long to wait for Kafka and the registry to answer when --timeout-ms does not say. */
    private static final long STARTUP_TIMEOUT_MS = 30_000;

    @Option(names = "--topic", required = true, description = "The topic to read.")
    String topic;

    @Option(names = "--from-beginning", description = "Start at the oldest record; without it, only records that "
            + "arrive from now on.")
    boolean fromBeginning;

    @Option(names = "--max-messages", description = "Stop after this many records.")
    Long maxMessages;

    @Option(names = "--timeout-ms", description = "Stop when no record has come for this long; also how long to "
            + "wait for Kafka and the registry to answer (default: read until Ctrl-C; 30000 for the answer).")
    Long timeoutMs;

    @Option(names = "--bootstrap-servers", description = "Kafka bootstrap servers (default: bootstrap.servers of "
            + "--config, else localhost:9092).")
    String bootstrapServers;

    @Option(names = "--registry-url", description = "Schema registry URL (default: schema.registry.url of --config; "
            + "without any, Avro values are printed as base64).")
    String registryUrl;

    @Mixin
    ConfigOptions config;

    @Override
    public Integer call() throws Exception {
        Map<String, String> overrides = new HashMap<>(config.overrides());
        if (bootstrapServers != null) {
            overrides.put("bootstrap.servers", bootstrapServers);
        }
        if (registryUrl != null) {
            overrides.put("schema.registry.url", registryUrl);
        }
        ServiceConfig settings = ServiceConfig.load(DEFINITIONS, config.file(), System.getenv(), overrides);
        Duration startup = Duration.ofMillis(timeoutMs != null ? timeoutMs : STARTUP_TIMEOUT_MS);
        // Both before any client exists: left to themselves they would retry for minutes, warning on every try.
        KafkaReachability.await(settings.get("bootstrap.servers"), startup, "--bootstrap-servers; --timeout-ms");
        SchemaRegistryClient registry = settings.get("schema.registry.url").isBlank() ? null
                : reachableRegistry(settings, startup);

        Properties client = new Properties();
        client.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // Reading a misspelled topic must not create it on a broker that creates topics on first use.
        client.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        // What the services committed; aborted transactions (a processor killed mid-batch) are not news.
        client.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        client.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, String.valueOf(startup.toMillis()));
        client.putAll(settings.kafkaClient());
        RecordJson json = new RecordJson(registry);
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(client, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = partitions(consumer, settings.get("bootstrap.servers"), startup);
            consumer.assign(partitions);
            if (fromBeginning) {
                consumer.seekToBeginning(partitions);
            } else {
                consumer.seekToEnd(partitions);
            }
            // The positions are looked up lazily; fixed now, "from now on" means from this moment, not the first poll.
            partitions.forEach(consumer::position);

            // Ctrl-C ends the poll instead of the JVM in mid-line; the count is printed as after any other end.
            CountDownLatch finished = new CountDownLatch(1);
            Thread onInterrupt = new Thread(() -> {
                consumer.wakeup();
                try {
                    finished.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "consume-shutdown");
            Runtime.getRuntime().addShutdownHook(onInterrupt);
            long printed = 0;
            try {
                printed = print(consumer, json, out);
            } finally {
                out.flush();
                System.err.printf("consumed %d record(s) from %s%n", printed, topic);
                finished.countDown();
                try {
                    Runtime.getRuntime().removeShutdownHook(onInterrupt);
                } catch (IllegalStateException shuttingDown) {
                    // Ctrl-C: the hook is running, and waited for the line above.
                }
            }
        }
        return 0;
    }

    /** Prints records until --max-messages, --timeout-ms without one, or Ctrl-C; returns how many it printed. */
    private long print(KafkaConsumer<byte[], byte[]> consumer, RecordJson json, PrintStream out) {
        long printed = 0;
        long lastRecord = System.nanoTime();
        try {
            while (maxMessages == null || printed < maxMessages) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<byte[], byte[]> record : records) {
                    out.println(json.of(record));
                    printed++;
                    if (maxMessages != null && printed >= maxMessages) {
                        break;
                    }
                }
                out.flush();
                if (!records.isEmpty()) {
                    lastRecord = System.nanoTime();
                } else if (timeoutMs != null && System.nanoTime() - lastRecord > timeoutMs * 1_000_000) {
                    break;
                }
            }
        } catch (WakeupException interrupted) {
            // Ctrl-C: what was printed stands.
        }
        return printed;
    }

    private List<TopicPartition> partitions(KafkaConsumer<byte[], byte[]> consumer, String servers, Duration timeout) {
        List<PartitionInfo> found;
        try {
            found = consumer.partitionsFor(topic, timeout);
        } catch (TimeoutException e) {
            throw new IllegalArgumentException("cannot read the partitions of " + topic + " from Kafka at " + servers
                    + " within " + timeout.toSeconds() + " s (--bootstrap-servers; --timeout-ms)");
        }
        if (found == null || found.isEmpty()) {
            throw new IllegalArgumentException("no topic " + topic + " on Kafka at " + servers);
        }
        return found.stream().map(p -> new TopicPartition(p.topic(), p.partition())).toList();
    }

    /** The registry, asked once and without retries whether it answers: one line, not a warning per retry. */
    private static SchemaRegistryClient reachableRegistry(ServiceConfig settings, Duration timeout) {
        Map<String, Object> once = new HashMap<>(settings.registryClient());
        once.put(SchemaRegistryClient.MAX_RETRIES_CONFIG, 0);
        once.put(SchemaRegistryClient.REQUEST_TIMEOUT_MS_CONFIG, timeout.toMillis());
        SchemaRegistryClient registry = SchemaRegistryClient.fromConfig(once);
        try {
            registry.subjects();
        } catch (SchemaRegistryException e) {
            Throwable cause = e;
            while (cause.getCause() != null) {
                cause = cause.getCause();
            }
            throw new IllegalArgumentException("cannot reach the schema registry at " + registry.urls() + " within "
                    + timeout.toSeconds() + " s: " + (cause.getMessage() == null ? cause.getClass().getSimpleName()
                    : cause.getMessage()) + " (--registry-url; --timeout-ms)", e);
        }
        return SchemaRegistryClient.fromConfig(settings.registryClient());
    }
}
