package io.slmclassifier.train;

import io.slmclassifier.classify.TaskCatalog;
import io.slmclassifier.config.ServiceConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalDouble;

/** The trainer service's configuration: the documented defaults below, then a file, the environment and flags. */
public final class TrainerConfig extends ServiceConfig {

    /** Key, default, meaning: the reference docs/configuration.md's tables are checked against. */
    public static final String[][] DEFAULTS = {
        {"bootstrap.servers", "localhost:9092", "Kafka bootstrap servers"},
        {"startup.timeout.ms", "30000", "how long start-up waits for a bootstrap server to answer before it gives up with one line"},
        {"schema.registry.url", "", "Confluent-compatible schema registry (required)"},
        {"schema.registry.basic.auth.user.info", "", "user:password for the registry"},
        {"schema.registry.bearer.token", "", "bearer token for the registry"},
        {"model.dir", "", "the base model: a Hugging Face model directory, a hub id (Qwen/Qwen3-0.6B, cached under HF_HOME) or demo-tiny"},
        {"model.id", "", "model id recorded in adapter events (default: the directory name)"},
        {"task.file", "", "task file (YAML or JSON); processors refuse adapters of another task"},
        {"tasks", "", "several tasks: their task files, comma-separated, each with its own lineage and topics (<name>.feedback, "
                + "<name>.control, ...; any key can be set for one task as task.<name>.<key>; see docs/tasks.md)"},
        {"tasks.dir", "", "several tasks: a directory whose .yaml, .yml and .json files are tasks (with or instead of tasks)"},
        {"device", "auto", "cpu, gpu (GPU 0), gpu:N (GPU N of the host: a processor per GPU) or auto"},
        {"feedback.topics", "intents.feedback", "comma-separated topics of LabeledExample records"},
        {"dataset.topic", "intents.dataset", "the durable labeled dataset (compacted, keyed by example id: last label wins)"},
        {"control.topic", "intents.control", "adapter events and operator commands (compacted, one partition)"},
        {"adapters.topic", "intents.adapters", "adapter archives in chunks (compacted), when adapter.store=kafka"},
        {"dlq.topic", "intents.dlq", "feedback records that cannot be used, with error headers"},
        {"dlq.record.max.bytes", "1048576", "most bytes of one dead letter (at most the producer's max.request.size; "
                + "the broker's or topic's message.max.bytes must allow it): what does not fit is cut and flagged with slm.truncated"},
        {"adapter.store", "kafka", "where new adapters go: kafka (the adapters topic), a file: URI or an http(s) URL taking PUT"},
        {"adapter.store.token", "", "bearer token for an HTTP(S) adapter store"},
        {"adapter.max.bytes", "1073741824", "most bytes of one adapter archive read back (warm start), and of its files unpacked"},
        {"control.signing.key", "", "HMAC-SHA256 key shared with the processors (32+ characters; best as control.signing.key.file): adapter events are signed, unsigned control records ignored"},
        {"control.signing.required", "false", "true: refuse to start without control.signing.key (one line, exit 2); false: start unsigned, saying so in one WARN line and in /health"},
        {"work.dir", "", "directory for training runs (empty: a temporary directory)"},
        {"group.id", "slm-trainer", "consumer group on the feedback topics"},
        {"validation.percent", "20", "share of examples held out for validation, chosen by a hash of the example id"},
        {"test.file", "", "optional fixed test set (JSONL or CSV), reported with every candidate"},
        {"trigger.examples", "200", "train after this many new or changed examples"},
        {"trigger.interval.minutes", "60", "or after this many minutes ..."},
        {"trigger.interval.min.examples", "20", "... when at least this many examples are new"},
        {"train.warm.start", "true", "continue from the serving adapter (false: a fresh adapter every run)"},
        {"train.epochs", "3", "epochs per run"},
        {"train.learning.rate", "5e-5", "peak learning rate, decayed linearly to 0"},
        {"train.batch.size", "8", "examples per step"},
        {"train.warmup.steps", "0", "learning-rate warm-up steps"},
        {"train.seed", "42", "seed of adapter initialisation, dropout and shuffling"},
        {"lora.r", "16", "LoRA rank of a fresh adapter"},
        {"lora.alpha", "32", "LoRA alpha of a fresh adapter"},
        {"lora.dropout", "0.05", "LoRA dropout during training"},
        {"lora.targets", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", "projections a fresh adapter adapts"},
        {"gate.min.improvement", "0.01", "a candidate is published only if its validation macro-F1 beats the serving one by this much"},
        {"gate.max.ece", "", "optional: a candidate is published only if its validation ECE (15 bins, after its fitted temperature) is at most this; empty: no ceiling"},
        {"topics.create", "true", "create missing topics at start"},
        {"topics.partitions", "3", "partitions of created feedback and dataset topics"},
        {"topics.replication", "1", "replication factor of created topics"},
        {"metrics.port", "9401", "HTTP port of /metrics and /health/*; 0 picks a free port, -1 disables"},
        {"metrics.host", "127.0.0.1", "address of /metrics and /health/* (0.0.0.0: every interface, as containers need for probes and scraping)"},
    };

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
        super(values);
    }

    public static TrainerConfig load(Path file, Map<String, String> environment, Map<String, String> overrides)
            throws IOException {
        return new TrainerConfig(layers(DEFAULTS, file, environment, overrides));
    }

    /** The ECE ceiling of the quality gate, when one is set: a number in [0, 1]. */
    public OptionalDouble maxEce() {
        String value = get("gate.max.ece").trim();
        if (value.isEmpty()) {
            return OptionalDouble.empty();
        }
        double ceiling;
        try {
            ceiling = Double.parseDouble(value);
        } catch (NumberFormatException e) {
            ceiling = Double.NaN;
        }
        if (!(ceiling >= 0 && ceiling <= 1)) {
            throw new IllegalArgumentException("gate.max.ece must be empty or a number in [0, 1] (an expected "
                    + "calibration error), not '" + value + "'");
        }
        return OptionalDouble.of(ceiling);
    }

    public static TrainerConfig of(Map<String, String> overrides) {
        try {
            return load(null, Map.of(), overrides);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
