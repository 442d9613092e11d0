package io.slmclassifier.kafka;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates the topics a service needs when they are missing; existing topics are left as they are. */
public final class Topics {
    private static final Logger log = LoggerFactory.getLogger(Topics.class);

    private Topics() {}

    public static NewTopic plain(String name, int partitions, int replication) {
        return new NewTopic(name, partitions, (short) replication);
    }

    /** Compacted: the last record per key is kept forever (control, adapters, dataset). */
    public static NewTopic compacted(String name, int partitions, int replication) {
        return new NewTopic(name, partitions, (short) replication)
                .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
    }

    public static void ensure(Properties client, List<NewTopic> topics) throws Exception {
        try (Admin admin = Admin.create(client)) {
            Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            List<NewTopic> missing = new ArrayList<>();
            for (NewTopic t : topics) {
                if (!existing.contains(t.name()) && missing.stream().noneMatch(m -> m.name().equals(t.name()))) {
                    missing.add(t);
                }
            }
            if (!missing.isEmpty()) {
                try {
                    admin.createTopics(missing).all().get(30, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    // Another instance starting at the same time may have created them first.
                    if (!(e.getCause() instanceof org.apache.kafka.common.errors.TopicExistsException)) {
                        throw e;
                    }
                }
                log.info("Created topics {}", missing.stream().map(NewTopic::name).toList());
            }
        }
    }

    /**
     * Each topic's {@code max.message.bytes}: the broker refuses a larger record batch, and under exactly-once a
     * refused record aborts the transaction that carried it (so the records that produced it come back, and fail
     * again). Topics whose limit cannot be read (they do not exist yet, or describing them is not allowed) are left
     * out: the caller keeps its configured bound for them.
     */
    public static Map<String, Integer> maxMessageBytes(Properties client, List<String> topics) {
        Map<String, Integer> out = new java.util.HashMap<>();
        try (Admin admin = Admin.create(client)) {
            List<ConfigResource> resources = topics.stream().distinct()
                    .map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).toList();
            admin.describeConfigs(resources).values().forEach((resource, config) -> {
                try {
                    ConfigEntry entry = config.get(30, TimeUnit.SECONDS).get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG);
                    if (entry != null && entry.value() != null) {
                        out.put(resource.name(), Integer.parseInt(entry.value()));
                    }
                } catch (Exception e) {
                    log.warn("Cannot read max.message.bytes of {} ({}); the configured bound stands", resource.name(),
                            e.getCause() != null ? e.getCause().toString() : e.toString());
                }
            });
        }
        return out;
    }
}
