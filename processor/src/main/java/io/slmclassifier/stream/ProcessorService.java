package io.slmclassifier.stream;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.TextMessage;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.console.ConsoleServer;
import io.slmclassifier.console.ConsoleSettings;
import io.slmclassifier.console.ControlTopicAdapters;
import io.slmclassifier.kafka.AvroDecodingException;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.DeadLetters;
import io.slmclassifier.kafka.KafkaReachability;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.model.ModelFingerprint;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.ops.OperationsServer;
import io.slmclassifier.rollout.AdapterRollout;
import io.slmclassifier.rollout.AdapterStore;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import io.slmclassifier.rollout.ControlSignature;
import io.slmclassifier.rollout.ControlSigning;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stream processor as a service: model and task loaded once, one inference worker, the Kafka Streams
 * topology, topics created when allowed, metrics and health on HTTP, and a clean stop that lets the batch in
 * flight finish (its records otherwise stay in the changelogged store and run again after the restart).
 */
public final class ProcessorService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProcessorService.class);

    /** How Avro goes on and off the wire: a registry-backed serializer and a decoder of TextMessage inputs. */
    public record AvroWire(SchemaRegistryClient registry, Serializer<Classification> classificationSerializer,
            Function<byte[], TextMessage> textMessages) {}

    private final ProcessorConfig config;
    private final LanguageModel model;
    private final Classifier classifier;
    /** A thread that fails this often in this window fails on the same record again and again: not ready. */
    private static final int FAILURES_NOT_READY = 3;
    private static final Duration FAILURE_WINDOW = Duration.ofMinutes(5);
    private final java.util.Queue<Long> threadFailures = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final java.util.concurrent.atomic.AtomicInteger threadDeaths = new java.util.concurrent.atomic.AtomicInteger();
    private final InferenceWorker<?> worker;
    private final ProcessorMetrics metrics;
    private final KafkaStreams streams;
    private final OperationsServer operations;
    private final AdapterRollout rollout;
    private final ConsoleServer console;
    private final List<Integer> warmupSizes;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    public ProcessorService(ProcessorConfig config) throws Exception {
        this(config, registryWire(config));
    }

    /**
     * Avro through the configured Confluent-compatible registry: results registered under
     * {@code <output topic>-value}; TextMessage inputs read by the writer schema their id names.
     */
    public static AvroWire registryWire(ProcessorConfig config) {
        SchemaRegistryClient client = SchemaRegistryClient.fromConfig(config.registryClient());
        AvroSerde<TextMessage> input = AvroSerde.forType(TextMessage.class, client);
        String inputTopic = config.get("input.topic");
        return new AvroWire(client, AvroSerde.forType(Classification.class, client).serializer(), bytes -> {
            try {
                return input.deserializer().deserialize(inputTopic, bytes);
            } catch (AvroDecodingException e) {
                throw switch (e.reason()) {
                    case UNKNOWN_SCHEMA_ID -> new BadInput(BadInput.Reason.UNKNOWN_SCHEMA_ID, e.getMessage(), e);
                    case SCHEMA_ID_IN_HEADER -> new BadInput(BadInput.Reason.HEADER_SCHEMA_ID, e.getMessage(), e);
                    // An unreachable registry is not the record's fault: fail the batch so it is retried.
                    case REGISTRY_FAILURE -> e;
                    default -> new BadInput(BadInput.Reason.UNDECODABLE, e.getMessage(), e);
                };
            } catch (RuntimeException e) {
                // Whatever else Avro throws on a malformed datum (a negative or absurd length, say) is the record's.
                throw new BadInput(BadInput.Reason.UNDECODABLE, "the Avro datum cannot be read: " + e, e);
            }
        });
    }

    public ProcessorService(ProcessorConfig config, AvroWire avro) throws Exception {
        this.config = config;
        // A bad value fails at once, not after waiting for Kafka and loading the model.
        double minLabelMass = config.abstainMinLabelMass();
        ControlSignature signature = ControlSigning.of(config);
        if (config.getInt("console.port") >= 0) {
            ConsoleSettings.checkToken(config.get("console.token"), "configuration 'console.token'");
        }
        int configuredDeadLetterBytes = DeadLetters.configuredLimit(config);
        TorchRuntime.configureOffline();
        // Before the model loads and any Kafka client starts: an unreachable broker is one line, not minutes of retries.
        KafkaReachability.await(config.get("bootstrap.servers"), Duration.ofMillis(config.getInt("startup.timeout.ms")));
        ControlSigning.warnIfUnsigned(signature, config.get("control.topic"), log);
        Task task = Task.load(Path.of(config.require("task.file")));
        this.model = LanguageModel.load(ModelResolver.resolveSpec(config.require("model.dir")),
                TorchRuntime.device(config.get("device")), null);
        String modelId = config.get("model.id").isBlank() ? model.id() : config.get("model.id");
        Classifier.Options sized = Classifier.Options.forDevice(model.device());
        int maxBatch = orAuto("batch.max.size", sized.maxBatchSize());
        this.classifier = new Classifier(model, task, new Classifier.Options(maxBatch,
                orAuto("batch.token.budget", sized.tokenBudget()), true, minLabelMass > 0));
        this.warmupSizes = io.slmclassifier.classify.Warmup.sizes(config.get("warmup.batch.sizes"),
                model.device().isGpu(), maxBatch);
        this.metrics = new ProcessorMetrics();
        this.worker = new InferenceWorker<>(classifier::prepare, classifier::classifyPrepared, maxBatch, metrics);
        metrics.watch(worker);
        if (config.getBoolean("topics.create")) {
            createTopics();
        }
        // A record its topic refuses would abort its transaction, and the records behind it, for good: what goes
        // out is kept within the topics' own limits.
        Map<String, Integer> topicLimits = Topics.maxMessageBytes(config.kafkaClient(),
                List.of(config.get("output.topic"), config.get("review.topic"), config.get("dlq.topic")));
        int maxResultBytes = Math.min(config.producerMaxRequestSize(), Math.min(
                topicLimits.getOrDefault(config.get("output.topic"), Integer.MAX_VALUE),
                topicLimits.getOrDefault(config.get("review.topic"), Integer.MAX_VALUE)));
        int maxDeadLetterBytes = DeadLetters.checkLimit(Math.min(configuredDeadLetterBytes,
                topicLimits.getOrDefault(config.get("dlq.topic"), Integer.MAX_VALUE)),
                "max.message.bytes of " + config.get("dlq.topic"));
        this.rollout = new AdapterRollout(
                new ControlLog(config.kafkaClient(), config.get("control.topic"), new ControlRecords(avro.registry()),
                        signature),
                new AdapterStore(config.get("adapter.store"), config.kafkaClient(), config.get("adapters.topic"),
                        config.get("adapter.store.token"), config.getLong("adapter.max.bytes"),
                        Duration.ofMillis(config.getLong("adapter.fetch.timeout.ms"))),
                classifier, ModelFingerprint.sha256(model.dir()), adapterCache(config), instanceId(config),
                metrics::adapterVersion);
        InputDecoder decoder = new InputDecoder(InputDecoder.format(config.get("input.format")),
                avro.textMessages(), config.getInt("text.max.chars"), !config.get("text.too.long").equals("reject"),
                new InputDecoder.Limits(config.getInt("id.max.chars"), config.getInt("headers.max.count"),
                        config.getInt("headers.max.bytes")));
        ClassifierTopology.Settings settings = new ClassifierTopology.Settings(config.get("input.topic"),
                config.get("output.topic"), config.get("dlq.topic"), task.name(), modelId, task.labels(),
                maxBatch, Duration.ofMillis(config.getInt("batch.linger.ms")),
                Duration.ofMillis(config.getInt("inference.timeout.ms")), config.getInt("store.record.max.bytes"),
                maxResultBytes, maxDeadLetterBytes,
                config.get("review.topic"), config.getDouble("abstain.threshold"), minLabelMass);
        Double baseTemperature = config.get("calibration.temperature").isBlank() ? null
                : config.getDouble("calibration.temperature");
        this.streams = new KafkaStreams(ClassifierTopology.build(settings, decoder, worker,
                avro.classificationSerializer(), metrics,
                version -> "base".equals(version) ? baseTemperature : rollout.temperatureOf(version)), streamsProperties());
        streams.setUncaughtExceptionHandler(e -> {
            threadFailures.add(System.nanoTime());
            threadDeaths.incrementAndGet();
            log.error("Stream thread failed; replacing it", e);
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        streams.setStateListener((now, before) -> log.info("Kafka Streams {} -> {}", before, now));
        int port = config.getInt("metrics.port");
        this.operations = port < 0 ? null : new OperationsServer(config.get("metrics.host"), port, metrics::scrape,
                streams::state, this::streamThreadsSteady, ControlSigning.describe(signature));
        log.info("Processor ready: {} -> {} (dead letters: {}), task {} on {} ({}), metrics on {}",
                settings.inputTopic(), settings.outputTopic(), settings.dlqTopic(), task.name(), modelId,
                model.device(), operations == null ? "off" : "http://" + config.get("metrics.host") + ":" + operations.port() + "/metrics");
        this.console = ConsoleServer.startIfEnabled(config, new ControlTopicAdapters(rollout.control()));
    }

    /** Fewer than {@link #FAILURES_NOT_READY} stream thread failures within {@link #FAILURE_WINDOW}. */
    boolean streamThreadsSteady() {
        long since = System.nanoTime() - FAILURE_WINDOW.toNanos();
        threadFailures.removeIf(t -> t < since);
        return threadFailures.size() < FAILURES_NOT_READY;
    }

    /** Stream threads that died (and were replaced) since the start. */
    int streamThreadDeaths() {
        return threadDeaths.get();
    }

    /** A batch limit: the configured number, or the device's default for "auto". */
    private int orAuto(String key, int auto) {
        return config.get(key).equalsIgnoreCase("auto") ? auto : config.getInt(key);
    }

    Properties streamsProperties() {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, config.get("application.id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, config.get("bootstrap.servers"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, config.get("processing.guarantee"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, config.get("num.stream.threads"));
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, config.get("topics.replication"));
        if (!config.get("state.dir").isBlank()) {
            p.put(StreamsConfig.STATE_DIR_CONFIG, config.get("state.dir"));
        }
        // A batch blocks its stream thread: commit often so results are visible soon after they are produced.
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        // at_least_once results are visible once sent, and Kafka Streams' producer waits up to its linger.ms (100)
        // for more: at a low rate, 100 ms of every result's latency (docs/benchmarks.md, latency at a steady rate).
        // Under exactly_once the commit sends them anyway.
        p.put(StreamsConfig.producerPrefix(org.apache.kafka.clients.producer.ProducerConfig.LINGER_MS_CONFIG), "5");
        // A record the producer or the broker refuses must not fail the stream thread: by default it would, on the
        // same record after every restart.
        p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, ProductionFailureHandler.class.getName());
        p.put(ProductionFailureHandler.DLQ_TOPIC_CONFIG, config.get("dlq.topic"));
        p.put(ProductionFailureHandler.LISTENER_CONFIG, metrics);
        p.putAll(config.kafkaPassThrough());
        return p;
    }

    private void createTopics() throws Exception {
        int partitions = config.getInt("topics.partitions");
        int replication = config.getInt("topics.replication");
        Topics.ensure(config.kafkaClient(), List.of(
                Topics.plain(config.get("input.topic"), partitions, replication),
                Topics.plain(config.get("output.topic"), partitions, replication),
                Topics.plain(config.get("dlq.topic"), partitions, replication),
                Topics.plain(config.get("review.topic"), partitions, replication),
                Topics.compacted(config.get("control.topic"), 1, replication),
                Topics.compacted(config.get("adapters.topic"), 1, replication)));
    }

    /**
     * Where adapters, the last version served and the verified control journal are kept. A temporary directory
     * is new at every start, so a restart then depends on the control topic's history alone (which compaction or an
     * unsigned tombstone may have shortened): said once, at start.
     */
    private static Path adapterCache(ProcessorConfig config) throws IOException {
        if (config.get("adapter.cache.dir").isBlank()) {
            Path temporary = Files.createTempDirectory("slm-adapters-");
            log.warn("adapter.cache.dir is not set: adapters and the verified control journal go to {}, which the next"
                    + " start will not find; set it to a directory that outlives the process", temporary);
            return temporary;
        }
        return Path.of(config.get("adapter.cache.dir"));
    }

    private static String instanceId(ProcessorConfig config) {
        if (!config.get("instance.id").isBlank()) {
            return config.get("instance.id");
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "processor-" + ProcessHandle.current().pid();
        }
    }

    /** Serves the adapter version the control topic names, then starts consuming. */
    public void start() {
        rollout.start();
        // After the rollout chose the program (an adapter merged into the weights is a program of its own) and
        // before the first record: its first passes at new shapes are slow.
        io.slmclassifier.classify.Warmup.run(classifier, warmupSizes);
        streams.start();
    }

    public AdapterRollout rollout() {
        return rollout;
    }

    public KafkaStreams.State state() {
        return streams.state();
    }

    public Classifier classifier() {
        return classifier;
    }

    public ProcessorMetrics metrics() {
        return metrics;
    }

    public int operationsPort() {
        return operations == null ? -1 : operations.port();
    }

    public int consolePort() {
        return console == null ? -1 : console.port();
    }

    /** Blocks until {@link #close} has run (from a shutdown hook on SIGTERM, for example). */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return; // a shutdown hook and the owner may both close it
        }
        log.info("Stopping: committing what is done; records still waiting run again after a restart");
        if (console != null) {
            console.close();
        }
        // Without static membership a restarted instance is a new member: leave now, or its partitions wait out
        // the session timeout. With it (group.instance.id), stay, so a rolling restart moves no partitions.
        boolean staticMember = config.kafkaPassThrough().containsKey("group.instance.id");
        streams.close(CloseOptions.groupMembershipOperation(staticMember ? CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP
                : CloseOptions.GroupMembershipOperation.LEAVE_GROUP).withTimeout(Duration.ofSeconds(60)));
        rollout.close();
        worker.close();
        if (operations != null) {
            operations.close();
        }
        classifier.close();
        model.close();
        stopped.countDown();
        log.info("Stopped");
    }
}
