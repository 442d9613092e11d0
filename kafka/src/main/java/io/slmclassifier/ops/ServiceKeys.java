package io.slmclassifier.ops;

import io.slmclassifier.config.ConfigDefinitions.Key;
import io.slmclassifier.config.ConfigDefinitions.Type;
import io.slmclassifier.config.ConfigDefinitions.Validator;
import java.util.Set;

/**
 * The keys the processor and the trainer share word for word, defined once here; each service's definitions take
 * them in the order of its own table ({@code ProcessorConfig.DEFINITIONS}, {@code TrainerConfig.DEFINITIONS}).
 */
public final class ServiceKeys {
    public static final String KAFKA = "kafka";
    public static final String MODEL = "model and tasks";
    public static final String SIGNING = "control signing";
    public static final String OPERATIONS = "operations";

    /** A TCP port, or -1 for none; 0 picks a free one. */
    public static final Validator PORT = Validator.between(-1, 65_535);

    /** {@code cpu}, {@code gpu}, {@code gpu:N} or {@code auto}, as {@code TorchRuntime.device} reads them. */
    public static final Validator DEVICE = value -> String.valueOf(value).strip().toLowerCase()
            .matches("cpu|gpu|auto|gpu:\\d{1,4}") ? null : "cpu, gpu, gpu:N or auto";

    public static final Key BOOTSTRAP_SERVERS = new Key("bootstrap.servers", Type.STRING, "localhost:9092", Set.of(),
            null, KAFKA, "Kafka bootstrap servers");
    public static final Key STARTUP_TIMEOUT_MS = new Key("startup.timeout.ms", Type.INT, "30000", Set.of(),
            Validator.atLeast(1), KAFKA,
            "how long start-up waits for a bootstrap server to answer before it gives up with one line");
    public static final Key REGISTRY_USER_INFO = new Key("schema.registry.basic.auth.user.info", Type.STRING, "",
            Set.of(), null, KAFKA, "user:password for the registry");
    public static final Key REGISTRY_BEARER_TOKEN = new Key("schema.registry.bearer.token", Type.STRING, "", Set.of(),
            null, KAFKA, "bearer token for the registry");
    public static final Key MODEL_DIR = new Key("model.dir", Type.STRING, "", Set.of(), null, MODEL,
            "the base model: a Hugging Face model directory, a hub id (Qwen/Qwen3-0.6B, cached under HF_HOME) or demo-tiny");
    public static final Key DEVICE_KEY = new Key("device", Type.STRING, "auto", Set.of(), DEVICE, MODEL,
            "cpu, gpu (GPU 0), gpu:N (GPU N of the host: a processor per GPU) or auto");
    public static final Key DLQ_RECORD_MAX_BYTES = new Key("dlq.record.max.bytes", Type.INT, "1048576", Set.of(),
            Validator.atLeast(1), "dead letters", "most bytes of one dead letter (at most the producer's "
                    + "max.request.size; the broker's or topic's message.max.bytes must allow it): what does not fit is "
                    + "cut and flagged with slm.truncated");
    public static final Key SIGNING_REQUIRED = new Key("control.signing.required", Type.BOOLEAN, "false", Set.of(),
            null, SIGNING, "true: refuse to start without control.signing.key (one line, exit 2); false: start unsigned, "
                    + "saying so in one WARN line and in /health");
    public static final Key TOPICS_CREATE = new Key("topics.create", Type.BOOLEAN, "true", Set.of(), null, KAFKA,
            "create missing topics at start");
    public static final Key TOPICS_REPLICATION = new Key("topics.replication", Type.INT, "1", Set.of(),
            Validator.between(1, Short.MAX_VALUE), KAFKA, "replication factor of created topics");
    public static final Key METRICS_HOST = new Key("metrics.host", Type.STRING, "127.0.0.1", Set.of(), null, OPERATIONS,
            "address of /metrics and /health/* (0.0.0.0: every interface, as containers need for probes and scraping)");

    private ServiceKeys() {}
}
