package io.slmclassifier.stream;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * The stream processor's one typed configuration, from three layers, later ones winning: the documented
 * defaults below, a properties file, the environment ({@code SLM_} + the key upper-cased with dots as
 * underscores, e.g. {@code SLM_BOOTSTRAP_SERVERS}), and command-line overrides. Keys starting with
 * {@code kafka.} are handed, without the prefix, to every Kafka client and to Kafka Streams (SASL, SSL, ...);
 * secrets can therefore come from the environment ({@code SLM_KAFKA_SASL_JAAS_CONFIG}) instead of the file.
 */
public final class ProcessorConfig {

    /** Key, default, meaning: the reference the README's configuration table is made from. */
    public static final String[][] DEFAULTS = {
        {"bootstrap.servers", "localhost:9092", "Kafka bootstrap servers"},
        {"application.id", "slm-classifier", "Kafka Streams application id (consumer group, state, transactions)"},
        {"processing.guarantee", "exactly_once_v2", "exactly_once_v2 or at_least_once"},
        {"num.stream.threads", "1", "stream threads; all share the one inference worker"},
        {"state.dir", "", "Kafka Streams state directory (empty: the Streams default under the temp dir)"},
        {"input.topic", "intents.in", "texts to classify: UTF-8 text or Avro TextMessage"},
        {"input.format", "auto", "auto (registry wire format recognised), text or avro"},
        {"output.topic", "intents.classified", "Avro Classification results"},
        {"dlq.topic", "intents.dlq", "records that could not be classified, with error headers"},
        {"schema.registry.url", "", "Confluent-compatible schema registry (required: results are Avro)"},
        {"schema.registry.basic.auth.user.info", "", "user:password for the registry"},
        {"schema.registry.bearer.token", "", "bearer token for the registry"},
        {"model.dir", "", "Hugging Face model directory"},
        {"model.id", "", "model id stamped on results (default: the directory name)"},
        {"task.file", "", "task file (YAML or JSON)"},
        {"device", "auto", "cpu, gpu or auto"},
        {"batch.max.size", "32", "most records per forward pass"},
        {"batch.token.budget", "8192", "most padded tokens per forward pass"},
        {"batch.linger.ms", "10", "how long a record may wait for others before its batch runs"},
        {"inference.timeout.ms", "5000", "a batch running longer than this is logged (the stream thread never waits for it)"},
        {"text.max.chars", "10000", "longer texts are truncated or rejected (text.too.long)"},
        {"text.too.long", "truncate", "truncate (and flag the result) or reject (to the dead-letter topic)"},
        {"topics.create", "true", "create missing topics at start"},
        {"topics.partitions", "3", "partitions of created topics"},
        {"topics.replication", "1", "replication factor of created topics"},
        {"metrics.port", "9400", "HTTP port of /metrics and /health/*; 0 picks a free port, -1 disables"},
    };

    private final Map<String, String> values;

    private ProcessorConfig(Map<String, String> values) {
        this.values = values;
    }

    public static ProcessorConfig load(Path file, Map<String, String> environment, Map<String, String> overrides)
            throws IOException {
        Map<String, String> values = new TreeMap<>();
        for (String[] d : DEFAULTS) {
            values.put(d[0], d[1]);
        }
        if (file != null) {
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("configuration file not found: " + file);
            }
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(r);
            }
            p.stringPropertyNames().forEach(k -> values.put(k, p.getProperty(k).trim()));
        }
        for (Map.Entry<String, String> e : environment.entrySet()) {
            if (e.getKey().startsWith("SLM_")) {
                values.put(e.getKey().substring(4).toLowerCase().replace('_', '.'), e.getValue());
            }
        }
        values.putAll(overrides);
        return new ProcessorConfig(values);
    }

    public static ProcessorConfig of(Map<String, String> overrides) {
        try {
            return load(null, Map.of(), overrides);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public String get(String key) {
        return values.getOrDefault(key, "");
    }

    public String require(String key) {
        String v = get(key);
        if (v.isBlank()) {
            throw new IllegalArgumentException("configuration '" + key + "' is required (or SLM_"
                    + key.toUpperCase().replace('.', '_') + ")");
        }
        return v;
    }

    public int getInt(String key) {
        try {
            return Integer.parseInt(get(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("configuration '" + key + "' must be a whole number, not '" + get(key) + "'");
        }
    }

    public boolean getBoolean(String key) {
        return Boolean.parseBoolean(get(key));
    }

    /** Everything under {@code kafka.}, without the prefix: client and Streams settings passed through. */
    public Map<String, String> kafkaPassThrough() {
        Map<String, String> out = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith("kafka.")) {
                out.put(k.substring("kafka.".length()), v);
            }
        });
        return out;
    }

    public Map<String, String> asMap() {
        return Map.copyOf(values);
    }
}
