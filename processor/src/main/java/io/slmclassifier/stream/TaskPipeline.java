package io.slmclassifier.stream;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.DeadLetters;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.rollout.AdapterRollout;
import io.slmclassifier.rollout.AdapterStore;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import io.slmclassifier.rollout.ControlSignature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One task as the processor serves it: the task's view of the configuration (its topics, Streams application and
 * adapter cache), its adapter rollout (its own control topic: one lineage of versions per task) and its Kafka Streams
 * application over {@link ClassifierTopology}, whose batches go to the task's lane of the shared inference worker.
 * The model, the worker and the metrics registry belong to the {@link ProcessorService}; the task's classifier is
 * handed in, as the worker's lane holds it too.
 */
public final class TaskPipeline implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TaskPipeline.class);

    /** A thread that fails this often in this window fails on the same record again and again: not ready. */
    private static final int FAILURES_NOT_READY = 3;
    private static final Duration FAILURE_WINDOW = Duration.ofMinutes(5);

    /**
     * What every task of the processor shares: the model's identity, the signing key and this instance's name.
     *
     * @param taskLineages whether the tasks are declared with {@code tasks} or {@code tasks.dir}: each control topic
     *     is then folded as its task's lineage alone (records naming another task are refused); with {@code task.file}
     *     records of any task apply, as they always did
     * @param adapters merged where one task has the model to itself; unmerged where several share it
     */
    record Shared(String modelId, String modelSha256, int maxBatch, ControlSignature signature, String instance,
            boolean taskLineages, AdapterRollout.Application adapters) {}

    private final String name;
    private final ProcessorConfig config;
    private final Classifier classifier;
    private final ProcessorMetrics.Task metrics;
    private final AdapterRollout rollout;
    /** Writes the task's results: its schema id is resolved before the first record ({@link #resolveResultSchema}). */
    private final AvroSerde<Classification> resultSerde;
    private final KafkaStreams streams;
    private final Queue<Long> threadFailures = new ConcurrentLinkedQueue<>();
    private final AtomicInteger threadDeaths = new AtomicInteger();

    /**
     * Builds the task's rollout and Streams application; nothing is read or consumed before {@link #start}.
     *
     * @param config the task's view ({@link ProcessorConfig#forTask})
     * @param inference the task's lane of the inference worker
     */
    TaskPipeline(ProcessorConfig config, Classifier classifier, ClassifierTopology.Inference inference,
            ProcessorService.AvroWire avro, ProcessorMetrics.Task metrics, Shared shared) throws IOException {
        this.name = classifier.task().name();
        this.config = config;
        this.classifier = classifier;
        this.metrics = metrics;
        ProcessorConfig.TaskTopics topics = config.topics();
        ProcessorConfig.AdapterSource adapters = config.adapterSource();
        this.rollout = new AdapterRollout(
                new ControlLog(config.kafkaClient(), topics.control(), new ControlRecords(avro.registry()),
                        shared.signature(), shared.taskLineages() ? name : null),
                new AdapterStore(adapters.store(), config.kafkaClient(), topics.adapters(), adapters.storeToken(),
                        adapters.maxBytes(), adapters.fetchTimeout()),
                classifier, shared.adapters(), shared.modelSha256(), adapterCache(adapters), shared.instance(),
                metrics::adapterVersion);
        ProcessorConfig.Abstention abstention = config.abstention();
        Double baseTemperature = abstention.baseTemperature().isPresent()
                ? abstention.baseTemperature().getAsDouble() : null;
        this.resultSerde = avro.classifications();
        this.streams = new KafkaStreams(ClassifierTopology.build(settings(shared, topics, abstention), decoder(avro),
                inference, resultSerde.serializer(), metrics,
                version -> "base".equals(version) ? baseTemperature : rollout.temperatureOf(version)), streamsProperties());
        streams.setUncaughtExceptionHandler(e -> {
            threadFailures.add(System.nanoTime());
            threadDeaths.incrementAndGet();
            log.error("Stream thread of task {} failed; replacing it", name, e);
            return StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        streams.setStateListener((now, before) -> log.info("Kafka Streams of task {}: {} -> {}", name, before, now));
    }

    /** The topology's settings, with result and dead-letter sizes kept within what the task's topics take. */
    private ClassifierTopology.Settings settings(Shared shared, ProcessorConfig.TaskTopics topics,
            ProcessorConfig.Abstention abstention) {
        // A record its topic refuses would abort its transaction, and the records behind it, for good: what goes
        // out is kept within the topics' own limits.
        Map<String, Integer> topicLimits = Topics.maxMessageBytes(config.kafkaClient(),
                List.of(topics.output(), topics.review(), topics.deadLetters()));
        int maxResultBytes = Math.min(config.producerMaxRequestSize(), Math.min(
                topicLimits.getOrDefault(topics.output(), Integer.MAX_VALUE),
                topicLimits.getOrDefault(topics.review(), Integer.MAX_VALUE)));
        int maxDeadLetterBytes = DeadLetters.checkLimit(Math.min(DeadLetters.configuredLimit(config),
                topicLimits.getOrDefault(topics.deadLetters(), Integer.MAX_VALUE)),
                "max.message.bytes of " + topics.deadLetters());
        ProcessorConfig.Batching batching = config.batching();
        return new ClassifierTopology.Settings(topics.input(), topics.output(), topics.deadLetters(), name,
                shared.modelId(), classifier.task().labels(), shared.maxBatch(), batching.linger(),
                batching.inferenceTimeout(), config.inputLimits().maxStoreRecordBytes(), maxResultBytes, maxDeadLetterBytes,
                topics.review(), abstention.threshold(), abstention.minLabelMass());
    }

    private InputDecoder decoder(ProcessorService.AvroWire avro) {
        ProcessorConfig.InputLimits input = config.inputLimits();
        return new InputDecoder(input.format(), avro.textMessages(), input.maxTextChars(), input.truncateLongText(),
                input.limits());
    }

    Properties streamsProperties() {
        Properties p = config.kafkaStreams();
        // A batch blocks its stream thread: commit often so results are visible soon after they are produced.
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        // at_least_once results are visible once sent, and Kafka Streams' producer waits up to its linger.ms (100)
        // for more: at a low rate, 100 ms of every result's latency (docs/benchmarks.md, latency at a steady rate).
        // Under exactly_once the commit sends them anyway.
        p.put(StreamsConfig.producerPrefix(org.apache.kafka.clients.producer.ProducerConfig.LINGER_MS_CONFIG), "5");
        // A record the producer or the broker refuses must not fail the stream thread: by default it would, on the
        // same record after every restart.
        p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, ProductionFailureHandler.class.getName());
        p.put(ProductionFailureHandler.DLQ_TOPIC_CONFIG, config.topics().deadLetters());
        p.put(ProductionFailureHandler.LISTENER_CONFIG, metrics);
        p.putAll(config.kafkaPassThrough());
        return p;
    }

    /**
     * Where adapters, the last version served and the verified control journal are kept. A temporary directory
     * is new at every start, so a restart then depends on the control topic's history alone (which compaction or an
     * unsigned tombstone may have shortened): said once, at start.
     */
    private static Path adapterCache(ProcessorConfig.AdapterSource adapters) throws IOException {
        if (adapters.cacheDir().isEmpty()) {
            Path temporary = Files.createTempDirectory("slm-adapters-");
            log.warn("adapter.cache.dir is not set: adapters and the verified control journal go to {}, which the next"
                    + " start will not find; set it to a directory that outlives the process", temporary);
            return temporary;
        }
        return adapters.cacheDir().get();
    }

    /** Serves the adapter version the task's control topic names (and follows it from then on). */
    void startRollout() {
        rollout.start();
    }

    /**
     * The result schema's id under the output topic's subject (and the review topic's, where results can abstain),
     * looked up or registered now. Otherwise the first result of each stream thread waits on the registry, holding
     * the records behind it: on a new topic a registration, which a Kafka-backed registry acknowledges only once its
     * schema log has it (~0.2-0.5 s measured at a first start, docs/benchmarks.md). A registry that fails here is
     * only warned of: the first result asks again, and a failure then goes as a serialization failure does.
     */
    void resolveResultSchema() {
        ProcessorConfig.TaskTopics topics = config.topics();
        List<String> resultTopics = config.abstention().canAbstain()
                ? List.of(topics.output(), topics.review()) : List.of(topics.output());
        for (String topic : resultTopics) {
            try {
                resultSerde.schemaId(topic);
            } catch (RuntimeException e) {
                log.warn("Task {}: the result schema's id under {} is not known yet ({}); the first result will ask "
                        + "the registry again", name, topic, e.getMessage());
            }
        }
    }

    /** Starts consuming the task's input. */
    void startConsuming() {
        streams.start();
    }

    public String name() {
        return name;
    }

    public ProcessorConfig config() {
        return config;
    }

    public Classifier classifier() {
        return classifier;
    }

    public AdapterRollout rollout() {
        return rollout;
    }

    public KafkaStreams.State state() {
        return streams.state();
    }

    /** The task's Kafka Streams client, for the metrics of the clients inside it. */
    KafkaStreams streams() {
        return streams;
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

    /**
     * Stops consuming (committing what is done) and following the control topic. The classifier stays open: the
     * worker may still hold a batch of it, and the service closes it after the worker.
     */
    @Override
    public void close() {
        // Without static membership a restarted instance is a new member: leave now, or its partitions wait out
        // the session timeout. With it (group.instance.id), stay, so a rolling restart moves no partitions.
        boolean staticMember = config.kafkaPassThrough().containsKey("group.instance.id");
        streams.close(CloseOptions.groupMembershipOperation(staticMember
                ? CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP
                : CloseOptions.GroupMembershipOperation.LEAVE_GROUP).withTimeout(Duration.ofSeconds(60)));
        rollout.close();
    }
}
