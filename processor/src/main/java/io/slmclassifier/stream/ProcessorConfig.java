package io.slmclassifier.stream;

import io.slmclassifier.classify.TaskCatalog;
import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.console.ConsoleSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The stream processor's configuration: the documented defaults below, then a file, the environment and flags
 * (see {@link ServiceConfig}). Keys under {@code kafka.} also reach Kafka Streams (SASL, SSL, ...).
 */
public final class ProcessorConfig extends ServiceConfig {

    /** Key, default, meaning: the reference docs/configuration.md's tables are checked against. */
    public static final String[][] DEFAULTS = {
        {"bootstrap.servers", "localhost:9092", "Kafka bootstrap servers"},
        {"startup.timeout.ms", "30000", "how long start-up waits for a bootstrap server to answer before it gives up with one line"},
        {"application.id", "slm-classifier", "Kafka Streams application id (consumer group, state, transactions)"},
        {"processing.guarantee", "exactly_once_v2", "exactly_once_v2 or at_least_once"},
        {"num.stream.threads", "1", "stream threads; all share the one inference worker"},
        {"state.dir", "", "Kafka Streams state directory (empty: the Streams default under the temp dir)"},
        {"input.topic", "intents.in", "texts to classify: UTF-8 text or Avro TextMessage"},
        {"input.format", "auto", "auto (registry wire format recognised), text or avro"},
        {"output.topic", "intents.classified", "Avro Classification results"},
        {"dlq.topic", "intents.dlq", "records that could not be classified, with error headers"},
        {"dlq.record.max.bytes", "1048576", "most bytes of one dead letter (at most the producer's max.request.size; "
                + "the broker's or topic's message.max.bytes must allow it): what does not fit is cut and flagged with slm.truncated"},
        {"review.topic", "intents.review", "results that abstained (confidence under abstain.threshold or label mass "
                + "under abstain.min.label.mass), for people to label"},
        {"abstain.threshold", "0", "results whose calibrated confidence is below this abstain: flagged, and also sent to review.topic (0: never)"},
        {"abstain.min.label.mass", "0", "results whose label mass (the share of the full-vocabulary next-token probability on the class tokens) "
                + "is below this abstain too, in [0, 1); above 0 the label mass is computed, which needs the whole LM head: slower (0: off)"},
        {"calibration.temperature", "", "temperature for the base model's logits (e.g. what evaluate fits); adapter versions bring their own"},
        {"schema.registry.url", "", "Confluent-compatible schema registry (required: results are Avro)"},
        {"schema.registry.basic.auth.user.info", "", "user:password for the registry"},
        {"schema.registry.bearer.token", "", "bearer token for the registry"},
        {"model.dir", "", "the base model: a Hugging Face model directory, a hub id (Qwen/Qwen3-0.6B, cached under HF_HOME) or demo-tiny"},
        {"model.id", "", "model id stamped on results (default: the directory name)"},
        {"task.file", "", "task file (YAML or JSON) of the one task served; for several, tasks or tasks.dir instead"},
        {"tasks", "", "several tasks on one model: their task files, comma-separated (each task's topics are then <name>.in, "
                + "<name>.classified, ...; any key can be set for one task as task.<name>.<key>; see docs/tasks.md)"},
        {"tasks.dir", "", "several tasks on one model: a directory whose .yaml, .yml and .json files are tasks (with or instead of tasks)"},
        {"device", "auto", "cpu, gpu (GPU 0), gpu:N (GPU N of the host: a processor per GPU) or auto"},
        {"batch.max.size", "auto", "most records per forward pass (auto: 1024 on a GPU, 32 on CPU)"},
        {"batch.token.budget", "auto", "most padded tokens per forward pass (auto: 65536 on a GPU, 8192 on CPU)"},
        {"batch.linger.ms", "10", "how long a record may wait for others before its batch runs while the inference worker is busy "
                + "(an idle worker gets it at once, unless batch.idle.start is false)"},
        {"batch.idle.start", "true", "an idle inference worker runs a batch at once instead of letting it linger (false: every batch waits "
                + "for batch.linger.ms or a full batch)"},
        {"warmup.batch.sizes", "auto", "forward passes of these row counts run before the first record (each three times: "
                + "the program compiles kernels on its first passes at new shapes); auto: the batch limit, 1, 3 and half the limit on a GPU, "
                + "1 and 3 on CPU; none: no warm-up"},
        {"inference.timeout.ms", "5000", "a batch running longer than this is logged (the stream thread never waits for it)"},
        {"text.max.chars", "10000", "longer texts are truncated or rejected (text.too.long)"},
        {"text.too.long", "truncate", "truncate (and flag the result) or reject (to the dead-letter topic)"},
        {"id.max.chars", "1000", "longer message ids go to the dead-letter topic (id-too-long)"},
        {"headers.max.count", "64", "records with more headers go to the dead-letter topic (headers-too-large)"},
        {"headers.max.bytes", "65536", "records whose header keys and values take more bytes go to the dead-letter topic"},
        {"store.record.max.bytes", "524288", "most bytes a waiting record takes in the changelogged store (under the broker's "
                + "1 MiB): past it the original value is not kept, then the record is dead-lettered (record-too-large)"},
        {"topics.create", "true", "create missing topics at start"},
        {"topics.partitions", "3", "partitions of created topics"},
        {"topics.replication", "1", "replication factor of created topics"},
        {"metrics.port", "9400", "HTTP port of /metrics and /health/*; 0 picks a free port, -1 disables"},
        {"metrics.host", "127.0.0.1", "address of /metrics and /health/* (0.0.0.0: every interface, as containers need for probes and scraping)"},
        {"control.topic", "intents.control", "adapter events and operator commands (compacted, one partition)"},
        {"adapters.topic", "intents.adapters", "adapter archives in chunks (compacted)"},
        {"adapter.store", "kafka", "where adapters are read from: kafka (the adapters topic), a file: URI or an http(s) URL prefix; events naming any other location are refused"},
        {"adapter.store.token", "", "bearer token for adapters kept at an HTTP(S) location"},
        {"adapter.max.bytes", "1073741824", "most bytes of one adapter archive, and of its files unpacked (also at most what a LoRA of its rank for the served model takes); larger ones are refused while reading"},
        {"adapter.fetch.timeout.ms", "60000", "longest one adapter fetch may take, all of it (connect, wait, read), and start-up waits for one; a fetch that fails "
                + "for the store's sake (unreachable, 5xx, too slow, chunks missing) is tried again with growing pauses"},
        {"adapter.cache.dir", "", "where fetched adapters are unpacked (empty: a temporary directory)"},
        {"instance.id", "", "this instance's name in error reports (empty: the host name)"},
        {"feedback.topic", "intents.feedback", "Avro LabeledExample records: people's labels for the next training run"},
        {"console.port", "-1", "HTTP port of the web console; 0 picks a free port, -1 disables"},
        {"console.host", "127.0.0.1", "address the web console listens on (0.0.0.0: every interface)"},
        {"console.allowed.hosts", "", "host names (comma-separated) browsers may use to reach the console besides "
                + "localhost and 127.0.0.1: other Host headers are refused (DNS rebinding)"},
        {"control.signing.key", "", "HMAC-SHA256 key (32+ characters; best as control.signing.key.file from a Secret): control records without its valid signature are ignored, own records are signed"},
        {"control.signing.required", "false", "true: refuse to start without control.signing.key (one line, exit 2); false: start unsigned, saying so in one WARN line and in /health"},
        {"console.token", "", "token for labeling and adapter commands (Authorization: Bearer), at least 16 characters; empty: read-only console"},
        {"console.streams.max", String.valueOf(ConsoleSettings.DEFAULT_MAX_STREAMS), "open event streams (console pages) in all; the next one is answered 503"},
        {"console.streams.max.per.address", String.valueOf(ConsoleSettings.DEFAULT_STREAMS_PER_ADDRESS), "open event streams from one client address; the next one is answered 503"},
    };

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

    /**
     * {@code abstain.min.label.mass}, checked: at 1 or more every result would abstain, as the class tokens never
     * hold all of the probability.
     */
    public double abstainMinLabelMass() {
        return checkLabelMassFloor(getDouble("abstain.min.label.mass"), "configuration 'abstain.min.label.mass'",
                get("abstain.min.label.mass"));
    }

    /**
     * A floor on the label mass, checked wherever it is given ({@code what} names it, {@code given} is the value as
     * written): at least 0 and below 1.
     */
    public static double checkLabelMassFloor(double floor, String what, String given) {
        if (!(floor >= 0 && floor < 1)) { // NaN fails both
            throw new IllegalArgumentException(what + " must be at least 0 and below 1, not '" + given + "'");
        }
        return floor;
    }

    private ProcessorConfig(Map<String, String> values) {
        super(values);
    }

    public static ProcessorConfig load(Path file, Map<String, String> environment, Map<String, String> overrides)
            throws IOException {
        return new ProcessorConfig(layers(DEFAULTS, file, environment, overrides));
    }

    public static ProcessorConfig of(Map<String, String> overrides) {
        try {
            return load(null, Map.of(), overrides);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
