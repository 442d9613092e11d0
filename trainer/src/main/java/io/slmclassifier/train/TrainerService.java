package io.slmclassifier.train;

import ai.djl.engine.Engine;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.slmclassifier.avro.AdapterEvaluation;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.DeadLetters;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.model.ModelFingerprint;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.ops.OperationsServer;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.rollout.EvaluationRecords;
import io.slmclassifier.quality.Metrics;
import io.slmclassifier.rollout.AdapterArchive;
import io.slmclassifier.rollout.AdapterStore;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import io.slmclassifier.rollout.ControlSignature;
import io.slmclassifier.rollout.ControlSigning;
import io.slmclassifier.rollout.ControlState;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainer: labeled feedback in, a better adapter out. Feedback records are checked against the task and
 * copied into the compacted dataset topic (keyed by example id, so the last label wins and duplicates collapse);
 * the dataset is read back from that topic, so a restart has everything. A run starts after enough new examples,
 * after an interval with some new ones, or on a TRAIN command; it warm-starts from the serving adapter (or
 * starts fresh), and its best candidate is compared with the serving adapter on the same validation examples.
 * Only a candidate that beats it by the configured margin is stored and announced ACTIVE on the control topic;
 * the others are recorded as REJECTED with their metrics.
 */
public final class TrainerService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TrainerService.class);
    /** Metric names recorded in every event besides the candidate's own metrics. */
    public static final String CUTOFF_METRIC = "dataset_cutoff_ms";
    /** How often the trainer compares what it published with what the control topic holds. */
    private static final Duration RESTORE_EVERY = Duration.ofSeconds(5);

    private final TrainerConfig config;
    private final Task task;
    private final LanguageModel model;
    private final String modelId;
    private final String modelSha256;
    private final FeedbackDataset dataset;
    private final List<LabeledData.Example> testSet;
    private final AvroSerde<LabeledExample> examples;
    private final ControlLog control;
    private final AdapterStore store;
    private final Path workDir;
    private final KafkaConsumer<byte[], byte[]> feedback;
    private final KafkaConsumer<String, byte[]> datasetReader;
    private final KafkaProducer<byte[], byte[]> producer;
    private final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter accepted;
    private final Counter refused;
    /** The most bytes of one dead letter, checked at start. */
    private final int maxDeadLetterBytes;
    private final Timer trainingTime;
    private final AtomicLong pending = new AtomicLong();
    private final AtomicLong lastCandidateF1 = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final OperationsServer operations;
    private final Thread loop;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean ready;
    private volatile Thread training;
    private final long startedMillis = System.currentTimeMillis();
    private final QualityGate gate;
    private long handledTrainRequest;

    public TrainerService(TrainerConfig config) throws Exception {
        this.config = config;
        ControlSignature signature = ControlSigning.of(config);
        TorchRuntime.configureOffline();
        io.slmclassifier.kafka.KafkaReachability.await(config.get("bootstrap.servers"),
                java.time.Duration.ofMillis(config.getInt("startup.timeout.ms")));
        ControlSigning.warnIfUnsigned(signature, config.get("control.topic"), log);
        this.task = Task.load(Path.of(config.require("task.file")));
        Path modelDir = ModelResolver.resolveSpec(config.require("model.dir"));
        this.dataset = new FeedbackDataset(task, config.getInt("validation.percent"));
        this.gate = QualityGate.of(config);
        this.testSet = config.get("test.file").isBlank() ? List.of()
                : LabeledData.read(Path.of(config.get("test.file")), task).examples();
        this.workDir = config.get("work.dir").isBlank() ? Files.createTempDirectory("slm-trainer-")
                : Files.createDirectories(Path.of(config.get("work.dir")));
        if (config.getBoolean("topics.create")) {
            createTopics();
        }
        SchemaRegistryClient registry = SchemaRegistryClient.fromConfig(config.registryClient());
        this.examples = AvroSerde.forType(LabeledExample.class, registry);
        this.control = new ControlLog(config.kafkaClient(), config.get("control.topic"), new ControlRecords(registry),
                signature);
        // What it published, remembered beside the runs, so that it can write again what the topic loses.
        control.keepJournal(workDir.resolve(ControlLog.JOURNAL_FILE));
        this.maxDeadLetterBytes = DeadLetters.checkLimit(config.deadLetterMaxBytes(),
                "configuration 'dlq.record.max.bytes' (and the producer's max.request.size)");
        this.store = new AdapterStore(config.get("adapter.store"), config.kafkaClient(), config.get("adapters.topic"),
                config.get("adapter.store.token"), config.getLong("adapter.max.bytes"));
        this.modelSha256 = ModelFingerprint.sha256(modelDir);
        // Training needs float32 on every device: the gradient path must not change dtype.
        this.model = LanguageModel.load(modelDir, TorchRuntime.device(config.get("device")), null);
        this.modelId = config.get("model.id").isBlank() ? model.id() : config.get("model.id");

        Properties consumer = config.kafkaClient();
        consumer.put(ConsumerConfig.GROUP_ID_CONFIG, config.get("group.id"));
        consumer.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        consumer.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        consumer.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        this.feedback = new KafkaConsumer<>(consumer, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        Properties reader = config.kafkaClient();
        reader.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        this.datasetReader = new KafkaConsumer<>(reader, new StringDeserializer(), new ByteArrayDeserializer());
        Properties producing = config.kafkaClient();
        producing.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        producing.put(ProducerConfig.ACKS_CONFIG, "all");
        this.producer = new KafkaProducer<>(producing, new ByteArraySerializer(), new ByteArraySerializer());

        accepted = Counter.builder("slm.trainer.feedback").tag("outcome", "accepted")
                .description("feedback records").register(metrics);
        refused = Counter.builder("slm.trainer.feedback").tag("outcome", "dead_lettered")
                .description("feedback records").register(metrics);
        trainingTime = Timer.builder("slm.trainer.run").description("training runs, gate included").register(metrics);
        Gauge.builder("slm.trainer.dataset.examples", dataset, FeedbackDataset::size)
                .description("examples in the dataset").register(metrics);
        Gauge.builder("slm.trainer.pending.examples", pending, AtomicLong::get)
                .description("examples the next run will see for the first time").register(metrics);
        Gauge.builder("slm.trainer.candidate.macro_f1", lastCandidateF1, v -> Double.longBitsToDouble(v.get()))
                .description("validation macro-F1 of the last candidate").register(metrics);
        Gauge.builder("slm.trainer.training", this, t -> t.training != null ? 1 : 0)
                .description("1 while a run is in progress").register(metrics);
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

    private void run() {
        try {
            control.catchUp(Duration.ofSeconds(60));
            restorePublished();
            readDatasetToEnd();
            feedback.subscribe(config.getList("feedback.topics"));
            ControlState state = control.state();
            handledTrainRequest = state.lastTrainRequestMillis() <= state.lastTrainerEventMillis() ? state.lastTrainRequestMillis() : 0;
            control.follow(s -> {});
            ready = true;
            log.info("Trainer ready: {} examples in the dataset, serving version {}", dataset.size(),
                    state.serving().isPresent() ? state.serving().getAsLong() : "none (base model)");
            long restoredAt = System.nanoTime();
            while (running.get()) {
                copyFeedback();
                readDataset(Duration.ofMillis(50));
                maybeTrain();
                if (System.nanoTime() - restoredAt > RESTORE_EVERY.toNanos()) {
                    restorePublished();
                    restoredAt = System.nanoTime();
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            log.error("Trainer loop failed", e);
        } finally {
            ready = false;
        }
    }

    /**
     * Writes again (signed, with a new sequence) each of its adapter events that the control topic no longer
     * holds: a tombstone or an unsigned record of the same key lets compaction delete the genuine one, and readers
     * without a journal (a new processor, {@code adapter list}) would forget the version.
     */
    private void restorePublished() {
        try {
            int written = control.restore(r -> r instanceof AdapterEvent e && e.getStatus() != AdapterStatus.ERROR);
            if (written > 0) {
                log.warn("Wrote {} adapter events again that had gone from {}", written, control.topic());
            }
        } catch (IOException | RuntimeException e) {
            log.warn("Could not write lost adapter events again (trying again in {} s): {}", RESTORE_EVERY.toSeconds(),
                    e.getMessage());
        }
    }

    /**
     * Feedback -> dataset topic (or the dead-letter topic); offsets are committed only once every copy is written.
     * A copy the broker refuses goes to the dead-letter topic (cut to fit) instead; when a dead letter cannot be
     * written either, the batch is read again from its first offsets (the dataset topic keeps the last label per
     * id, so a copy written twice changes nothing).
     */
    private void copyFeedback() {
        var records = feedback.poll(Duration.ofMillis(200));
        if (records.isEmpty()) {
            return;
        }
        List<Sent> copies = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            try {
                LabeledExample example = examples.deserializer().deserialize(r.topic(), r.headers(), r.value());
                if (example == null) {
                    throw new IllegalArgumentException("empty feedback record");
                }
                FeedbackDataset.toExample(task, example);
                copies.add(new Sent(r, producer.send(new ProducerRecord<>(config.get("dataset.topic"), null,
                        r.timestamp(), example.getId().getBytes(StandardCharsets.UTF_8), r.value())), false));
            } catch (RuntimeException e) {
                copies.add(new Sent(r, deadLetter(r, e), true));
            }
        }
        producer.flush();
        List<Future<?>> letters = new ArrayList<>();
        for (Sent copy : copies) {
            Throwable failure = copy.failure();
            if (failure == null && !copy.deadLetter()) {
                accepted.increment();
            } else if (failure != null && !copy.deadLetter()) {
                letters.add(deadLetter(copy.record(), new IllegalStateException("the dataset topic refused it: "
                        + failure.getMessage(), failure)));
            } else if (failure != null) {
                letters.add(CompletableFuture.failedFuture(failure));
            }
        }
        producer.flush();
        for (Future<?> letter : letters) {
            Throwable failure = Sent.failureOf(letter);
            if (failure != null) {
                log.warn("Could not write a dead letter ({}); reading this batch of feedback again", failure.getMessage());
                for (TopicPartition partition : records.partitions()) {
                    feedback.seek(partition, records.records(partition).get(0).offset());
                }
                return;
            }
        }
        feedback.commitSync();
    }

    /** A feedback record and the send of its copy (to the dataset, or to the dead-letter topic). */
    private record Sent(ConsumerRecord<byte[], byte[]> record, Future<?> send, boolean deadLetter) {
        Throwable failure() {
            return failureOf(send);
        }

        /** Why a finished send failed; null when it succeeded. */
        static Throwable failureOf(Future<?> send) {
            try {
                send.get();
                return null;
            } catch (ExecutionException e) {
                return e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return e;
            }
        }
    }

    private Future<?> deadLetter(ConsumerRecord<byte[], byte[]> r, RuntimeException error) {
        log.warn("Feedback record {}-{}@{} goes to {}: {}", r.topic(), r.partition(), r.offset(),
                config.get("dlq.topic"), error.getMessage());
        DeadLetters.Letter letter = DeadLetters.of(r.key(), r.value(), r.headers(), "invalid-feedback", error.getMessage(),
                r.topic(), r.partition(), r.offset(), maxDeadLetterBytes);
        refused.increment();
        return producer.send(new ProducerRecord<>(config.get("dlq.topic"), null, r.timestamp(), letter.key(),
                letter.value(), letter.headers()));
    }

    private void readDatasetToEnd() {
        List<PartitionInfo> infos = datasetReader.partitionsFor(config.get("dataset.topic"), Duration.ofSeconds(30));
        List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(i.topic(), i.partition())).toList();
        datasetReader.assign(partitions);
        datasetReader.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = datasetReader.endOffsets(partitions);
        while (partitions.stream().anyMatch(p -> datasetReader.position(p) < end.get(p))) {
            readDataset(Duration.ofMillis(200));
        }
    }

    private void readDataset(Duration timeout) {
        for (ConsumerRecord<String, byte[]> r : datasetReader.poll(timeout)) {
            if (r.value() == null) {
                dataset.remove(r.key()); // a tombstone deletes an example
                continue;
            }
            try {
                dataset.put(examples.deserializer().deserialize(r.topic(), r.headers(), r.value()), r.timestamp());
            } catch (RuntimeException e) {
                log.warn("Skipping dataset record {}: {}", r.key(), e.getMessage());
            }
        }
    }

    /** The newest dataset time a finished run (published or rejected) has seen. */
    private static long cutoff(ControlState state) {
        long cutoff = 0;
        for (AdapterEvent e : state.events()) {
            Double c = e.getMetrics().get(CUTOFF_METRIC);
            cutoff = Math.max(cutoff, c != null ? c.longValue() : e.getCreatedAt().toEpochMilli());
        }
        return cutoff;
    }

    private void maybeTrain() {
        if (training != null) {
            return;
        }
        ControlState state = control.state();
        int fresh = dataset.newerThan(cutoff(state));
        pending.set(fresh);
        long lastRun = Math.max(startedMillis, state.lastTrainerEventMillis());
        String reason = null;
        if (state.lastTrainRequestMillis() > handledTrainRequest) {
            handledTrainRequest = state.lastTrainRequestMillis();
            reason = "a TRAIN command";
        } else if (fresh >= config.getInt("trigger.examples")) {
            reason = fresh + " new examples";
        } else if (fresh >= config.getInt("trigger.interval.min.examples")
                && System.currentTimeMillis() - lastRun >= config.getInt("trigger.interval.minutes") * 60_000L) {
            reason = fresh + " new examples after " + config.getInt("trigger.interval.minutes") + " minutes";
        }
        if (reason == null) {
            return;
        }
        FeedbackDataset.Split split = dataset.split();
        if (split.train().isEmpty() || split.validation().isEmpty()) {
            log.warn("Not training on {}: {} training and {} validation examples; both need at least one", reason,
                    split.train().size(), split.validation().size());
            return;
        }
        String why = reason;
        training = new Thread(() -> {
            try {
                trainingTime.record(() -> train(state, split, why));
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

    /** One run: train, gate, publish or reject. */
    void train(ControlState state, FeedbackDataset.Split split, String reason) {
        TorchRuntime.inferenceThread();
        long version = state.highestVersion() + 1;
        OptionalLong parent = config.getBoolean("train.warm.start") ? state.serving() : OptionalLong.empty();
        OptionalLong serving = state.serving();
        log.info("Training version {} on {} examples (validation {}) because of {}; starting from {}", version,
                split.train().size(), split.validation().size(), reason,
                parent.isPresent() ? "version " + parent.getAsLong() : "a fresh adapter");
        Path run = workDir.resolve("v" + version);
        long started = System.nanoTime();
        try {
            Engine.getInstance().setRandomSeed(config.getInt("train.seed"));
            Metrics servingMetrics;
            try (LoraAdapter current = serving.isPresent() ? fetch(state.event(serving.getAsLong()).orElseThrow()) : null) {
                servingMetrics = ModelEvaluation.evaluate(model, task, current, split.validation(), 32);
            }
            LoraTrainer.Settings settings = new LoraTrainer.Settings(config.getInt("train.epochs"),
                    config.getDouble("train.learning.rate"), config.getInt("train.batch.size"),
                    config.getInt("train.warmup.steps"), 0.0, 1.0, 0, config.getInt("train.seed"));
            LoraTrainer.Result result;
            Metrics test = null;
            try (LoraAdapter start = parent.isPresent() ? fetch(state.event(parent.getAsLong()).orElseThrow()) : fresh();
                    LoraTrainer trainer = new LoraTrainer(model, task, start, settings)) {
                result = trainer.train(split.train(), split.validation(), run, new LogProgress(version));
            }
            // The kept adapter's logits on the validation split: its calibration, and the temperature fitted there.
            Calibration.Report report = result.bestValidation().calibration();
            double temperature = report.scaled().temperature();
            boolean calibrated = Calibration.fittedInside(temperature);
            AdapterEvaluation evaluation = EvaluationRecords.toAvro(result.best(), report, calibrated);
            if (calibrated) {
                // In the archive too, beside the weights it belongs to: processors read it when they load them.
                new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter()
                        .writeValue(run.resolve("calibration.json").toFile(), report.summary(split.validation().size()));
            }
            if (!testSet.isEmpty()) {
                try (LoraAdapter best = LoraAdapter.load(run, model.weights().config, model.manager())) {
                    test = ModelEvaluation.evaluate(model, task, best, testSet, 32);
                }
            }
            lastCandidateF1.set(Double.doubleToLongBits(result.best().macroF1()));
            Map<String, Double> metrics = new LinkedHashMap<>();
            metrics.put("macro_f1", result.best().macroF1());
            metrics.put("weighted_f1", result.best().weightedF1());
            metrics.put("accuracy", result.best().accuracy());
            metrics.put("serving_macro_f1", servingMetrics.macroF1());
            metrics.put("ece", report.reported().ece());
            metrics.put("nll", report.reported().nll());
            metrics.put("brier", report.reported().brier());
            if (calibrated) {
                metrics.put("temperature", temperature);
                metrics.put("ece_calibrated", report.scaled().ece());
                metrics.put("nll_calibrated", report.scaled().nll());
            } else {
                // At a bound the fit found no minimum (a validation split without a single error drives T to 0):
                // processors serve this version uncalibrated rather than with a meaningless temperature.
                log.info("Version {}: no calibration temperature (the fit ended at its bound, T = {})", version,
                        fmt(temperature));
            }
            if (test != null) {
                metrics.put("test_macro_f1", test.macroF1());
                metrics.put("test_accuracy", test.accuracy());
            }
            metrics.put("train_examples", (double) split.train().size());
            metrics.put("validation_examples", (double) split.validation().size());
            metrics.put("best_step", (double) result.bestStep());
            metrics.put("train_seconds", (System.nanoTime() - started) / 1e9);
            metrics.put(CUTOFF_METRIC, (double) split.cutoffMillis());
            byte[] archive = AdapterArchive.pack(run);
            // The calibration error of the probabilities the version would serve: after its temperature when it has one.
            double servedEce = calibrated ? report.scaled().ece() : report.reported().ece();
            QualityGate.Verdict verdict = gate.judge(result.best().macroF1(), servingMetrics.macroF1(), servedEce);
            AdapterEvent.Builder event = AdapterEvent.newBuilder().setVersion(version)
                    .setParentVersion(parent.isPresent() ? parent.getAsLong() : null).setBaseModelId(modelId)
                    .setBaseModelSha256(modelSha256).setTaskName(task.name()).setTaskHash(task.hash())
                    .setSha256(ModelFingerprint.sha256(archive)).setSizeBytes(archive.length).setMetrics(metrics)
                    .setEvaluation(evaluation).setCreatedAt(Instant.now()).setMessage(verdict.message());
            if (verdict.publish()) {
                String location = store.put(version, archive);
                control.publish(event.setStatus(AdapterStatus.ACTIVE).setLocation(location).build());
                log.info("Published version {} ({}) to {}", version, verdict.message(), location);
            } else {
                control.publish(event.setStatus(AdapterStatus.REJECTED).build());
                log.info("Rejected candidate {}: {}", version, verdict.message());
            }
        } catch (IOException e) {
            throw new IllegalStateException("training run for version " + version + " failed: " + e.getMessage(), e);
        }
    }

    private LoraAdapter fresh() {
        LoraConfig lora = new LoraConfig(config.getInt("lora.r"), config.getDouble("lora.alpha"),
                config.getDouble("lora.dropout"), config.getList("lora.targets"), false, modelId);
        return LoraAdapter.initialize(lora, model.weights().config, model.manager(), config.getInt("train.seed"));
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
        feedback.close();
        datasetReader.close();
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
