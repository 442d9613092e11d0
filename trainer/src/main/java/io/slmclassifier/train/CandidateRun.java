package io.slmclassifier.train;

import ai.djl.engine.Engine;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.avro.AdapterEvaluation;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.quality.Metrics;
import io.slmclassifier.rollout.AdapterArchive;
import io.slmclassifier.rollout.EvaluationRecords;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One training run, up to a candidate adapter and nothing published: measure the serving adapter on the validation
 * split, train (from the parent adapter, or a fresh one), fit the calibration temperature on the kept adapter's
 * validation logits, evaluate on the test set when there is one, and pack the run's directory into the archive
 * that would be stored (naming its task, so a reader of another task refuses it). Whether the candidate is
 * published is {@link AdapterPublication}'s decision.
 */
public final class CandidateRun {
    private static final Logger log = LoggerFactory.getLogger(CandidateRun.class);
    /** The metric, in every event, of the newest dataset time the run saw: later examples are new to the next. */
    public static final String CUTOFF_METRIC = "dataset_cutoff_ms";
    /** The calibration summary in the archive, beside the weights it belongs to; processors read it when they load them. */
    public static final String CALIBRATION_FILE = "calibration.json";

    /** Where a run gets the published adapters it starts from or compares with. */
    public interface Adapters {
        /** The published version's adapter, checked against its event and loaded onto the model. */
        LoraAdapter open(AdapterEvent published) throws IOException;
    }

    /**
     * What a run is asked to do.
     *
     * @param version the number the candidate gets
     * @param parent the published version to warm-start from; empty for a fresh adapter
     * @param serving the version processors serve now, measured on the same validation examples; empty for the base model
     * @param reason why the run started (for the log)
     */
    public record Request(long version, Optional<AdapterEvent> parent, Optional<AdapterEvent> serving,
            FeedbackDataset.Split split, String reason) {
        public OptionalLong parentVersion() {
            return parent.isPresent() ? OptionalLong.of(parent.get().getVersion()) : OptionalLong.empty();
        }
    }

    /**
     * A trained candidate, ready for the gate.
     *
     * @param validation the kept adapter's validation metrics
     * @param servingMacroF1 the serving version's (or base model's) macro-F1 on the same validation examples
     * @param servedEce the calibration error of the probabilities the version would serve: after its temperature
     *     when it has one
     * @param archive the packed run directory: weights, adapter config and, when calibrated, {@value #CALIBRATION_FILE}
     * @param metrics every number the event records
     */
    public record Candidate(long version, OptionalLong parent, Metrics validation, double servingMacroF1,
            double servedEce, boolean calibrated, AdapterEvaluation evaluation, Map<String, Double> metrics,
            byte[] archive) {}

    private final LanguageModel model;
    private final Task task;
    private final LoraTrainer.Settings settings;
    private final LoraConfig freshAdapter;
    private final List<LabeledData.Example> testSet;
    private final Path workDir;
    private final Adapters adapters;

    /**
     * @param freshAdapter the shape of an adapter trained from nothing
     * @param testSet held-out examples measured on every candidate (none: no test metrics)
     * @param workDir where each run writes its directory ({@code v<version>})
     */
    public CandidateRun(LanguageModel model, Task task, LoraTrainer.Settings settings, LoraConfig freshAdapter,
            List<LabeledData.Example> testSet, Path workDir, Adapters adapters) {
        this.model = model;
        this.task = task;
        this.settings = settings;
        this.freshAdapter = freshAdapter;
        this.testSet = testSet;
        this.workDir = workDir;
        this.adapters = adapters;
    }

    /** Runs on the calling thread; {@code progress} may end it early by throwing. */
    public Candidate run(Request request, LoraTrainer.Progress progress) throws IOException {
        TorchRuntime.inferenceThread();
        long version = request.version();
        FeedbackDataset.Split split = request.split();
        log.info("Training version {} on {} examples (validation {}) because of {}; starting from {}", version,
                split.train().size(), split.validation().size(), request.reason(),
                request.parent().isPresent() ? "version " + request.parent().get().getVersion() : "a fresh adapter");
        Path run = workDir.resolve("v" + version);
        long started = System.nanoTime();
        Engine.getInstance().setRandomSeed((int) settings.seed());
        Metrics serving;
        try (LoraAdapter current = open(request.serving())) {
            serving = ModelEvaluation.evaluate(model, task, current, split.validation(), 32);
        }
        LoraTrainer.Result result;
        try (LoraAdapter start = request.parent().isPresent() ? open(request.parent())
                : LoraAdapter.initialize(freshAdapter, model.weights().config, model.manager(), settings.seed());
                LoraTrainer trainer = new LoraTrainer(model, task, start, settings)) {
            result = trainer.train(split.train(), split.validation(), run, progress);
        }
        // The kept adapter's logits on the validation split: its calibration, and the temperature fitted there.
        Calibration.Report report = result.bestValidation().calibration();
        double temperature = report.scaled().temperature();
        boolean calibrated = Calibration.fittedInside(temperature);
        if (calibrated) {
            new ObjectMapper().writerWithDefaultPrettyPrinter()
                    .writeValue(run.resolve(CALIBRATION_FILE).toFile(), report.summary(split.validation().size()));
        } else {
            // At a bound there was no fit (logits that separate nothing, or tie): processors serve this version
            // uncalibrated rather than with a meaningless temperature, and adapter list says so.
            log.info("Version {}: no calibration temperature could be fitted (the fit ended at its bound, T = {})", version,
                    String.format("%.4f", temperature));
        }
        Metrics test = null;
        if (!testSet.isEmpty()) {
            try (LoraAdapter best = LoraAdapter.load(run, model.weights().config, model.manager())) {
                test = ModelEvaluation.evaluate(model, task, best, testSet, 32);
            }
        }
        Metrics best = result.best();
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("macro_f1", best.macroF1());
        metrics.put("weighted_f1", best.weightedF1());
        metrics.put("accuracy", best.accuracy());
        metrics.put("serving_macro_f1", serving.macroF1());
        metrics.put("ece", report.reported().ece());
        metrics.put("nll", report.reported().nll());
        metrics.put("brier", report.reported().brier());
        if (calibrated) {
            metrics.put("temperature", temperature);
            metrics.put("ece_calibrated", report.scaled().ece());
            metrics.put("nll_calibrated", report.scaled().nll());
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
        double servedEce = calibrated ? report.scaled().ece() : report.reported().ece();
        return new Candidate(version, request.parentVersion(), best, serving.macroF1(), servedEce, calibrated,
                EvaluationRecords.toAvro(best, report, calibrated), metrics, AdapterArchive.pack(run, task));
    }

    /** The version's adapter; null (the base model alone) for none. */
    private LoraAdapter open(Optional<AdapterEvent> published) throws IOException {
        return published.isPresent() ? adapters.open(published.get()) : null;
    }
}
