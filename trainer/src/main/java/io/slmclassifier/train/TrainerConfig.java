package io.slmclassifier.train;

import io.slmclassifier.classify.TaskCatalog;
import io.slmclassifier.config.ConfigDefinitions;
import io.slmclassifier.config.ConfigDefinitions.Type;
import io.slmclassifier.config.ConfigDefinitions.Validator;
import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.ops.ServiceKeys;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * The trainer service's configuration: every key defined once in {@link #DEFINITIONS} (type, default, allowed values,
 * documentation), merged from the defaults, a file, the environment and flags (see {@link ServiceConfig}), checked at
 * load, and handed to the trainer's steps as typed settings ({@link #topics}, {@link #data}, {@link #schedule},
 * {@link #training}, {@link #freshAdapter}, {@link #gate}, ...).
 */
public final class TrainerConfig extends ServiceConfig {

    private static final String TOPICS = "topics";
    private static final String ROLLOUT = "adapters and rollout";
    private static final String DATA = "data";
    private static final String SCHEDULE = "schedule";
    private static final String TRAINING = "training";
    private static final String GATE = "quality gate";

    /** Every key of the trainer, defined once: the reference docs/configuration.md's table is checked against. */
    public static final ConfigDefinitions DEFINITIONS = new ConfigDefinitions()
        .define(ServiceKeys.BOOTSTRAP_SERVERS)
        .define(ServiceKeys.STARTUP_TIMEOUT_MS)
        .define("schema.registry.url", Type.STRING, "", ServiceKeys.KAFKA, "Confluent-compatible schema registry (required)")
        .define(ServiceKeys.REGISTRY_USER_INFO)
        .define(ServiceKeys.REGISTRY_BEARER_TOKEN)
        .define(ServiceKeys.MODEL_DIR)
        .define("model.id", Type.STRING, "", ServiceKeys.MODEL, "model id recorded in adapter events (default: the directory name)")
        .define("task.file", Type.STRING, "", ServiceKeys.MODEL, "task file (YAML or JSON); processors refuse adapters of another task")
        .define("tasks", Type.LIST, "", ServiceKeys.MODEL, "several tasks: their task files, comma-separated, each with its own lineage and topics (<name>.feedback, "
                + "<name>.control, ...; any key can be set for one task as task.<name>.<key>; see docs/tasks.md)")
        .define("tasks.dir", Type.STRING, "", ServiceKeys.MODEL, "several tasks: a directory whose .yaml, .yml and .json files are tasks (with or instead of tasks)")
        .define(ServiceKeys.DEVICE_KEY)
        .define("feedback.topics", Type.LIST, "intents.feedback", TOPICS, "comma-separated topics of LabeledExample records")
        .define("dataset.topic", Type.STRING, "intents.dataset", TOPICS, "the durable labeled dataset (compacted, keyed by example id: last label wins)")
        .define("control.topic", Type.STRING, "intents.control", ROLLOUT, "adapter events and operator commands (compacted, one partition)")
        .define("adapters.topic", Type.STRING, "intents.adapters", ROLLOUT, "adapter archives in chunks (compacted), when adapter.store=kafka")
        .define("dlq.topic", Type.STRING, "intents.dlq", TOPICS, "feedback records that cannot be used, with error headers")
        .define(ServiceKeys.DLQ_RECORD_MAX_BYTES)
        .define("adapter.store", Type.STRING, "kafka", ROLLOUT, "where new adapters go: kafka (the adapters topic), a file: URI or an http(s) URL taking PUT")
        .define("adapter.store.token", Type.STRING, "", ROLLOUT, "bearer token for an HTTP(S) adapter store")
        .define("adapter.max.bytes", Type.LONG, "1073741824", Validator.atLeast(1), ROLLOUT, "most bytes of one adapter archive read back (warm start), and of its files unpacked")
        .define("control.signing.key", Type.STRING, "", ServiceKeys.SIGNING, "HMAC-SHA256 key shared with the processors (32+ characters; best as control.signing.key.file): adapter events are signed, unsigned control records ignored")
        .define(ServiceKeys.SIGNING_REQUIRED)
        .define("work.dir", Type.STRING, "", TRAINING, "directory for training runs (empty: a temporary directory)")
        .define("group.id", Type.STRING, "slm-trainer", ServiceKeys.KAFKA, "consumer group on the feedback topics")
        .define("validation.percent", Type.INT, "20", Validator.between(0, 100), DATA, "share of examples held out for validation, chosen by a hash of the example id")
        .define("test.file", Type.STRING, "", DATA, "optional fixed test set (JSONL or CSV), reported with every candidate")
        .define("trigger.examples", Type.INT, "200", Validator.atLeast(1), SCHEDULE, "train after this many new or changed examples")
        .define("trigger.interval.minutes", Type.INT, "60", Validator.atLeast(1), SCHEDULE, "or after this many minutes ...")
        .define("trigger.interval.min.examples", Type.INT, "20", Validator.atLeast(1), SCHEDULE, "... when at least this many examples are new")
        .define("train.warm.start", Type.BOOLEAN, "true", TRAINING, "continue from the serving adapter (false: a fresh adapter every run)")
        .define("train.epochs", Type.INT, "3", Validator.atLeast(1), TRAINING, "epochs per run")
        .define("train.learning.rate", Type.DOUBLE, "5e-5", Validator.above(0), TRAINING, "peak learning rate, decayed linearly to 0")
        .define("train.batch.size", Type.INT, "8", Validator.atLeast(1), TRAINING, "examples per step")
        .define("train.warmup.steps", Type.INT, "0", Validator.atLeast(0), TRAINING, "learning-rate warm-up steps")
        .define("train.seed", Type.INT, "42", TRAINING, "seed of adapter initialisation, dropout and shuffling")
        .define("lora.r", Type.INT, "16", Validator.atLeast(1), TRAINING, "LoRA rank of a fresh adapter")
        .define("lora.alpha", Type.DOUBLE, "32", Validator.above(0), TRAINING, "LoRA alpha of a fresh adapter")
        .define("lora.dropout", Type.DOUBLE, "0.05", Validator.atLeastAndBelow(0, 1), TRAINING, "LoRA dropout during training")
        .define("lora.targets", Type.LIST, "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", TRAINING, "projections a fresh adapter adapts")
        .define("gate.min.improvement", Type.DOUBLE, "0.01", GATE, "a candidate is published only if its validation macro-F1 beats the serving one by this much")
        .define("gate.max.ece", Type.DOUBLE, "", Validator.between(0, 1), GATE, "optional: a candidate is published only if its validation ECE (15 bins, after its fitted temperature) is at most this; empty: no ceiling")
        .define(ServiceKeys.TOPICS_CREATE)
        .define("topics.partitions", Type.INT, "3", Validator.atLeast(1), ServiceKeys.KAFKA, "partitions of created feedback and dataset topics")
        .define(ServiceKeys.TOPICS_REPLICATION)
        .define("metrics.port", Type.INT, "9401", ServiceKeys.PORT, ServiceKeys.OPERATIONS, "HTTP port of /metrics and /health/*; 0 picks a free port, -1 disables")
        .define(ServiceKeys.METRICS_HOST);

    /**
     * What each task's configuration defaults to when several are declared ({@link TaskCatalog#view}): its own
     * feedback, dataset, control and adapters topics, consumer group and work directory, so each task's lineage is
     * trained, gated and published apart from the others'.
     */
    public static final Map<String, String> TASK_DEFAULTS = Map.of(
            "feedback.topics", "{task}.feedback",
            "dataset.topic", "{task}.dataset",
            "control.topic", "{task}.control",
            "adapters.topic", "{task}.adapters",
            "dlq.topic", "{task}.dlq",
            "group.id", "{value}-{task}",
            "work.dir", "{value}/{task}");

    /** The configuration of one declared task: this one, in single-task mode. */
    public TrainerConfig forTask(TaskCatalog.Entry task) {
        return new TrainerConfig(TaskCatalog.view(this, task, TASK_DEFAULTS));
    }

    private TrainerConfig(Map<String, String> values) {
        super(DEFINITIONS, values);
    }

    public static TrainerConfig load(Path file, Map<String, String> environment, Map<String, String> overrides)
            throws IOException {
        return new TrainerConfig(layers(DEFINITIONS, file, environment, overrides));
    }

    // ---------------------------------------------------------------------------------------------------------
    // The typed settings, grouped as the trainer's steps use them. Every value was parsed and checked at load.

    /** The topics of one lineage: feedback read, dataset kept, versions and archives published, dead letters. */
    public record LineageTopics(List<String> feedback, String dataset, String control, String adapters,
            String deadLetters) {}

    public LineageTopics topics() {
        return new LineageTopics(getList("feedback.topics"), get("dataset.topic"), get("control.topic"),
                get("adapters.topic"), get("dlq.topic"));
    }

    /** Whether missing topics are created at start, and how. */
    public record TopicCreation(boolean enabled, int partitions, int replication) {}

    public TopicCreation topicCreation() {
        return new TopicCreation(getBoolean("topics.create"), getInt("topics.partitions"), getInt("topics.replication"));
    }

    /**
     * Where new adapter versions are stored.
     *
     * @param store {@code kafka} (the adapters topic), a {@code file:} URI or an http(s) URL taking PUT
     */
    public record AdapterTarget(String store, String storeToken, long maxBytes) {}

    public AdapterTarget adapterTarget() {
        return new AdapterTarget(get("adapter.store"), get("adapter.store.token"), getLong("adapter.max.bytes"));
    }

    /**
     * The examples a lineage trains and evaluates on, and where its runs are kept.
     *
     * @param validationPercent share held out for validation, by a hash of the example id
     * @param testFile an optional fixed test set, reported with every candidate
     * @param workDir where runs are kept; empty: a temporary directory
     */
    public record Data(String groupId, int validationPercent, Optional<Path> testFile, Optional<Path> workDir) {}

    public Data data() {
        return new Data(get("group.id"), getInt("validation.percent"), optionalPath("test.file"), optionalPath("work.dir"));
    }

    /** When a run starts ({@code trigger.*}), counted from {@code startedMillis} until the first. */
    public RunSchedule schedule(long startedMillis) {
        return new RunSchedule(getInt("trigger.examples"), getInt("trigger.interval.min.examples"),
                getInt("trigger.interval.minutes"), startedMillis);
    }

    /** The settings of a run: {@code train.*}. */
    public LoraTrainer.Settings training() {
        return new LoraTrainer.Settings(getInt("train.epochs"), getDouble("train.learning.rate"),
                getInt("train.batch.size"), getInt("train.warmup.steps"), 0.0, 1.0, 0, getInt("train.seed"));
    }

    /** Whether a run continues from the serving adapter ({@code train.warm.start}) rather than a fresh one. */
    public boolean warmStart() {
        return getBoolean("train.warm.start");
    }

    /** The shape of an adapter trained from nothing: {@code lora.*}. */
    public LoraConfig freshAdapter(String modelId) {
        return new LoraConfig(getInt("lora.r"), getDouble("lora.alpha"), getDouble("lora.dropout"),
                getList("lora.targets"), false, modelId);
    }

    /** The quality gate: {@code gate.min.improvement} and the optional {@code gate.max.ece} ceiling. */
    public QualityGate gate() {
        return new QualityGate(getDouble("gate.min.improvement"), maxEce());
    }

    /** The ECE ceiling of the quality gate, when one is set: a number in [0, 1], checked at load. */
    public OptionalDouble maxEce() {
        return get("gate.max.ece").isBlank() ? OptionalDouble.empty() : OptionalDouble.of(getDouble("gate.max.ece"));
    }

    private Optional<Path> optionalPath(String key) {
        return get(key).isBlank() ? Optional.empty() : Optional.of(Path.of(get(key).strip()));
    }

    public static TrainerConfig of(Map<String, String> overrides) {
        try {
            return load(null, Map.of(), overrides);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
