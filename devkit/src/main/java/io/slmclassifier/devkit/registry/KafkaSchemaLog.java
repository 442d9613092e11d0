package io.slmclassifier.devkit.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.kafka.registry.CompatibilityLevel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link SchemaLog} in a single-partition compacted Kafka topic ({@code _schemas} by default).
 *
 * <p>Records are JSON, laid out like Confluent Schema Registry's: the value of a schema record carries subject,
 * version, id and schema. The key also carries the id, so that when two registries race for the same subject
 * version both records survive compaction and every replay picks the same winner (the first in the log).
 */
public final class KafkaSchemaLog implements SchemaLog {

    public static final String DEFAULT_TOPIC = "_schemas";

    private static final Logger log = LoggerFactory.getLogger(KafkaSchemaLog.class);
    private static final ObjectMapper json = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final String topic;
    private final TopicPartition partition;
    private final KafkaProducer<byte[], byte[]> producer;
    private final KafkaConsumer<byte[], byte[]> consumer;

    /**
     * Opens the log, creating the topic when it does not exist.
     *
     * @param kafkaConfig client configuration (bootstrap.servers, security settings); passed to the admin
     *                    client, producer and consumer alike
     * @param replicationFactor replication of the topic when it is created; -1 picks min(3, brokers)
     */
    public KafkaSchemaLog(Map<String, Object> kafkaConfig, String topic, int replicationFactor) {
        this.topic = topic;
        this.partition = new TopicPartition(topic, 0);
        createTopicIfMissing(kafkaConfig, replicationFactor);

        Map<String, Object> producerConfig = new HashMap<>(kafkaConfig);
        producerConfig.put(ProducerConfig.ACKS_CONFIG, "all");
        producerConfig.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        producerConfig.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        producerConfig.put(ProducerConfig.CLIENT_ID_CONFIG, "schema-registry-writer");
        this.producer = new KafkaProducer<>(producerConfig, new ByteArraySerializer(), new ByteArraySerializer());

        Map<String, Object> consumerConfig = new HashMap<>(kafkaConfig);
        // No group: the registry reads the whole topic on its own every time it starts.
        consumerConfig.remove(ConsumerConfig.GROUP_ID_CONFIG);
        consumerConfig.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        consumerConfig.put(ConsumerConfig.CLIENT_ID_CONFIG, "schema-registry-reader");
        this.consumer = new KafkaConsumer<>(consumerConfig, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.assign(List.of(partition));
        consumer.seekToBeginning(List.of(partition));
    }

    @Override
    public void append(Entry entry) {
        ObjectNode key = json.createObjectNode();
        ObjectNode value = json.createObjectNode();
        if (entry instanceof SchemaEntry schema) {
            key.put("keytype", "SCHEMA").put("subject", schema.subject()).put("version", schema.version())
                    .put("id", schema.id()).put("magic", 1);
            value.put("subject", schema.subject()).put("version", schema.version()).put("id", schema.id())
                    .put("schema", schema.schema()).put("deleted", false);
        } else if (entry instanceof ConfigEntry config) {
            key.put("keytype", "CONFIG").put("subject", config.subject()).put("magic", 0);
            value.put("compatibilityLevel", config.level().name());
        }
        try {
            producer.send(new ProducerRecord<>(topic, 0, bytes(key), bytes(value)))
                    .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while writing to " + topic, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not write to " + topic + ": " + e.getMessage(), e);
        }
    }

    @Override
    public List<Entry> readNew() {
        long end = consumer.endOffsets(List.of(partition), TIMEOUT).get(partition);
        List<Entry> entries = new ArrayList<>();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (consumer.position(partition, TIMEOUT) < end) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("could not read " + topic + " up to offset " + end + " within "
                        + TIMEOUT.toSeconds() + " s");
            }
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                Entry entry = parse(record);
                if (entry != null) {
                    entries.add(entry);
                }
            }
        }
        return entries;
    }

    private Entry parse(ConsumerRecord<byte[], byte[]> record) {
        if (record.key() == null || record.value() == null) {
            return null; // tombstone: nothing this registry writes, nothing it needs
        }
        try {
            JsonNode key = json.readTree(record.key());
            JsonNode value = json.readTree(record.value());
            switch (key.path("keytype").asText()) {
                case "SCHEMA":
                    if (value.path("deleted").asBoolean(false)) {
                        return null;
                    }
                    return new SchemaEntry(value.path("subject").asText(), value.path("version").asInt(),
                            value.path("id").asInt(), value.path("schema").asText());
                case "CONFIG":
                    String subject = key.path("subject").isTextual() ? key.path("subject").asText() : null;
                    return new ConfigEntry(subject,
                            CompatibilityLevel.valueOf(value.path("compatibilityLevel").asText()));
                default:
                    return null; // NOOP and other record types of other registries
            }
        } catch (IOException | RuntimeException e) {
            log.warn("Skipping unreadable record at offset {} of {}: {}", record.offset(), topic, e.toString());
            return null;
        }
    }

    private void createTopicIfMissing(Map<String, Object> kafkaConfig, int replicationFactor) {
        Map<String, Object> adminConfig = new HashMap<>(kafkaConfig);
        adminConfig.putIfAbsent(AdminClientConfig.CLIENT_ID_CONFIG, "schema-registry-admin");
        try (Admin admin = Admin.create(adminConfig)) {
            Map<String, TopicDescription> existing = admin.describeTopics(Set.of(topic)).allTopicNames()
                    .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            checkExisting(admin, existing.get(topic));
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException)) {
                throw new IllegalStateException("could not describe topic " + topic + ": " + e.getMessage(), e);
            }
            create(adminConfig, replicationFactor);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while describing " + topic, e);
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka did not answer within " + TIMEOUT.toSeconds() + " s", e);
        }
    }

    private void create(Map<String, Object> adminConfig, int replicationFactor) {
        try (Admin admin = Admin.create(adminConfig)) {
            int brokers = admin.describeCluster().nodes().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).size();
            short replicas = (short) (replicationFactor > 0 ? replicationFactor : Math.min(3, brokers));
            // One partition: the log order is the order in which ids were handed out.
            NewTopic newTopic = new NewTopic(topic, 1, replicas)
                    .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
            admin.createTopics(List.of(newTopic)).all().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            log.info("Created schema topic {} (compacted, 1 partition, replication {})", topic, replicas);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException("could not create topic " + topic + ": " + e.getMessage(), e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating " + topic, e);
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka did not answer within " + TIMEOUT.toSeconds() + " s", e);
        }
    }

    private void checkExisting(Admin admin, TopicDescription description) throws ExecutionException,
            InterruptedException, TimeoutException {
        if (description.partitions().size() != 1) {
            throw new IllegalStateException("schema topic " + topic + " has " + description.partitions().size()
                    + " partitions; it needs exactly one so that its order is the order of registration");
        }
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        String policy = admin.describeConfigs(List.of(resource)).all().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .get(resource).get(TopicConfig.CLEANUP_POLICY_CONFIG).value();
        if (!policy.contains(TopicConfig.CLEANUP_POLICY_COMPACT) || policy.contains(TopicConfig.CLEANUP_POLICY_DELETE)) {
            // Time-based deletion would eventually lose schemas, and every record written with them.
            log.warn("Schema topic {} has cleanup.policy={}; it should be compact alone or old schemas will be "
                    + "deleted", topic, policy);
        }
    }

    private static byte[] bytes(JsonNode node) {
        try {
            return json.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
        consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
    }
}
