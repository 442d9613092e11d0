package io.slmclassifier.stream;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.TextMessage;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.TaskCatalog;
import io.slmclassifier.classify.Warmup;
import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.console.ConsoleServer;
import io.slmclassifier.console.ConsoleStartup;
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
import io.slmclassifier.ops.StandardMetrics;
import io.slmclassifier.rollout.AdapterRollout;
import io.slmclassifier.rollout.ControlSignature;
import io.slmclassifier.rollout.ControlSigning;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stream processor as a service: one model in memory, one inference worker with a lane per task, and per task
 * a {@link TaskPipeline} (its topics, adapter rollout and Kafka Streams application); topics created when allowed,
 * metrics and health on HTTP, and a clean stop that lets the batch in flight finish (its records otherwise stay in
 * the changelogged store and run again after the restart). A single-task configuration ({@code task.file}) is one
 * pipeline under the service's own names.
 */
public final class ProcessorService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProcessorService.class);

    /** How Avro goes on and off the wire: a registry-backed serde of the results and a decoder of TextMessage inputs. */
    public record AvroWire(SchemaRegistryClient registry, AvroSerde<Classification> classifications,
            Function<byte[], TextMessage> textMessages) {}

    /** No one but the metrics watches the passes: the service as deployed. */
    private static final InferenceWorker.Listener NO_OBSERVER = (task, texts, nanos, failed) -> {};

    private final ProcessorConfig config;
    private final LanguageModel model;
    private final ProcessorMetrics metrics = new ProcessorMetrics();
    private final InferenceWorker<Classifier.Input> worker;
    private final List<TaskPipeline> pipelines;
    private final OperationsServer operations;
    /** JVM, process and Kafka Streams metrics beside the processor's own, on the same /metrics. */
    private final StandardMetrics standardMetrics;
    private final ConsoleServer console;
    private final List<Integer> warmupSizes;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicBoolean closed = new AtomicBoolean();

    public ProcessorService(ProcessorConfig config) throws Exception {
        this(config, ProcessorService::registryWire);
    }

    /**
     * Avro through the configured Confluent-compatible registry: results registered under
     * {@code <output topic>-value}; TextMessage inputs read by the writer schema their id names.
     */
    public static AvroWire registryWire(ProcessorConfig config) {
        SchemaRegistryClient client = SchemaRegistryClient.fromConfig(config.registryClient());
        AvroSerde<TextMessage> input = AvroSerde.forType(TextMessage.class, client);
        String inputTopic = config.topics().input();
        return new AvroWire(client, AvroSerde.forType(Classification.class, client), bytes -> {
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

    /**
     * Starts the service in named steps: settings checked, Kafka reached, tasks read, model loaded, one classifier
     * per task, the inference worker, the topics, a pipeline per task, then the operations server and the console.
     * Nothing is consumed before {@link #start}.
     *
     * @param wire the Avro wire of one task, from its view of the configuration
     */
    public ProcessorService(ProcessorConfig config, Function<ProcessorConfig, AvroWire> wire) throws Exception {
        this(config, wire, NO_OBSERVER);
    }

    /**
     * The same, with an observer of the inference worker's passes for a caller in the same JVM (a benchmark reading
     * its run's passes). The observer is told of each pass after the metrics, on the worker's thread, before the
     * pass's results go out: it must be quick, and must not throw (the worker would take the pass for failed).
     *
     * @param passes told of every forward pass of every task: task, texts, nanoseconds, whether it failed
     */
    public ProcessorService(ProcessorConfig config, Function<ProcessorConfig, AvroWire> wire,
            InferenceWorker.Listener passes) throws Exception {
        this.config = config;
        ControlSignature signature = checkSettings(config);
        TorchRuntime.configureOffline();
        awaitKafka();
        List<TaskCatalog.Entry> tasks = TaskCatalog.load(config);
        Map<String, ProcessorConfig> views = taskViews(tasks);
        ControlSigning.warnIfUnsigned(signature, String.join(", ",
                views.values().stream().map(view -> view.topics().control()).toList()), log);
        ServiceConfig.ModelChoice chosen = config.model();
        this.model = LanguageModel.load(ModelResolver.resolveSpec(chosen.dir()), TorchRuntime.device(chosen.device()), null);
        Classifier.Options sized = Classifier.Options.forDevice(model.device());
        ProcessorConfig.Batching batching = config.batching();
        int maxBatch = batching.maxSize(sized.maxBatchSize());
        this.warmupSizes = Warmup.sizes(batching.warmupSizes(), model.device().isGpu(), maxBatch);
        Map<String, Classifier> classifiers = classifiers(tasks, views,
                new Classifier.Options(maxBatch, batching.tokenBudget(sized.tokenBudget()), true, false,
                        batching.prefixMinRows(sized.prefixMinRows())));
        this.worker = startWorker(classifiers, maxBatch, passes);
        if (config.topicCreation().enabled()) {
            createTopics(views.values());
        }
        String modelId = chosen.id().orElse(model.id());
        // One task merges its versions into copies of the weights (nothing added to a pass); several apply theirs
        // beside the one copy they share, so that a rollout of one task touches no other's weights.
        AdapterRollout.Application adapters = tasks.size() == 1 ? AdapterRollout.Application.MERGED
                : AdapterRollout.Application.UNMERGED;
        TaskPipeline.Shared shared = new TaskPipeline.Shared(modelId, ModelFingerprint.sha256(model.dir()), maxBatch,
                signature, instanceId(config), TaskCatalog.severalTasks(config), adapters);
        this.pipelines = pipelines(views, classifiers, wire, shared);
        this.standardMetrics = StandardMetrics.bindTo(metrics.registry());
        pipelines.forEach(pipeline -> standardMetrics.streams(pipeline.streams()));
        this.operations = startOperations(ControlSigning.describe(signature));
        log.info("Processor ready: model {} on {}, metrics on {}", modelId, model.device(), operations == null ? "off"
                : "http://" + config.metricsListener().orElseThrow().host() + ":" + operations.port() + "/metrics");
        this.console = startConsole();
    }

    /** Settings that would fail later fail now, before waiting for Kafka and loading the model. */
    private static ControlSignature checkSettings(ProcessorConfig config) {
        ControlSignature signature = ControlSigning.of(config);
        if (config.consoleStartup().enabled()) {
            config.consoleSettings();
        }
        DeadLetters.configuredLimit(config);
        return signature;
    }

    /** Before the model loads and any Kafka client starts: an unreachable broker is one line, not minutes of retries. */
    private void awaitKafka() throws KafkaReachability.Unreachable {
        KafkaReachability.await(config.get("bootstrap.servers"), config.startupTimeout());
    }

    /** Each task's view of the configuration, by task name in declaration order; its own overrides checked too. */
    private Map<String, ProcessorConfig> taskViews(List<TaskCatalog.Entry> tasks) {
        Map<String, ProcessorConfig> views = new LinkedHashMap<>();
        for (TaskCatalog.Entry task : tasks) {
            ProcessorConfig view = config.forTask(task);
            DeadLetters.configuredLimit(view);
            views.put(task.name(), view);
        }
        return views;
    }

    /** One classifier per task over the one model: its prompt, labels and sliced head; the label mass where asked. */
    private Map<String, Classifier> classifiers(List<TaskCatalog.Entry> tasks, Map<String, ProcessorConfig> views,
            Classifier.Options options) {
        Map<String, Classifier> classifiers = new LinkedHashMap<>();
        for (TaskCatalog.Entry task : tasks) {
            boolean labelMass = views.get(task.name()).abstention().needsLabelMass();
            classifiers.put(task.name(), new Classifier(model, task.task(), options.withLabelMass(labelMass)));
        }
        return classifiers;
    }

    /**
     * The inference worker: one lane per task, each preparing and classifying with the task's classifier. A pass
     * holds one task's texts, and the lanes take turns by age, so a quiet task never waits behind a busy one.
     */
    private InferenceWorker<Classifier.Input> startWorker(Map<String, Classifier> classifiers, int maxBatch,
            InferenceWorker.Listener passes) {
        List<InferenceWorker.Lane<Classifier.Input>> lanes = new ArrayList<>();
        classifiers.forEach((task, classifier) ->
                lanes.add(new InferenceWorker.Lane<>(task, classifier::prepare, classifier::classifyPrepared)));
        InferenceWorker.Listener listener = (task, texts, nanos, failed) -> {
            metrics.forwardPass(task, texts, nanos, failed);
            passes.forwardPass(task, texts, nanos, failed);
        };
        InferenceWorker<Classifier.Input> started = new InferenceWorker<>(lanes, maxBatch, listener);
        classifiers.forEach((task, classifier) -> {
            metrics.forTask(task).watch(started);
            metrics.forTask(task).labels(classifier.task().labels());
        });
        return started;
    }

    /** Every task's topics that are missing, created before the pipelines read their limits. */
    private void createTopics(Iterable<ProcessorConfig> views) throws Exception {
        List<NewTopic> topics = new ArrayList<>();
        for (ProcessorConfig view : views) {
            ProcessorConfig.TopicCreation creation = view.topicCreation();
            ProcessorConfig.TaskTopics task = view.topics();
            int partitions = creation.partitions();
            int replication = creation.replication();
            topics.addAll(List.of(
                    Topics.plain(task.input(), partitions, replication),
                    Topics.plain(task.output(), partitions, replication),
                    Topics.plain(task.deadLetters(), partitions, replication),
                    Topics.plain(task.review(), partitions, replication),
                    Topics.compacted(task.control(), 1, replication),
                    Topics.compacted(task.adapters(), 1, replication)));
        }
        Topics.ensure(config.kafkaClient(), topics);
    }

    /** A pipeline per task, each submitting to its own lane. */
    private List<TaskPipeline> pipelines(Map<String, ProcessorConfig> views, Map<String, Classifier> classifiers,
            Function<ProcessorConfig, AvroWire> wire, TaskPipeline.Shared shared) throws IOException {
        List<TaskPipeline> built = new ArrayList<>();
        for (Map.Entry<String, ProcessorConfig> task : views.entrySet()) {
            ProcessorConfig view = task.getValue();
            TaskPipeline pipeline = new TaskPipeline(view, classifiers.get(task.getKey()),
                    ClassifierTopology.Inference.lane(worker, task.getKey(), view.batching().idleStart()), wire.apply(view),
                    metrics.forTask(task.getKey()), shared);
            built.add(pipeline);
            ProcessorConfig.TaskTopics topics = view.topics();
            log.info("Task {}: {} -> {} (dead letters: {}, control: {})", task.getKey(), topics.input(),
                    topics.output(), topics.deadLetters(), topics.control());
        }
        return List.copyOf(built);
    }

    /**
     * {@code /metrics} and {@code /health}: live while no task's Streams client is dead, ready when every task's is
     * RUNNING and its stream threads are not failing again and again.
     */
    private OperationsServer startOperations(String control) throws IOException {
        Optional<ServiceConfig.Listener> listener = config.metricsListener();
        if (listener.isEmpty()) {
            return null;
        }
        return new OperationsServer(listener.get().host(), listener.get().port(), metrics::scrape,
                () -> pipelines.stream().map(TaskPipeline::state)
                        .allMatch(s -> s != KafkaStreams.State.ERROR && s != KafkaStreams.State.NOT_RUNNING),
                () -> pipelines.stream().allMatch(p -> p.state() == KafkaStreams.State.RUNNING && p.streamThreadsSteady()),
                this::describeState, control);
    }

    /** The state word of /health: the Streams state of one task, or each task's with its name. */
    private String describeState() {
        List<String> states = new ArrayList<>();
        for (TaskPipeline pipeline : pipelines) {
            String state = pipeline.state().name() + (pipeline.streamThreadsSteady() ? "" : " (stream threads keep failing)");
            states.add(pipelines.size() == 1 ? state : pipeline.name() + ": " + state);
        }
        return String.join(", ", states);
    }

    /**
     * The web console over every task, each with its own topics and adapter control (from its control topic); the
     * page selects the task.
     */
    private ConsoleServer startConsole() throws Exception {
        ConsoleStartup startup = config.consoleStartup();
        if (!startup.enabled()) {
            return null;
        }
        List<ConsoleServer.Task> shown = pipelines.stream().map(p -> new ConsoleServer.Task(p.name(),
                p.config().consoleSettings(), new ControlTopicAdapters(p.rollout().control()))).toList();
        return ConsoleServer.startIfEnabled(startup, shown);
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

    /**
     * A processor started and running, every task's Streams application RUNNING: for callers that send records only
     * then (the benchmarks). When one stops instead of running, the processor is closed again and that is thrown.
     */
    public static ProcessorService running(ProcessorConfig config) throws Exception {
        return running(config, NO_OBSERVER);
    }

    /**
     * {@link #running(ProcessorConfig)}, with an observer of the worker's passes (see
     * {@link #ProcessorService(ProcessorConfig, Function, InferenceWorker.Listener)}).
     */
    public static ProcessorService running(ProcessorConfig config, InferenceWorker.Listener passes) throws Exception {
        ProcessorService service = new ProcessorService(config, ProcessorService::registryWire, passes);
        try {
            service.start();
            for (KafkaStreams.State state = service.state(); state != KafkaStreams.State.RUNNING;
                    state = service.state()) {
                if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.NOT_RUNNING) {
                    throw new IllegalStateException("the processor stopped while starting: " + state);
                }
                Thread.sleep(10);
            }
            return service;
        } catch (Exception | Error e) {
            service.close();
            throw e;
        }
    }

    /** Serves the adapter version each task's control topic names, then starts consuming. */
    public void start() {
        pipelines.forEach(TaskPipeline::startRollout);
        // After each rollout chose its program (an adapter merged into the weights is a program of its own) and
        // before the first record: the first passes at new shapes are slow. Every task's, since each has its own
        // prompt prefix and adapter; through the worker, on the thread the records' passes will run on.
        for (TaskPipeline pipeline : pipelines) {
            Warmup.run(pipeline.classifier().task(), warmupSizes, texts -> warmUpPass(pipeline.name(), texts));
        }
        pipelines.forEach(TaskPipeline::resolveResultSchema);
        pipelines.forEach(TaskPipeline::startConsuming);
    }

    /** One warm-up pass as the task's records go, through its lane; a pass that fails stops the start. */
    private void warmUpPass(String task, List<String> texts) {
        for (InferenceWorker.Outcome outcome : worker.submit(task, texts).join()) {
            if (!outcome.ok()) {
                throw outcome.error();
            }
        }
    }

    /** The tasks served, in declaration order. */
    public List<TaskPipeline> pipelines() {
        return pipelines;
    }

    /** The pipeline of one task. */
    public TaskPipeline pipeline(String task) {
        return pipelines.stream().filter(p -> p.name().equals(task)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no task '" + task + "' is served here"));
    }

    /** The adapter rollout of the first (in single-task mode: the only) task. */
    public AdapterRollout rollout() {
        return pipelines.get(0).rollout();
    }

    /** The classifier of the first (in single-task mode: the only) task. */
    public Classifier classifier() {
        return pipelines.get(0).classifier();
    }

    /** RUNNING when every task's Streams client runs; else the state of the first task that does not. */
    public KafkaStreams.State state() {
        return pipelines.stream().map(TaskPipeline::state).filter(s -> s != KafkaStreams.State.RUNNING).findFirst()
                .orElse(KafkaStreams.State.RUNNING);
    }

    /** Whether no task's stream threads keep failing. */
    boolean streamThreadsSteady() {
        return pipelines.stream().allMatch(TaskPipeline::streamThreadsSteady);
    }

    /** Stream threads that died (and were replaced) since the start, over all tasks. */
    int streamThreadDeaths() {
        return pipelines.stream().mapToInt(TaskPipeline::streamThreadDeaths).sum();
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

    /** Stops every pipeline (each commits what is done), then the worker, then the classifiers and the model. */
    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return; // a shutdown hook and the owner may both close it
        }
        log.info("Stopping: committing what is done; records still waiting run again after a restart");
        if (console != null) {
            console.close();
        }
        pipelines.forEach(TaskPipeline::close);
        worker.close();
        standardMetrics.close();
        if (operations != null) {
            operations.close();
        }
        pipelines.forEach(p -> p.classifier().close());
        model.close();
        stopped.countDown();
        log.info("Stopped");
    }
}
