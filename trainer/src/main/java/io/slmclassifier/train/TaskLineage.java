package io.slmclassifier.train;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.DeadLetters;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.ModelFingerprint;
import io.slmclassifier.rollout.AdapterArchive;
import io.slmclassifier.rollout.AdapterLineage;
import io.slmclassifier.rollout.AdapterStore;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import io.slmclassifier.rollout.ControlSignature;
import io.slmclassifier.rollout.ControlSigning;
import io.slmclassifier.rollout.ControlState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One task's adapter lineage in the trainer: the steps of {@link TrainerService} for that task alone, on the topics
 * of its configuration view. It reads only its feedback topics, keeps its own dataset, schedule and work directory,
 * and publishes only to its own control and adapters topics; what it shares with the other lineages of the process
 * is the base model, the registry client, the producer of dataset copies and the metrics registry.
 *
 * <p>The loop thread calls {@link #catchUp} once and then {@link #turn} and {@link #dueRun}; a run returned by
 * {@link #dueRun} goes to {@link #runAndPublish} on the trainer's run thread.
 */
final class TaskLineage implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TaskLineage.class);

    /** What every lineage of the process uses alike. */
    record Shared(LanguageModel model, String modelId, String modelSha256, SchemaRegistryClient registry,
            AvroSerde<LabeledExample> examples, KafkaProducer<byte[], byte[]> producer, MeterRegistry metrics) {}

    private final TrainerConfig config;
    private final TrainerConfig.LineageTopics topics;
    private final Task task;
    private final LanguageModel model;
    private final FeedbackDataset dataset;
    private final ControlLog control;
    private final AdapterStore store;
    private final Path workDir;
    private final KafkaConsumer<byte[], byte[]> feedback;
    private final KafkaConsumer<String, byte[]> datasetConsumer;
    private final FeedbackIntake intake;
    private final DatasetReader datasetReader;
    private final RunSchedule schedule;
    private final CandidateRun candidateRun;
    private final AdapterPublication publication;
    private final ControlHistoryRestore history;
    private final ControlSignature signature;
    private final Timer trainingTime;
    private final AtomicLong pending = new AtomicLong();
    private final AtomicLong lastCandidateF1 = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private volatile boolean training;
    /** The version of this lineage's last published event (0 when none this run): the schedule waits to read it. */
    private volatile long lastPublished;

    /**
     * @param config the task's view of the trainer's configuration ({@link TrainerConfig#forTask})
     * @param scoped whether the control topic is this task's alone (several tasks): records naming another task
     *     are refused there. The single task's topic applies records of any task, as it always did.
     * @param tags on every metric of the lineage: the task's label with several tasks, none for the single task
     */
    TaskLineage(TrainerConfig config, Task task, boolean scoped, Shared shared, Tags tags) throws IOException {
        this.config = config;
        this.task = task;
        this.model = shared.model();
        this.signature = ControlSigning.of(config);
        this.topics = config.topics();
        int maxDeadLetterBytes = DeadLetters.configuredLimit(config);
        TrainerConfig.Data data = config.data();
        this.dataset = new FeedbackDataset(task, data.validationPercent());
        List<LabeledData.Example> testSet = data.testFile().isEmpty() ? List.of()
                : LabeledData.read(data.testFile().get(), task).examples();
        this.workDir = data.workDir().isEmpty() ? Files.createTempDirectory("slm-trainer-" + task.name() + "-")
                : Files.createDirectories(data.workDir().get());
        this.control = new ControlLog(config.kafkaClient(), topics.control(),
                new ControlRecords(shared.registry()), signature, scoped ? task.name() : null);
        // What it published, remembered beside the runs, so that it can write again what the topic loses.
        control.keepJournal(workDir.resolve(ControlLog.JOURNAL_FILE));
        TrainerConfig.AdapterTarget target = config.adapterTarget();
        this.store = new AdapterStore(target.store(), config.kafkaClient(), topics.adapters(), target.storeToken(),
                target.maxBytes());

        Properties consumer = config.kafkaClient();
        consumer.put(ConsumerConfig.GROUP_ID_CONFIG, data.groupId());
        consumer.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        consumer.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        consumer.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        this.feedback = new KafkaConsumer<>(consumer, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        Properties reader = config.kafkaClient();
        reader.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        this.datasetConsumer = new KafkaConsumer<>(reader, new StringDeserializer(), new ByteArrayDeserializer());

        this.intake = new FeedbackIntake(task, shared.examples(), new FeedbackIntake.Destinations(
                topics.dataset(), topics.deadLetters(), maxDeadLetterBytes), feedback, shared.producer(),
                shared.metrics(), tags);
        this.datasetReader = new DatasetReader(topics.dataset(), shared.examples(), datasetConsumer, dataset);
        this.schedule = config.schedule(System.currentTimeMillis());
        this.candidateRun = new CandidateRun(model, task, config.training(), config.freshAdapter(shared.modelId()),
                testSet, workDir, this::fetch);
        this.publication = new AdapterPublication(config.gate(), new AdapterLineage(shared.modelId(),
                shared.modelSha256(), task), store, control);
        this.history = new ControlHistoryRestore(control);

        MeterRegistry metrics = shared.metrics();
        trainingTime = Timer.builder("slm.trainer.run").tags(tags).description("training runs, gate included")
                .register(metrics);
        Gauge.builder("slm.trainer.dataset.examples", dataset, FeedbackDataset::size).tags(tags)
                .description("examples in the dataset").register(metrics);
        Gauge.builder("slm.trainer.pending.examples", pending, AtomicLong::get).tags(tags)
                .description("examples the next run will see for the first time").register(metrics);
        Gauge.builder("slm.trainer.candidate.macro_f1", lastCandidateF1, v -> Double.longBitsToDouble(v.get())).tags(tags)
                .description("validation macro-F1 of the last candidate").register(metrics);
        Gauge.builder("slm.trainer.training", this, t -> t.training ? 1 : 0).tags(tags)
                .description("1 while a run is in progress").register(metrics);
    }

    Task task() {
        return task;
    }

    FeedbackDataset dataset() {
        return dataset;
    }

    /** Says once, at start, that this lineage's control topic is unsigned, when it is. */
    void warnIfUnsigned() {
        ControlSigning.warnIfUnsigned(signature, topics.control(), log);
    }

    String describeSigning() {
        return ControlSigning.describe(signature);
    }

    /** Creates the lineage's topics that are missing: feedback, dataset, control, adapters and dead letters. */
    void createTopics() throws Exception {
        TrainerConfig.TopicCreation creation = config.topicCreation();
        int partitions = creation.partitions();
        int replication = creation.replication();
        List<org.apache.kafka.clients.admin.NewTopic> created = new ArrayList<>();
        for (String topic : topics.feedback()) {
            created.add(Topics.plain(topic, partitions, replication));
        }
        created.add(Topics.compacted(topics.dataset(), partitions, replication));
        created.add(Topics.compacted(topics.control(), 1, replication));
        created.add(Topics.compacted(topics.adapters(), 1, replication));
        created.add(Topics.plain(topics.deadLetters(), partitions, replication));
        Topics.ensure(config.kafkaClient(), created);
    }

    /** Reads the control topic and the dataset to their ends, then subscribes to the feedback and follows control. */
    void catchUp() {
        control.catchUp(Duration.ofSeconds(60));
        history.restore();
        datasetReader.readToEnd();
        feedback.subscribe(topics.feedback());
        ControlState state = control.state();
        schedule.resume(state);
        control.follow(s -> {});
        log.info("Task {} ready: {} examples in the dataset, serving version {}", task.name(), dataset.size(),
                state.serving().isPresent() ? state.serving().getAsLong() : "none (base model)");
    }

    /** One turn of the steps that run on the loop: copy feedback (waiting at most {@code poll}), read the dataset. */
    void turn(Duration poll) {
        intake.copyNext(poll);
        datasetReader.readNext(Duration.ofMillis(50));
        history.restoreWhenDue();
    }

    /** The run the schedule asks for now; empty when none is due or the split cannot train (said in the log). */
    Optional<CandidateRun.Request> dueRun() {
        ControlState state = control.state();
        if (state.highestVersion() < lastPublished) {
            // The follower has not read the last run's event yet: asked now, the schedule would see the same
            // examples as new and the same version number free, and train that version again.
            return Optional.empty();
        }
        int fresh = dataset.newerThan(RunSchedule.cutoff(state.events()));
        pending.set(fresh);
        Optional<String> reason = schedule.due(state, fresh, System.currentTimeMillis());
        if (reason.isEmpty()) {
            return Optional.empty();
        }
        FeedbackDataset.Split split = dataset.split();
        if (split.train().isEmpty() || split.validation().isEmpty()) {
            log.warn("Not training task {} on {}: {} training and {} validation examples; both need at least one",
                    task.name(), reason.get(), split.train().size(), split.validation().size());
            return Optional.empty();
        }
        OptionalLong serving = state.serving();
        Optional<AdapterEvent> servingEvent = serving.isPresent() ? state.event(serving.getAsLong()) : Optional.empty();
        return Optional.of(new CandidateRun.Request(state.highestVersion() + 1,
                config.warmStart() ? servingEvent : Optional.empty(), servingEvent, split,
                reason.get()));
    }

    /** One run: the candidate, then the gate and its publication; on the calling thread, timed. */
    void runAndPublish(CandidateRun.Request request, LoraTrainer.Progress progress) {
        training = true;
        try {
            trainingTime.record(() -> {
                try {
                    CandidateRun.Candidate candidate = candidateRun.run(request, progress);
                    lastCandidateF1.set(Double.doubleToLongBits(candidate.validation().macroF1()));
                    lastPublished = publication.publish(candidate).getVersion();
                } catch (IOException e) {
                    throw new IllegalStateException("training run for version " + request.version() + " of task "
                            + task.name() + " failed: " + e.getMessage(), e);
                }
            });
        } finally {
            training = false;
        }
    }

    /** A published version's adapter, checked against its event and its task, for training from or for the gate. */
    private LoraAdapter fetch(AdapterEvent event) throws IOException {
        byte[] archive = store.get(event.getLocation(), event.getSizeBytes());
        if (!ModelFingerprint.sha256(archive).equals(event.getSha256())) {
            throw new IOException("adapter version " + event.getVersion() + " at " + event.getLocation() + " is corrupt");
        }
        Path dir = workDir.resolve("serving-" + event.getVersion());
        AdapterArchive.unpack(archive, dir, model.weights().config, store.maxBytes(), task);
        return LoraAdapter.load(dir, model.weights().config, model.manager());
    }

    /** Ends a poll of the feedback consumer in progress, from another thread. */
    void wakeup() {
        feedback.wakeup();
    }

    String describe() {
        String store = config.adapterTarget().store();
        return "task " + task.name() + ": feedback " + topics.feedback() + " -> dataset " + topics.dataset()
                + ", versions on " + topics.control() + ", adapters to " + store
                + (store.equals("kafka") ? " (" + topics.adapters() + ")" : "");
    }

    /** Micrometer's Kafka client metrics of this lineage's consumers, beside the service's others. */
    void bindClientMetrics(io.slmclassifier.ops.StandardMetrics standard) {
        standard.consumer(feedback).consumer(datasetConsumer);
    }

    @Override
    public void close() {
        feedback.close();
        datasetConsumer.close();
        control.close();
    }
}
