package io.slmclassifier.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.LoggerFactory;

/**
 * A service's one typed configuration, from layers, later ones winning: the defaults of its
 * {@link ConfigDefinitions}, a properties file, the environment ({@code SLM_} + the key upper-cased with dots as
 * underscores, e.g. {@code SLM_BOOTSTRAP_SERVERS}), and command-line overrides. Keys starting with {@code kafka.}
 * are handed, without the prefix, to every Kafka client; secrets can therefore come from the environment
 * ({@code SLM_KAFKA_SASL_JAAS_CONFIG}) instead of the file. Any defined key can also be read from a file named by
 * {@code <key>.file} ({@code SLM_CONSOLE_TOKEN_FILE=/run/secrets/console-token}, say).
 *
 * <p>Every value is parsed and checked once, here: a bad one is refused in one line naming the key, the value and
 * what is allowed, before the service reaches for Kafka or a model. A key of the file or of the overrides that the
 * service does not define is refused with the nearest one it does ({@link ConfigDefinitions#unknown}). An
 * {@code SLM_} variable that names no key is only warned about and left out: environments carry {@code SLM_}
 * variables meant for other programs (tools read {@code SLM_SHARED}, say), and one service's container often gets
 * the other's variables too.
 */
public class ServiceConfig {
    /** {@code SLM_} variables this program reads that are no configuration keys: not warned about. */
    private static final Set<String> VARIABLES_READ_ELSEWHERE = Set.of(
            "SLM_HUB_MAX_FILE_BYTES"); // the hub client's largest file (HubSettings)

    private final ConfigDefinitions definitions;
    private final Map<String, String> values;
    /** The parsed value of every defined key (null: an optional key left empty). */
    private final Map<String, Object> typed = new HashMap<>();

    /** Parses and checks {@code values} (every defined key, plus pass-through and per-task ones) against {@code definitions}. */
    protected ServiceConfig(ConfigDefinitions definitions, Map<String, String> values) {
        this.definitions = definitions;
        this.values = Map.copyOf(values);
        for (ConfigDefinitions.Key key : definitions.keys()) {
            typed.put(key.name(), key.parse(this.values.get(key.name())));
        }
        // task.<name>.<key>: checked now, under the name it was written as, rather than when a task's view is made.
        this.values.forEach((written, value) -> {
            if (written.startsWith("task.") && !definitions.names().contains(written)) {
                definitions.definitionOf(written).filter(k -> !written.endsWith("." + k.name() + ".file"))
                        .ifPresent(k -> k.writtenAs(written).parse(value));
            }
        });
    }

    /** A configuration of the keys {@code definitions} define. */
    public static ServiceConfig load(ConfigDefinitions definitions, Path file, Map<String, String> environment,
            Map<String, String> overrides) throws IOException {
        return new ServiceConfig(definitions, layers(definitions, file, environment, overrides));
    }

    /** Merges the layers over the defaults of {@code definitions}, refusing keys they do not define. */
    protected static Map<String, String> layers(ConfigDefinitions definitions, Path file, Map<String, String> environment,
            Map<String, String> overrides) throws IOException {
        Map<String, String> values = new TreeMap<>();
        for (ConfigDefinitions.Key key : definitions.keys()) {
            values.put(key.name(), key.defaultValue());
        }
        if (file != null) {
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("configuration file not found: " + file);
            }
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(r);
            }
            for (String key : new TreeSet<>(p.stringPropertyNames())) {
                if (!definitions.accepts(key)) {
                    throw new IllegalArgumentException(file + ": " + definitions.unknown(key));
                }
                values.put(key, p.getProperty(key).trim());
            }
        }
        for (Map.Entry<String, String> e : new TreeMap<>(environment).entrySet()) {
            if (e.getKey().startsWith("SLM_")) {
                String key = e.getKey().substring(4).toLowerCase(Locale.ROOT).replace('_', '.');
                if (definitions.accepts(key)) {
                    values.put(key, e.getValue());
                } else if (!VARIABLES_READ_ELSEWHERE.contains(e.getKey())) {
                    LoggerFactory.getLogger(ServiceConfig.class).warn("Environment variable {} left out: {}", e.getKey(),
                            definitions.unknown(key));
                }
            }
        }
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            if (!definitions.accepts(e.getKey())) {
                throw new IllegalArgumentException(definitions.unknown(e.getKey()));
            }
            values.put(e.getKey(), e.getValue());
        }
        readSecretFiles(definitions, values);
        return values;
    }

    /**
     * {@code <key>.file} (or {@code SLM_<KEY>_FILE}) names a file whose content is the value of {@code <key>}: a
     * token from a mounted secret, never on a command line where {@code ps} shows it.
     */
    private static void readSecretFiles(ConfigDefinitions definitions, Map<String, String> values) throws IOException {
        for (ConfigDefinitions.Key key : definitions.keys()) {
            String path = values.get(key.name() + ".file");
            if (path == null || path.isBlank()) {
                continue;
            }
            if (!values.get(key.name()).equals(key.defaultValue())) {
                throw new IllegalArgumentException("configuration '" + key.name() + "' is given twice: as a value and as "
                        + key.name() + ".file");
            }
            Path file = Path.of(path.strip());
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("configuration '" + key.name() + ".file': no such file " + file);
            }
            values.put(key.name(), Files.readString(file, StandardCharsets.UTF_8).strip());
        }
    }

    /** The definitions this configuration was checked against. */
    public ConfigDefinitions definitions() {
        return definitions;
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
        if (typed.get(key) instanceof Integer parsed) {
            return parsed;
        }
        try {
            return Integer.parseInt(get(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("configuration '" + key + "' must be a whole number, not '" + get(key) + "'");
        }
    }

    public long getLong(String key) {
        if (typed.get(key) instanceof Number parsed && !(parsed instanceof Double)) {
            return parsed.longValue();
        }
        try {
            return Long.parseLong(get(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("configuration '" + key + "' must be a whole number, not '" + get(key) + "'");
        }
    }

    public double getDouble(String key) {
        if (typed.get(key) instanceof Number parsed) {
            return parsed.doubleValue();
        }
        try {
            return Double.parseDouble(get(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("configuration '" + key + "' must be a number, not '" + get(key) + "'");
        }
    }

    public boolean getBoolean(String key) {
        if (typed.get(key) instanceof Boolean parsed) {
            return parsed;
        }
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

    /**
     * The base model a service loads ({@code model.dir}, required), on which device, and the id it is known by.
     *
     * @param id {@code model.id}; empty: the model's own (its directory name)
     */
    public record ModelChoice(String dir, String device, Optional<String> id) {}

    /** The service's {@code model.dir}, {@code device} and {@code model.id}. */
    public ModelChoice model() {
        return new ModelChoice(require("model.dir"), get("device"),
                get("model.id").isBlank() ? Optional.empty() : Optional.of(get("model.id")));
    }

    /** How long start-up waits for a bootstrap server to answer ({@code startup.timeout.ms}). */
    public Duration startupTimeout() {
        return Duration.ofMillis(getInt("startup.timeout.ms"));
    }

    /** An address and port to listen on (port 0: a free one). */
    public record Listener(String host, int port) {}

    /** Where /metrics and /health listen ({@code metrics.host}, {@code metrics.port}); empty when the port is negative. */
    public Optional<Listener> metricsListener() {
        return getInt("metrics.port") < 0 ? Optional.empty()
                : Optional.of(new Listener(get("metrics.host"), getInt("metrics.port")));
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
