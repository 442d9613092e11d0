package io.slmclassifier.train;

import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.TaskCatalog;
import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.DeadLetters;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.model.ModelFingerprint;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.ops.OperationsServer;
import io.slmclassifier.ops.StandardMetrics;
import io.slmclassifier.quality.Metrics;
import io.slmclassifier.rollout.ControlSigning;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
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
 * Each task the configuration declares ({@link TaskCatalog}) has its own {@link TaskLineage} of these steps, on its
 * own topics: the single task of {@code task.file} on the configured {@code intents.*} topics, or, with several
 * tasks, each on {@code <task>.feedback}, {@code <task>.control}, ... so a task's feedback trains, gates and publishes
 * only that task's versions. The base model is loaded once and shared: a run trains an adapter over frozen weights,
 * so one copy serves every lineage. Runs take turns, one at a time in the process (they would compete for the same
 * device and memory), the task after the last one that ran going first, while the loop keeps copying every task's
 * feedback. This class builds the clients and lineages from the configuration, runs the loop that turns them, runs
 * each candidate on a thread of its own, and reports what it does.
 */
public final class TrainerService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TrainerService.class);
    /** {@link CandidateRun#CUTOFF_METRIC}: recorded in every event besides the candidate's own metrics. */
    public static final String CUTOFF_METRIC = CandidateRun.CUTOFF_METRIC;
    /** How long one turn of the loop waits for feedback, shared among the lineages. */
    private static final Duration FEEDBACK_POLL = Duration.ofMillis(200);
    /** The shortest wait of one lineage's poll: shorter ones would only spin. */
    private static final Duration MIN_FEEDBACK_POLL = Duration.ofMillis(20);

    private final TrainerConfig config;
    private final LanguageModel model;
    private final List<TaskLineage> lineages = new ArrayList<>();
    private final KafkaProducer<byte[], byte[]> producer;
    private final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final OperationsServer operations;
    private final StandardMetrics standardMetrics;
    private final Thread loop;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean ready;
    private volatile Thread training;
    /** The lineage whose run started last: the next run is offered to the lineages after it first. */
    private int lastRun = -1;

    public TrainerService(TrainerConfig config) throws Exception {
        this.config = config;
        // A bad value fails at once, not after waiting for Kafka; the tasks are read once Kafka answers, as the
        // processor does, and each task's own settings are checked then.
        ControlSigning.of(config);
        DeadLetters.configuredLimit(config);
        TorchRuntime.configureOffline();
        io.slmclassifier.kafka.KafkaReachability.await(config.get("bootstrap.servers"), config.startupTimeout());
        List<TaskCatalog.Entry> tasks = TaskCatalog.load(config);
        List<TrainerConfig> views = tasks.stream().map(config::forTask).toList();
        for (TrainerConfig view : views) {
            ControlSigning.of(view);
            DeadLetters.configuredLimit(view);
        }
        ServiceConfig.ModelChoice chosen = config.model();
        Path modelDir = ModelResolver.resolveSpec(chosen.dir());
        SchemaRegistryClient registry = SchemaRegistryClient.fromConfig(config.registryClient());
        AvroSerde<LabeledExample> examples = AvroSerde.forType(LabeledExample.class, registry);
        String modelSha256 = ModelFingerprint.sha256(modelDir);
        // Training needs float32 on every device: the gradient path must not change dtype.
        this.model = LanguageModel.load(modelDir, TorchRuntime.device(chosen.device()), null);
        String modelId = chosen.id().orElse(model.id());
        Properties producing = config.kafkaClient();
        producing.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        producing.put(ProducerConfig.ACKS_CONFIG, "all");
        this.producer = new KafkaProducer<>(producing, new ByteArraySerializer(), new ByteArraySerializer());
        TaskLineage.Shared shared = new TaskLineage.Shared(model, modelId, modelSha256, registry, examples, producer,
                metrics);

        boolean severalTasks = TaskCatalog.severalTasks(config);
        for (int i = 0; i < tasks.size(); i++) {
            TaskCatalog.Entry task = tasks.get(i);
            // The single task's metrics keep their names without labels, as dashboards know them.
            Tags tags = severalTasks ? Tags.of("task", task.name()) : Tags.empty();
            TaskLineage lineage = new TaskLineage(views.get(i), task.task(), severalTasks, shared, tags);
            lineages.add(lineage);
            lineage.warnIfUnsigned();
            if (views.get(i).topicCreation().enabled()) {
                lineage.createTopics();
            }
        }
        StandardMetrics standard = StandardMetrics.bindTo(metrics).producer(producer);
        lineages.forEach(l -> l.bindClientMetrics(standard));
        this.standardMetrics = standard;
        Optional<ServiceConfig.Listener> listener = config.metricsListener();
        this.operations = listener.isEmpty() ? null : new OperationsServer(listener.get().host(), listener.get().port(),
                metrics::scrape, running::get, () -> ready,
                () -> training != null ? "TRAINING" : ready ? "READY" : "STARTING", signingDescription());
        this.loop = new Thread(this::run, "trainer");
        log.info("Trainer on {} ({}), metrics on {}: {}", modelId, model.device(),
                operations == null ? "off" : "port " + operations.port(),
                String.join("; ", lineages.stream().map(TaskLineage::describe).toList()));
    }

    /** What /health says of signing: the one description, or each task's when they differ. */
    private String signingDescription() {
        List<String> each = lineages.stream().map(TaskLineage::describeSigning).distinct().toList();
        return each.size() == 1 ? each.get(0) : String.join("; ", lineages.stream()
                .map(l -> l.task().name() + ": " + l.describeSigning()).toList());
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

    /** The dataset of the first (in single-task mode the only) task. */
    public FeedbackDataset dataset() {
        return lineages.get(0).dataset();
    }

    /** The dataset of the task {@code name}. */
    public FeedbackDataset dataset(String name) {
        return lineages.stream().filter(l -> l.task().name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no task '" + name + "' in this trainer")).dataset();
    }

    /** Blocks until {@link #close} has run. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    /** Catches up with each task's control topic and dataset, then turns the steps of every task until closed. */
    private void run() {
        try {
            for (TaskLineage lineage : lineages) {
                lineage.catchUp();
            }
            ready = true;
            log.info("Trainer ready: {} task{}", lineages.size(), lineages.size() == 1 ? "" : "s");
            // Each lineage's poll gets its share of one turn, so a turn takes as long with one task as with ten.
            Duration share = FEEDBACK_POLL.dividedBy(lineages.size());
            Duration poll = share.compareTo(MIN_FEEDBACK_POLL) < 0 ? MIN_FEEDBACK_POLL : share;
            while (running.get()) {
                for (TaskLineage lineage : lineages) {
                    lineage.turn(poll);
                }
                startRunWhenDue();
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            log.error("Trainer loop failed", e);
        } finally {
            ready = false;
        }
    }

    /** Asks each lineage's schedule, the one after the last run first; a due run starts on its own thread. */
    private void startRunWhenDue() {
        if (training != null) {
            return;
        }
        for (int i = 1; i <= lineages.size(); i++) {
            int index = Math.floorMod(lastRun + i, lineages.size());
            TaskLineage lineage = lineages.get(index);
            Optional<CandidateRun.Request> request = lineage.dueRun();
            if (request.isPresent()) {
                lastRun = index;
                start(lineage, request.get());
                return;
            }
        }
    }

    private void start(TaskLineage lineage, CandidateRun.Request request) {
        training = new Thread(() -> {
            try {
                lineage.runAndPublish(request, new LogProgress(lineage.task().name(), request.version()));
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

    private static String fmt(double v) {
        return String.format("%.4f", v);
    }
    /** Progress into the log: a line per evaluation and every 50 steps; a stopping trainer ends the run at its next step. */
    private final class LogProgress implements LoraTrainer.Progress {
        private final String task;
        private final long version;

        LogProgress(String task, long version) {
            this.task = task;
            this.version = version;
        }

        @Override
        public void step(int step, int totalSteps, double loss, double examplesPerSecond) {
            if (!running.get()) {
                // Nothing of an abandoned run is published: it would reach a broker that may be gone already.
                throw new java.util.concurrent.CancellationException("the trainer is stopping (version " + version + " of task "
                        + task + ")");
            }
            if (step % 50 == 0 || step == totalSteps) {
                log.info("{} version {}: step {}/{} loss {} ({} examples/s)", task, version, step, totalSteps, fmt(loss),
                        String.format("%.1f", examplesPerSecond));
            }
        }

        @Override
        public void evaluated(int step, Metrics m, boolean best) {
            log.info("{} version {}: step {} validation macro-F1 {} accuracy {}{}", task, version, step, fmt(m.macroF1()),
                    fmt(m.accuracy()), best ? " (best so far)" : "");
        }
    }

    @Override
    public void close() {
        if (!running.getAndSet(false)) {
            return;
        }
        log.info("Stopping the trainer{}", training != null ? " (the run in progress is abandoned; it runs again later)" : "");
        lineages.forEach(TaskLineage::wakeup);
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
        lineages.forEach(TaskLineage::close);
        producer.close(Duration.ofSeconds(10));
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
