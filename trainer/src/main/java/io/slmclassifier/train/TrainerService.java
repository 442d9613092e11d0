package io.slmclassifier.train;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
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
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.ops.OperationsServer;
import io.slmclassifier.ops.StandardMetrics;
import io.slmclassifier.quality.Metrics;
import io.slmclassifier.rollout.AdapterArchive;
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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainer: labeled feedback in, a better adapter out. A thin service over named steps, each in its own class:
 * <ol>
 *   <li>{@link FeedbackIntake}: feedback records checked against the task and copied into the compacted dataset
 *       topic, or dead-lettered; {@link DatasetReader} reads that topic back into the {@link FeedbackDataset}, so a
 *       restart has everything;</li>
 *   <li>{@link RunSchedule}: whether a run is due (enough new examples, an interval with some, a TRAIN command);</li>
 *   <li>{@link CandidateRun}: train (warm-started from the serving adapter, or fresh), calibrate, evaluate, archive;</li>
 *   <li>{@link AdapterPublication}: the quality gate against the serving adapter on the same validation examples;
 *       a candidate that passes is stored and announced ACTIVE on the control topic, others are recorded REJECTED;</li>
 *   <li>{@link ControlHistoryRestore}: its events that the control topic lost, written again.</li>
 * </ol>
 * This class builds the clients and steps from the configuration, runs the loop that turns them, runs each
 * candidate on a thread of its own (the loop keeps copying feedback meanwhile), and reports what it does.
 */
