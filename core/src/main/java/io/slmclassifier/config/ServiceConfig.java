package io.slmclassifier.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * A service's one typed configuration, from layers, later ones winning: the service's documented defaults, a
 * properties file, the environment ({@code SLM_} + the key upper-cased with dots as underscores, e.g.
 * {@code SLM_BOOTSTRAP_SERVERS}), and command-line overrides. Keys starting with {@code kafka.} are handed,
 * without the prefix, to every Kafka client; secrets can therefore come from the environment
 * ({@code SLM_KAFKA_SASL_JAAS_CONFIG}) instead of the file. Any documented key can also be read from a file
 * named by {@code <key>.file} ({@code SLM_CONSOLE_TOKEN_FILE=/run/secrets/console-token}, say).
 */
public class ServiceConfig {
    private final Map<String, String> values;

    protected ServiceConfig(Map<String, String> values) {
        this.values = Map.copyOf(values);
    }

    /** A configuration over {@code defaults} (rows of key, default, meaning). */
    public static ServiceConfig load(String[][] defaults, Path file, Map<String, String> environment,
            Map<String, String> overrides) throws IOException {
        return new ServiceConfig(layers(defaults, file, environment, overrides));
    }

    /** Merges the layers over {@code defaults} (rows of key, default, meaning). */
    protected static Map<String, String> layers(String[][] defaults, Path file, Map<String, String> environment,
            Map<String, String> overrides) throws IOException {
        Map<String, String> values = new TreeMap<>();
        for (String[] d : defaults) {
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
        readSecretFiles(defaults, values);
        return values;
    }

    /**
     * {@code <key>.file} (or {@code SLM_<KEY>_FILE}) names a file whose content is the value of {@code <key>}: a
     * token from a mounted secret, never on a command line where {@code ps} shows it.
     */
    private static void readSecretFiles(String[][] defaults, Map<String, String> values) throws IOException {
        for (String[] d : defaults) {
            String path = values.get(d[0] + ".file");
            if (path == null || path.isBlank()) {
                continue;
            }
            if (!values.get(d[0]).equals(d[1])) {
                throw new IllegalArgumentException("configuration '" + d[0] + "' is given twice: as a value and as "
                        + d[0] + ".file");
            }
            Path file = Path.of(path.strip());
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("configuration '" + d[0] + ".file': no such file " + file);
            }
            values.put(d[0], Files.readString(file, StandardCharsets.UTF_8).strip());
        }
    }

    /** {@code key=value} pairs from repeated command-line flags. */
    public static Map<String, String> parseOverrides(List<String> pairs) {
        Map<String, String> sets = new LinkedHashMap<>();
        for (String kv : pairs) {
            int eq = kv.indexOf('=');
            if (eq < 1) {
                throw new IllegalArgumentException("--set wants key=value, not " + kv);
            }
            sets.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return sets;
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

    public long getLong(String key) {
        try {
            return Long.parseLong(get(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("configuration '" + key + "' must be a whole number, not '" + get(key) + "'");
        }
    }

    public double getDouble(String key) {
        try {
            return Double.parseDouble(get(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("configuration '" + key + "' must be a number, not '" + get(key) + "'");
        }
    }

    public boolean getBoolean(String key) {
        String v = get(key).strip().toLowerCase();
        if (!v.equals("true") && !v.equals("false")) {
            throw new IllegalArgumentException("configuration '" + key + "' must be true or false, not '" + get(key) + "'");
        }
        return v.equals("true");
    }

    /** A comma-separated list, blanks dropped. */
    public List<String> getList(String key) {
        List<String> out = new ArrayList<>();
        for (String part : get(key).split(",")) {
            if (!part.isBlank()) {
                out.add(part.strip());
            }
        }
        return out;
    }

    /**
     * The most bytes of one dead letter: {@code dlq.record.max.bytes}, or the producer's {@code max.request.size}
     * where that is set lower, since the producer refuses anything larger (the services check it against
     * {@code DeadLetters.checkLimit} at start).
     */
    public int deadLetterMaxBytes() {
        return Math.min(getInt("dlq.record.max.bytes"), producerMaxRequestSize());
    }

    /** The most bytes of one record the producer sends: its {@code max.request.size}, as passed through or Kafka's default. */
    public int producerMaxRequestSize() {
        int most = 1_048_576;
        for (String producerLimit : List.of("kafka.max.request.size", "kafka.producer.max.request.size")) {
            if (!get(producerLimit).isBlank()) {
                most = getInt(producerLimit);
            }
        }
        return most;
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

    /** Settings of a plain Kafka client (producer, consumer, admin): the bootstrap servers and the pass-through. */
    public Properties kafkaClient() {
        Properties p = new Properties();
        p.put("bootstrap.servers", get("bootstrap.servers"));
        p.putAll(kafkaPassThrough());
        return p;
    }

    /** The registry client settings: URL and optional basic or bearer credentials. */
    public Map<String, Object> registryClient() {
        Map<String, Object> registry = new java.util.HashMap<>();
        registry.put("schema.registry.url", require("schema.registry.url"));
        if (!get("schema.registry.basic.auth.user.info").isBlank()) {
            registry.put("basic.auth.user.info", get("schema.registry.basic.auth.user.info"));
        }
        if (!get("schema.registry.bearer.token").isBlank()) {
            registry.put("bearer.auth.token", get("schema.registry.bearer.token"));
        }
        return registry;
    }

    public Map<String, String> asMap() {
        return values;
    }
}
