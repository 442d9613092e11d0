package io.slmclassifier.stream;

import io.slmclassifier.classify.TaskCatalog;
import io.slmclassifier.config.ConfigDefinitions;
import io.slmclassifier.config.ConfigDefinitions.Type;
import io.slmclassifier.config.ConfigDefinitions.Validator;
import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.console.ConsoleSettings;
import io.slmclassifier.console.ConsoleStartup;
import io.slmclassifier.ops.ServiceKeys;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The stream processor's configuration: every key defined once in {@link #DEFINITIONS} (type, default, allowed values,
 * documentation), merged from the defaults, a file, the environment and flags (see {@link ServiceConfig}), checked at
 * load, and handed to the processor's parts as typed settings ({@link #batching}, {@link #abstention},
 * {@link #inputLimits}, {@link #topics}, {@link #adapterSource}, {@link #consoleSettings}, ...). Keys under
 * {@code kafka.} also reach Kafka Streams (SASL, SSL, ...).
 */
public final class ProcessorConfig extends ServiceConfig {

    private static final String TOPICS = "topics";
    private static final String BATCHING = "batching";
    private static final String ABSTENTION = "abstention";
    private static final String INPUT = "input limits";
    private static final String ROLLOUT = "adapters and rollout";
    private static final String CONSOLE = "console";

    /**
     * A floor on the label mass, wherever it is given: at least 0 and below 1, since at 1 every result would abstain
     * (the class tokens never hold all of the probability).
     */
    public static final Validator LABEL_MASS_FLOOR = Validator.atLeastAndBelow(0, 1);

    /** Positive whole numbers: row counts of warm-up passes, or {@code auto} or {@code none}. */
    private static final Validator WARMUP_SIZES = value -> {
        String v = String.valueOf(value).strip().toLowerCase();
        return v.equals("auto") || v.equals("none") || v.matches("\\s*[1-9]\\d{0,6}\\s*(,\\s*[1-9]\\d{0,6}\\s*)*")
                ? null : "auto, none or row counts like 1024,1,7";
    };

    /** Every key of the processor, defined once: the reference docs/configuration.md's table is checked against. */
    public static final ConfigDefinitions DEFINITIONS = new ConfigDefinitions()
        .define(ServiceKeys.BOOTSTRAP_SERVERS)
        .define(ServiceKeys.STARTUP_TIMEOUT_MS)
        .define("application.id", Type.STRING, "slm-classifier", ServiceKeys.KAFKA, "Kafka Streams application id (consumer group, state, transactions)")
        .define("processing.guarantee", Type.STRING, "exactly_once_v2", Validator.oneOf("exactly_once_v2", "at_least_once"), ServiceKeys.KAFKA, "exactly_once_v2 or at_least_once")
        .define("num.stream.threads", Type.INT, "1", Validator.atLeast(1), ServiceKeys.KAFKA, "stream threads; all share the one inference worker")
        .define("state.dir", Type.STRING, "", ServiceKeys.KAFKA, "Kafka Streams state directory (empty: the Streams default under the temp dir)")
        .define("input.topic", Type.STRING, "intents.in", TOPICS, "texts to classify: UTF-8 text or Avro TextMessage")
        .define("input.format", Type.STRING, "auto", Validator.oneOf("auto", "text", "avro"), TOPICS, "auto (registry wire format recognised), text or avro")
        .define("output.topic", Type.STRING, "intents.classified", TOPICS, "Avro Classification results")
        .define("dlq.topic", Type.STRING, "intents.dlq", TOPICS, "records that could not be classified, with error headers")
        .define(ServiceKeys.DLQ_RECORD_MAX_BYTES)
        .define("review.topic", Type.STRING, "intents.review", TOPICS, "results that abstained (confidence under abstain.threshold or label mass "
                + "under abstain.min.label.mass), for people to label")
        .define("abstain.threshold", Type.DOUBLE, "0", Validator.between(0, 1), ABSTENTION, "results whose calibrated confidence is below this abstain: flagged, and also sent to review.topic (0: never)")
        .define("abstain.min.label.mass", Type.DOUBLE, "0", LABEL_MASS_FLOOR, ABSTENTION, "results whose label mass (the share of the full-vocabulary next-token probability on the class tokens) "
                + "is below this abstain too, in [0, 1); above 0 the label mass is computed, which needs the whole LM head: slower (0: off)")
        .define("calibration.temperature", Type.DOUBLE, "", Validator.above(0), ABSTENTION, "temperature for the base model's logits (e.g. what evaluate fits); adapter versions bring their own")
        .define("schema.registry.url", Type.STRING, "", ServiceKeys.KAFKA, "Confluent-compatible schema registry (required: results are Avro)")
        .define(ServiceKeys.REGISTRY_USER_INFO)
        .define(ServiceKeys.REGISTRY_BEARER_TOKEN)
        .define(ServiceKeys.MODEL_DIR)
        .define("model.id", Type.STRING, "", ServiceKeys.MODEL, "model id stamped on results (default: the directory name)")
        .define("task.file", Type.STRING, "", ServiceKeys.MODEL, "task file (YAML or JSON) of the one task served; for several, tasks or tasks.dir instead")
        .define("tasks", Type.LIST, "", ServiceKeys.MODEL, "several tasks on one model: their task files, comma-separated (each task's topics are then <name>.in, "
                + "<name>.classified, ...; any key can be set for one task as task.<name>.<key>; see docs/tasks.md)")
        .define("tasks.dir", Type.STRING, "", ServiceKeys.MODEL, "several tasks on one model: a directory whose .yaml, .yml and .json files are tasks (with or instead of tasks)")
        .define(ServiceKeys.DEVICE_KEY)
        .define("batch.max.size", Type.INT, "auto", Set.of("auto"), Validator.atLeast(1), BATCHING, "most records per forward pass (auto: 1024 on a GPU, 32 on CPU)")
        .define("batch.token.budget", Type.INT, "auto", Set.of("auto"), Validator.atLeast(1), BATCHING, "most padded tokens per forward pass (auto: 65536 on a GPU, 8192 on CPU)")
        .define("batch.prefix.min.rows", Type.INT, "auto", Set.of("auto"), Validator.atLeast(1), BATCHING, "a pass of fewer records runs their whole prompts instead of "
                + "the cached prompt prefix (auto: 9 on a GPU, where a small pass is bound by its operator count and the whole prompt launches fewer; 1 on CPU: "
                + "the prefix always)")
        .define("batch.linger.ms", Type.INT, "10", Validator.atLeast(0), BATCHING, "how long a record may wait for others before its batch runs while the inference worker is busy "
                + "(an idle worker gets it at once, unless batch.idle.start is false)")
        .define("batch.idle.start", Type.BOOLEAN, "true", BATCHING, "an idle inference worker runs a batch at once instead of letting it linger (false: every batch waits "
                + "for batch.linger.ms or a full batch)")
        .define("warmup.batch.sizes", Type.STRING, "auto", WARMUP_SIZES, BATCHING, "forward passes of these row counts run through the inference worker before the first record (each three times, "
                + "at other text lengths each time: the program compiles kernels on its first passes at new shapes); auto: the batch limit, "
                + "1 to 8 (the whole-prompt passes), 18 and half the limit on a GPU, "
                + "1 and 3 on CPU; none: no warm-up")
        .define("inference.timeout.ms", Type.INT, "5000", Validator.atLeast(1), BATCHING, "a batch running longer than this is logged (the stream thread never waits for it)")
        .define("text.max.chars", Type.INT, "10000", Validator.atLeast(1), INPUT, "longer texts are truncated or rejected (text.too.long)")
        .define("text.too.long", Type.STRING, "truncate", Validator.oneOf("truncate", "reject"), INPUT, "truncate (and flag the result) or reject (to the dead-letter topic)")
        .define("id.max.chars", Type.INT, "1000", Validator.atLeast(1), INPUT, "longer message ids go to the dead-letter topic (id-too-long)")
        .define("headers.max.count", Type.INT, "64", Validator.atLeast(0), INPUT, "records with more headers go to the dead-letter topic (headers-too-large)")
        .define("headers.max.bytes", Type.INT, "65536", Validator.atLeast(0), INPUT, "records whose header keys and values take more bytes go to the dead-letter topic")
        .define("store.record.max.bytes", Type.INT, "524288", Validator.atLeast(1), INPUT, "most bytes a waiting record takes in the changelogged store (under the broker's "
                + "1 MiB): past it the original value is not kept, then the record is dead-lettered (record-too-large)")
        .define(ServiceKeys.TOPICS_CREATE)
        .define("topics.partitions", Type.INT, "3", Validator.atLeast(1), ServiceKeys.KAFKA, "partitions of created topics")
        .define(ServiceKeys.TOPICS_REPLICATION)
        .define("metrics.port", Type.INT, "9400", ServiceKeys.PORT, ServiceKeys.OPERATIONS, "HTTP port of /metrics and /health/*; 0 picks a free port, -1 disables")
        .define(ServiceKeys.METRICS_HOST)
        .define("control.topic", Type.STRING, "intents.control", ROLLOUT, "adapter events and operator commands (compacted, one partition)")
        .define("adapters.topic", Type.STRING, "intents.adapters", ROLLOUT, "adapter archives in chunks (compacted)")
        .define("adapter.store", Type.STRING, "kafka", ROLLOUT, "where adapters are read from: kafka (the adapters topic), a file: URI or an http(s) URL prefix; events naming any other location are refused")
        .define("adapter.store.token", Type.STRING, "", ROLLOUT, "bearer token for adapters kept at an HTTP(S) location")
        .define("adapter.max.bytes", Type.LONG, "1073741824", Validator.atLeast(1), ROLLOUT, "most bytes of one adapter archive, and of its files unpacked (also at most what a LoRA of its rank for the served model takes); larger ones are refused while reading")
        .define("adapter.fetch.timeout.ms", Type.LONG, "60000", Validator.atLeast(1), ROLLOUT, "longest one adapter fetch may take, all of it (connect, wait, read), and start-up waits for one; a fetch that fails "
                + "for the store's sake (unreachable, 5xx, too slow, chunks missing) is tried again with growing pauses")
        .define("adapter.cache.dir", Type.STRING, "", ROLLOUT, "where fetched adapters are unpacked (empty: a temporary directory)")
        .define("instance.id", Type.STRING, "", ServiceKeys.OPERATIONS, "this instance's name in error reports (empty: the host name)")
        .define("feedback.topic", Type.STRING, "intents.feedback", TOPICS, "Avro LabeledExample records: people's labels for the next training run")
        .define("console.port", Type.INT, "-1", ServiceKeys.PORT, CONSOLE, "HTTP port of the web console; 0 picks a free port, -1 disables")
        .define("console.host", Type.STRING, "127.0.0.1", CONSOLE, "address the web console listens on (0.0.0.0: every interface)")
        .define("console.allowed.hosts", Type.LIST, "", CONSOLE, "host names (comma-separated) browsers may use to reach the console besides "
                + "localhost and 127.0.0.1: other Host headers are refused (DNS rebinding)")
        .define("control.signing.key", Type.STRING, "", ServiceKeys.SIGNING, "HMAC-SHA256 key (32+ characters; best as control.signing.key.file from a Secret): control records without its valid signature are ignored, own records are signed")
        .define(ServiceKeys.SIGNING_REQUIRED)
        .define("console.token", Type.STRING, "", CONSOLE, "token for labeling and adapter commands (Authorization: Bearer), at least 16 characters; empty: read-only console")
        .define("console.streams.max", Type.INT, String.valueOf(ConsoleSettings.DEFAULT_MAX_STREAMS), Validator.atLeast(1), CONSOLE, "open event streams (console pages) in all; the next one is answered 503")
        .define("console.streams.max.per.address", Type.INT, String.valueOf(ConsoleSettings.DEFAULT_STREAMS_PER_ADDRESS), Validator.atLeast(1), CONSOLE, "open event streams from one client address; the next one is answered 503");

    /**
     * What each task's configuration defaults to when the processor serves several ({@link TaskCatalog#view}): its
     * own topics, Streams application (consumer group, state, transactions) and adapter cache.
     */
    public static final Map<String, String> TASK_DEFAULTS = Map.of(
            "input.topic", "{task}.in",
            "output.topic", "{task}.classified",
            "review.topic", "{task}.review",
            "dlq.topic", "{task}.dlq",
            "feedback.topic", "{task}.feedback",
            "control.topic", "{task}.control",
            "adapters.topic", "{task}.adapters",
            "application.id", "{value}-{task}",
            "adapter.cache.dir", "{value}/{task}");

    /** The configuration of one declared task: this one, in single-task mode. */
    public ProcessorConfig forTask(TaskCatalog.Entry task) {
        return new ProcessorConfig(TaskCatalog.view(this, task, TASK_DEFAULTS));
    }

    // ---------------------------------------------------------------------------------------------------------
    // The typed settings, grouped as the processor's parts use them. Every value was parsed and checked at load.

    /**
     * How records are gathered into forward passes.
     *
     * @param maxSize most records per pass; empty for {@code auto} (the device's default)
     * @param tokenBudget most padded tokens per pass; empty for {@code auto}
     * @param prefixMinRows a pass of fewer records runs whole prompts, not the cached prefix; empty for {@code auto}
     * @param idleStart whether an idle inference worker runs a batch at once instead of letting it linger
     * @param warmupSizes {@code warmup.batch.sizes} as written ({@code auto}, {@code none} or row counts), which need
     *     the batch limit and the device to resolve
     */
    public record Batching(OptionalInt maxSize, OptionalInt tokenBudget, OptionalInt prefixMinRows, Duration linger,
            boolean idleStart, String warmupSizes, Duration inferenceTimeout) {

        public int maxSize(int deviceDefault) {
            return maxSize.orElse(deviceDefault);
        }

        public int tokenBudget(int deviceDefault) {
            return tokenBudget.orElse(deviceDefault);
        }

        public int prefixMinRows(int deviceDefault) {
            return prefixMinRows.orElse(deviceDefault);
        }
    }

    public Batching batching() {
        return new Batching(orAuto("batch.max.size"), orAuto("batch.token.budget"), orAuto("batch.prefix.min.rows"),
                Duration.ofMillis(getInt("batch.linger.ms")), getBoolean("batch.idle.start"), get("warmup.batch.sizes"),
                Duration.ofMillis(getInt("inference.timeout.ms")));
    }

    /**
     * When a result abstains (flagged, and also sent to the review topic), and the base model's temperature.
     *
     * @param minLabelMass at least 0 and below 1; above 0 the classifier computes the label mass, which takes the
     *     whole LM head
     * @param baseTemperature the base model's calibration temperature; empty: none (adapter versions bring their own)
     */
    public record Abstention(double threshold, double minLabelMass, OptionalDouble baseTemperature) {
        public boolean needsLabelMass() {
            return minLabelMass > 0;
        }

        /** Whether any result can abstain, and so go to the review topic too: a floor above 0 on either. */
        public boolean canAbstain() {
            return threshold > 0 || minLabelMass > 0;
        }
    }

    public Abstention abstention() {
        return new Abstention(getDouble("abstain.threshold"), getDouble("abstain.min.label.mass"),
                get("calibration.temperature").isBlank() ? OptionalDouble.empty()
                        : OptionalDouble.of(getDouble("calibration.temperature")));
    }

    /**
     * What an input record may be before it is cut or dead-lettered: {@code input.format} and the input limits.
     *
     * @param maxStoreRecordBytes most bytes a waiting record takes in the changelogged store
     */
    public record InputLimits(InputDecoder.Format format, int maxTextChars, boolean truncateLongText,
            InputDecoder.Limits limits, int maxStoreRecordBytes) {}

    public InputLimits inputLimits() {
        return new InputLimits(InputDecoder.format(get("input.format")),
                getInt("text.max.chars"), get("text.too.long").equals("truncate"),
                new InputDecoder.Limits(getInt("id.max.chars"), getInt("headers.max.count"), getInt("headers.max.bytes")),
                getInt("store.record.max.bytes"));
    }

    /** The topics of one task (or of the single task): what it reads, writes and folds. */
    public record TaskTopics(String input, String output, String review, String deadLetters, String feedback,
            String control, String adapters) {}

    public TaskTopics topics() {
        return new TaskTopics(get("input.topic"), get("output.topic"), get("review.topic"), get("dlq.topic"),
                get("feedback.topic"), get("control.topic"), get("adapters.topic"));
    }

    /** Whether missing topics are created at start, and how. */
    public record TopicCreation(boolean enabled, int partitions, int replication) {}

    public TopicCreation topicCreation() {
        return new TopicCreation(getBoolean("topics.create"), getInt("topics.partitions"), getInt("topics.replication"));
    }

    /**
     * Where the task's adapter versions are fetched from and kept.
     *
     * @param store {@code kafka}, a {@code file:} URI or an http(s) URL prefix
     * @param cacheDir where fetched adapters are unpacked; empty: a temporary directory
     */
    public record AdapterSource(String store, String storeToken, long maxBytes, Duration fetchTimeout,
            Optional<Path> cacheDir) {}

    public AdapterSource adapterSource() {
        return new AdapterSource(get("adapter.store"), get("adapter.store.token"), getLong("adapter.max.bytes"),
                Duration.ofMillis(getLong("adapter.fetch.timeout.ms")),
                get("adapter.cache.dir").isBlank() ? Optional.empty() : Optional.of(Path.of(get("adapter.cache.dir"))));
    }

    /**
     * The Kafka Streams settings this configuration names: application id, bootstrap servers, guarantee, threads,
     * replication and state directory. The processor adds its own, then the {@code kafka.*} pass-through, which wins.
     */
    public Properties kafkaStreams() {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, get("application.id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, get("bootstrap.servers"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, get("processing.guarantee"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, getInt("num.stream.threads"));
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, getInt("topics.replication"));
        if (!get("state.dir").isBlank()) {
            p.put(StreamsConfig.STATE_DIR_CONFIG, get("state.dir"));
        }
        return p;
    }

    /** {@code batch.max.size}, {@code batch.token.budget}, {@code batch.prefix.min.rows}: a number, or empty for {@code auto}. */
    private OptionalInt orAuto(String key) {
        return get(key).strip().equalsIgnoreCase("auto") ? OptionalInt.empty() : OptionalInt.of(getInt(key));
    }

    /** {@code abstain.min.label.mass}: at least 0 and below 1 (checked at load), as the class tokens never hold all of it. */
    public double abstainMinLabelMass() {
        return abstention().minLabelMass();
    }

    /**
     * The console's part of this (task's) configuration: {@code console.*}, the topics it shows and writes, the
     * clients. Its checks (token length, stream limits) run here, at start-up, before Kafka is waited for.
     */
    public ConsoleSettings consoleSettings() {
        return new ConsoleSettings(get("console.host"), getInt("console.port"), get("console.token"),
                require("bootstrap.servers"), kafkaPassThrough(), get("output.topic"), get("dlq.topic"),
                get("feedback.topic"), Set.copyOf(getList("console.allowed.hosts")), get("review.topic"),
                getInt("console.streams.max"), getInt("console.streams.max.per.address"));
    }

    /** What the console needs at start: whether it runs ({@code console.port} not negative), clients, topic creation. */
    public ConsoleStartup consoleStartup() {
        return new ConsoleStartup(getInt("console.port") >= 0, kafkaClient(),
                getInt("console.port") >= 0 ? registryClient() : Map.of(), getBoolean("topics.create"),
                getInt("topics.partitions"), getInt("topics.replication"));
    }

    private ProcessorConfig(Map<String, String> values) {
        super(DEFINITIONS, values);
    }

    public static ProcessorConfig load(Path file, Map<String, String> environment, Map<String, String> overrides)
            throws IOException {
        return new ProcessorConfig(layers(DEFINITIONS, file, environment, overrides));
    }

    public static ProcessorConfig of(Map<String, String> overrides) {
        try {
            return load(null, Map.of(), overrides);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