public final class TrainerService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TrainerService.class);
    /** {@link CandidateRun#CUTOFF_METRIC}: recorded in every event besides the candidate's own metrics. */
    public static final String CUTOFF_METRIC = CandidateRun.CUTOFF_METRIC;

    private final TrainerConfig config;
    private final LanguageModel model;
    private final FeedbackDataset dataset;
    private final ControlLog control;
    private final AdapterStore store;
    private final Path workDir;
    private final KafkaConsumer<byte[], byte[]> feedback;
    private final KafkaConsumer<String, byte[]> datasetConsumer;
    private final KafkaProducer<byte[], byte[]> producer;
    private final FeedbackIntake intake;
    private final DatasetReader datasetReader;
    private final RunSchedule schedule;
    private final CandidateRun candidateRun;
    private final AdapterPublication publication;
    private final ControlHistoryRestore history;
    private final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Timer trainingTime;
    private final AtomicLong pending = new AtomicLong();
    private final AtomicLong lastCandidateF1 = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final OperationsServer operations;
    private final StandardMetrics standardMetrics;
    private final Thread loop;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean ready;
    private volatile Thread training;

    public TrainerService(TrainerConfig config) throws Exception {
        this.config = config;
        // A bad value fails at once, not after waiting for Kafka.
        ControlSignature signature = ControlSigning.of(config);
        int maxDeadLetterBytes = DeadLetters.configuredLimit(config);
        TorchRuntime.configureOffline();
        io.slmclassifier.kafka.KafkaReachability.await(config.get("bootstrap.servers"),
                java.time.Duration.ofMillis(config.getInt("startup.timeout.ms")));
        ControlSigning.warnIfUnsigned(signature, config.get("control.topic"), log);
        Task task = Task.load(Path.of(config.require("task.file")));
        Path modelDir = ModelResolver.resolveSpec(config.require("model.dir"));
        this.dataset = new FeedbackDataset(task, config.getInt("validation.percent"));
        QualityGate gate = QualityGate.of(config);
        List<LabeledData.Example> testSet = config.get("test.file").isBlank() ? List.of()
                : LabeledData.read(Path.of(config.get("test.file")), task).examples();
        this.workDir = config.get("work.dir").isBlank() ? Files.createTempDirectory("slm-trainer-")
                : Files.createDirectories(Path.of(config.get("work.dir")));
        if (config.getBoolean("topics.create")) {
            createTopics();
        }
        SchemaRegistryClient registry = SchemaRegistryClient.fromConfig(config.registryClient());
        AvroSerde<LabeledExample> examples = AvroSerde.forType(LabeledExample.class, registry);
        this.control = new ControlLog(config.kafkaClient(), config.get("control.topic"), new ControlRecords(registry),
                signature);
        // What it published, remembered beside the runs, so that it can write again what the topic loses.
        control.keepJournal(workDir.resolve(ControlLog.JOURNAL_FILE));
        this.store = new AdapterStore(config.get("adapter.store"), config.kafkaClient(), config.get("adapters.topic"),
                config.get("adapter.store.token"), config.getLong("adapter.max.bytes"));
        String modelSha256 = ModelFingerprint.sha256(modelDir);
        // Training needs float32 on every device: the gradient path must not change dtype.
        this.model = LanguageModel.load(modelDir, TorchRuntime.device(config.get("device")), null);
        String modelId = config.get("model.id").isBlank() ? model.id() : config.get("model.id");

        Properties consumer = config.kafkaClient();
        consumer.put(ConsumerConfig.GROUP_ID_CONFIG, config.get("group.id"));
        consumer.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        consumer.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        consumer.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        this.feedback = new KafkaConsumer<>(consumer, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        Properties reader = config.kafkaClient();
        reader.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        this.datasetConsumer = new KafkaConsumer<>(reader, new StringDeserializer(), new ByteArrayDeserializer());
        Properties producing = config.kafkaClient();
        producing.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        producing.put(ProducerConfig.ACKS_CONFIG, "all");
        this.producer = new KafkaProducer<>(producing, new ByteArraySerializer(), new ByteArraySerializer());

        this.intake = new FeedbackIntake(task, examples, new FeedbackIntake.Destinations(config.get("dataset.topic"),
                config.get("dlq.topic"), maxDeadLetterBytes), feedback, producer, metrics);
        this.datasetReader = new DatasetReader(config.get("dataset.topic"), examples, datasetConsumer, dataset);
        this.schedule = RunSchedule.of(config, System.currentTimeMillis());
        this.candidateRun = new CandidateRun(model, task, CandidateRun.settings(config),
                CandidateRun.freshAdapter(config, modelId), testSet, workDir, this::fetch);
        this.publication = new AdapterPublication(gate, new AdapterPublication.BaseModel(modelId, modelSha256, task),
                store, control);
        this.history = new ControlHistoryRestore(control);

        trainingTime = Timer.builder("slm.trainer.run").description("training runs, gate included").register(metrics);
        Gauge.builder("slm.trainer.dataset.examples", dataset, FeedbackDataset::size)
                .description("examples in the dataset").register(metrics);
        Gauge.builder("slm.trainer.pending.examples", pending, AtomicLong::get)
                .description("examples the next run will see for the first time").register(metrics);
        Gauge.builder("slm.trainer.candidate.macro_f1", lastCandidateF1, v -> Double.longBitsToDouble(v.get()))
                .description("validation macro-F1 of the last candidate").register(metrics);
        Gauge.builder("slm.trainer.training", this, t -> t.training != null ? 1 : 0)
                .description("1 while a run is in progress").register(metrics);
        this.standardMetrics = StandardMetrics.bindTo(metrics).consumer(feedback).consumer(datasetConsumer).producer(producer);
        int port = config.getInt("metrics.port");
        this.operations = port < 0 ? null : new OperationsServer(config.get("metrics.host"), port, metrics::scrape, running::get, () -> ready,
                () -> training != null ? "TRAINING" : ready ? "READY" : "STARTING", ControlSigning.describe(signature));
        this.loop = new Thread(this::run, "trainer");
        log.info("Trainer for task {} on {} ({}): feedback {} -> dataset {}, adapters to {}, metrics on {}", task.name(),
                modelId, model.device(), config.getList("feedback.topics"), config.get("dataset.topic"),
                config.get("adapter.store"), operations == null ? "off" : "port " + operations.port());
    }

    private void createTopics() throws Exception {
        int partitions = config.getInt("topics.partitions");
        int replication = config.getInt("topics.replication");
        List<org.apache.kafka.clients.admin.NewTopic> topics = new ArrayList<>();
        for (String topic : config.getList("feedback.topics")) {
            topics.add(Topics.plain(topic, partitions, replication));
        }
        topics.add(Topics.compacted(config.get("dataset.topic"), partitions, replication));
        topics.add(Topics.compacted(config.get("control.topic"), 1, replication));
        topics.add(Topics.compacted(config.get("adapters.topic"), 1, replication));
        topics.add(Topics.plain(config.get("dlq.topic"), partitions, replication));
        Topics.ensure(config.kafkaClient(), topics);
    }

    public void start() {
        loop.start();
    }

    public int operationsPort() {
        return operations == null ? -1 : operations.port();
    }

    public boolean ready() {
        return ready;
    }

    /** New examples that start a run. */
    public int trainAfter() {
        return config.getInt("trigger.examples");
    }

    public FeedbackDataset dataset() {
        return dataset;
    }

    /** Blocks until {@link #close} has run. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    /** Catches up with the control topic and the dataset, then turns the steps until closed. */
    private void run() {
        try {
            control.catchUp(Duration.ofSeconds(60));
            history.restore();
            datasetReader.readToEnd();
            feedback.subscribe(config.getList("feedback.topics"));
            ControlState state = control.state();
            schedule.resume(state);
            control.follow(s -> {});
            ready = true;
            log.info("Trainer ready: {} examples in the dataset, serving version {}", dataset.size(),
                    state.serving().isPresent() ? state.serving().getAsLong() : "none (base model)");
            while (running.get()) {
                intake.copyNext(Duration.ofMillis(200));
                datasetReader.readNext(Duration.ofMillis(50));
                startRunWhenDue();
                history.restoreWhenDue();
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            log.error("Trainer loop failed", e);
        } finally {
            ready = false;
        }
    }

    /** Asks the schedule; a due run is started on its own thread, one at a time. */
    private void startRunWhenDue() {
        if (training != null) {
            return;
        }
        ControlState state = control.state();
        int fresh = dataset.newerThan(RunSchedule.cutoff(state.events()));
        pending.set(fresh);
        Optional<String> reason = schedule.due(state, fresh, System.currentTimeMillis());
        if (reason.isEmpty()) {
            return;
        }
        FeedbackDataset.Split split = dataset.split();
        if (split.train().isEmpty() || split.validation().isEmpty()) {
            log.warn("Not training on {}: {} training and {} validation examples; both need at least one", reason.get(),
                    split.train().size(), split.validation().size());
            return;
        }
        OptionalLong serving = state.serving();
        Optional<AdapterEvent> servingEvent = serving.isPresent() ? state.event(serving.getAsLong()) : Optional.empty();
        CandidateRun.Request request = new CandidateRun.Request(state.highestVersion() + 1,
                config.getBoolean("train.warm.start") ? servingEvent : Optional.empty(), servingEvent, split,
                reason.get());
        training = new Thread(() -> {
            try {
                trainingTime.record(() -> runAndPublish(request));
            } catch (java.util.concurrent.CancellationException e) {
                log.info("Training run abandoned: {}", e.getMessage());
            } catch (RuntimeException e) {
                log.error("Training run failed", e);
            } finally {
                training = null;
            }
        }, "trainer-run");
        training.start();
    }

    /** One run: the candidate, then the gate and its publication. */
    private void runAndPublish(CandidateRun.Request request) {
        try {
            CandidateRun.Candidate candidate = candidateRun.run(request, new LogProgress(request.version()));
            lastCandidateF1.set(Double.doubleToLongBits(candidate.validation().macroF1()));
            publication.publish(candidate);
        } catch (IOException e) {
            throw new IllegalStateException("training run for version " + request.version() + " failed: "
                    + e.getMessage(), e);
        }
    }

    /** A published version's adapter, checked against its event, for training from or for the gate. */
    private LoraAdapter fetch(AdapterEvent event) throws IOException {
        byte[] archive = store.get(event.getLocation(), event.getSizeBytes());
        if (!ModelFingerprint.sha256(archive).equals(event.getSha256())) {
            throw new IOException("adapter version " + event.getVersion() + " at " + event.getLocation() + " is corrupt");
        }
        Path dir = workDir.resolve("serving-" + event.getVersion());
        AdapterArchive.unpack(archive, dir, model.weights().config, store.maxBytes());
        return LoraAdapter.load(dir, model.weights().config, model.manager());
    }

    private static String fmt(double v) {
        return String.format("%.4f", v);
    }
    /** Progress into the log: a line per evaluation and every 50 steps; a stopping trainer ends the run at its next step. */
    private final class LogProgress implements LoraTrainer.Progress {
        private final long version;

        LogProgress(long version) {
            this.version = version;
        }

        @Override
        public void step(int step, int totalSteps, double loss, double examplesPerSecond) {
            if (!running.get()) {
                // Nothing of an abandoned run is published: it would reach a broker that may be gone already.
                throw new java.util.concurrent.CancellationException("the trainer is stopping (version " + version + ")");
            }
            if (step % 50 == 0 || step == totalSteps) {
                log.info("version {}: step {}/{} loss {} ({} examples/s)", version, step, totalSteps, fmt(loss),
                        String.format("%.1f", examplesPerSecond));
            }
        }

        @Override
        public void evaluated(int step, Metrics m, boolean best) {
            log.info("version {}: step {} validation macro-F1 {} accuracy {}{}", version, step, fmt(m.macroF1()),
                    fmt(m.accuracy()), best ? " (best so far)" : "");
        }
    }

    @Override
    public void close() {
        if (!running.getAndSet(false)) {
            return;
        }
        log.info("Stopping the trainer{}", training != null ? " (the run in progress is abandoned; it runs again later)" : "");
        feedback.wakeup();
        try {
            loop.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Thread run = training;
        if (run != null) {
            try {
                run.join(10_000); // it stops at its next step
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        standardMetrics.close();
        feedback.close();
        datasetConsumer.close();
        producer.close(Duration.ofSeconds(10));
        control.close();
        if (operations != null) {
            operations.close();
        }
        if (run == null || !run.isAlive()) {
            model.close(); // a run still going would crash on freed weights; the process is ending anyway
        }
        stopped.countDown();
        log.info("Trainer stopped");
    }
}
