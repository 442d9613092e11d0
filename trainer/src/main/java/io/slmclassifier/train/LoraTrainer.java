package io.slmclassifier.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.classify.TaskPrompt;
import io.slmclassifier.model.KvCache;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.quality.Metrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Fine-tunes a LoRA adapter on a frozen base model: cross-entropy over the C class logits of the sliced head,
 * AdamW with linear decay (optional warm-up), global grad-norm clipping, evaluation on the validation set, and
 * the best adapter by macro-F1 kept on disk. The LoRA tensors and the optimizer state are float32; the decoder
 * computes in float32 on CPU and bfloat16 on a GPU.
 *
 * <p>Nothing in a run depends on the device but the arithmetic: the batches are shuffled and the adapter initialised
 * by {@code java.util.Random} from the seed, and the learning rate depends only on the step. So the same data, seed
 * and steps give a CPU run and a GPU run the same batches in the same order, and their learning curves (the
 * {@code curve} of training_metrics.json) differ only by the precision they compute in, and by the LoRA dropout
 * masks: each device draws them from its own generator, and a CPU step runs the shared prefix once for the whole
 * batch where a GPU step runs it in every row, so the masks differ in shape too. Without dropout the two runs
 * compute the same function.
 */
public final class LoraTrainer implements AutoCloseable {

    public record Settings(int epochs, double learningRate, int batchSize, int warmupSteps, double weightDecay,
            double maxGradNorm, int evalEvery, long seed) {
        /** The article's settings: 3 epochs, lr 5e-5 linear decay, batch 8, clip 1.0, no weight decay. */
        public static Settings defaults() {
            return new Settings(3, 5e-5, 8, 0, 0.0, 1.0, 0, 42);
        }
    }

    /** Called as training goes; implementations print or record. */
    public interface Progress {
        void step(int step, int totalSteps, double loss, double examplesPerSecond);

        void evaluated(int step, Metrics metrics, boolean best);
    }

    /**
     * One validation of a run, a point of its learning curve.
     *
     * @param trainLoss mean training loss of the steps since the previous evaluation; NaN at step 0, before any
     * @param validationLoss mean cross-entropy of the validation examples' true labels
     */
    private record Evaluation(int step, double trainLoss, Metrics metrics, double validationLoss) {
        ObjectNode toJson() {
            ObjectNode node = new ObjectMapper().createObjectNode();
            node.put("step", step);
            if (!Double.isNaN(trainLoss)) {
                node.put("train_loss", trainLoss);
            }
            node.put("validation_loss", validationLoss);
            node.put("macro_f1", metrics.macroF1());
            node.put("accuracy", metrics.accuracy());
            return node;
        }
    }

    /**
     * @param bestValidation the kept adapter's classification of the validation examples: its metrics, and the logits
     *     they came from (calibration is measured on those, without classifying the examples again)
     */
    public record Result(int bestStep, ModelEvaluation.Outcome bestValidation, Metrics initial, int steps,
            double examplesPerSecond) {
        public Metrics best() {
            return bestValidation.metrics();
        }
    }

    private final LanguageModel model;
    private final Task task;
    private final LoraAdapter adapter;
    private final Settings settings;
    private final Classifier classifier;
    private final AdamW optimizer;
    private final List<NDArray> parameters;
    private int version;
    /** Guards the output directory: a kept adapter is written whole, or not at all once stopKeeping ran. */
    private final Object keeping = new Object();
    private boolean keepingStopped;
    /** The step whose adapter the output holds; -1 before the first is written. */
    private int keptStep = -1;
    private Metrics keptMetrics;
    /** Every evaluation of the run so far, in order: training_metrics.json's curve. */
    private final List<Evaluation> curve = new ArrayList<>();

    public LoraTrainer(LanguageModel model, Task task, LoraAdapter adapter, Settings settings) {
        if (model.weights().dtype != ai.djl.ndarray.types.DataType.FLOAT32) {
            // The LoRA tensors and the head are float32 beside float32 weights; the decoder program may compute in
            // bfloat16 (its casts are on the gradient path), DJL's own casts are not.
            throw new IllegalArgumentException("training needs a model loaded in float32 or bfloat16, not float16");
        }
        this.model = model;
        this.task = task;
        this.adapter = adapter;
        this.settings = settings;
        this.classifier = new Classifier(model, task, Classifier.Options.defaults().withBatchSize(Math.max(8, settings.batchSize())));
        this.parameters = adapter.parameters();
        for (NDArray p : parameters) {
            p.setRequiresGradient(true);
        }
        this.optimizer = new AdamW(parameters, model.manager(), 0.9, 0.999, 1e-8, settings.weightDecay());
    }

    /** One optimizer step on one batch; returns the loss before the update. */
    public double step(List<LabeledData.Example> batch, double learningRate) {
        adapter.setTraining(true);
        TaskPrompt prompt = classifier.prompt();
        List<int[]> sequences = new ArrayList<>();
        // On a CPU the step is bound by arithmetic, and running the shared prefix once saves most of it. On a GPU
        // it is bound by launching operators (autograd launches a few per operator and LoRA delta), so the full
        // prompts in one call, half the launches of a prefix call and a suffix call, are the faster step.
        boolean allPrefixed = prompt.prefixLength() > 0 && !model.device().isGpu();
        for (LabeledData.Example e : batch) {
            int[] tokens = prompt.encode(e.text()).tokens();
            sequences.add(tokens);
            allPrefixed &= prompt.startsWithPrefix(tokens);
        }
        double loss;
        try (GradientCollector collector = TorchRuntime.engine().newGradientCollector();
                NDManager scope = model.manager().newSubManager()) {
            // The shared prefix runs once per step for the whole batch, inside the gradient path.
            KvCache prefix = allPrefixed ? model.decoder().prefill(scope, prompt.prefixTokens(), adapter) : null;
            NDArray hidden = classifier.lastHiddenStates(scope, sequences, prefix, adapter);
            NDArray logits = classifier.head().logits(hidden);
            float[] oneHot = new float[batch.size() * task.labels().size()];
            for (int i = 0; i < batch.size(); i++) {
                oneHot[i * task.labels().size() + batch.get(i).label()] = 1f;
            }
            NDArray targets = scope.create(oneHot, logits.getShape());
            NDArray value = logits.logSoftmax(-1).mul(targets).sum().neg().div((float) batch.size());
            collector.backward(value);
            loss = value.getFloat();
        }
        adapter.setTraining(false);
        optimizer.clipGradNorm(settings.maxGradNorm());
        optimizer.step(learningRate);
        return loss;
    }

    /** Learning rate for step index {@code step} (0-based): warm-up, then linear decay to zero. */
    public double learningRate(int step, int totalSteps) {
        double lr = settings.learningRate();
        if (step < settings.warmupSteps()) {
            return lr * (step + 1) / (double) settings.warmupSteps();
        }
        return lr * Math.max(0, totalSteps - step) / (double) Math.max(1, totalSteps - settings.warmupSteps());
    }

    public Metrics evaluate(List<LabeledData.Example> data) {
        return validate(data).metrics();
    }

    private ModelEvaluation.Outcome validate(List<LabeledData.Example> data) {
        adapter.setTraining(false);
        classifier.useAdapter("training-" + (version++), adapter);
        return ModelEvaluation.classify(classifier, data);
    }

    /** Trains for the configured epochs; the best adapter (by validation macro-F1) is written to {@code output}. */
    public Result train(List<LabeledData.Example> train, List<LabeledData.Example> validation, Path output,
            Progress progress) throws IOException {
        Files.createDirectories(output);
        int stepsPerEpoch = (train.size() + settings.batchSize() - 1) / settings.batchSize();
        int totalSteps = stepsPerEpoch * settings.epochs();
        ModelEvaluation.Outcome initial = validate(validation);
        ModelEvaluation.Outcome best = initial;
        int bestStep = 0;
        curve.add(evaluation(0, Double.NaN, initial));
        keep(output, 0, initial.metrics());
        progress.evaluated(0, initial.metrics(), true);
        List<LabeledData.Example> order = new ArrayList<>(train);
        Random random = new Random(settings.seed());
        int step = 0;
        long started = System.nanoTime();
        long seen = 0;
        double lossSinceEvaluation = 0;
        int stepsSinceEvaluation = 0;
        for (int epoch = 0; epoch < settings.epochs(); epoch++) {
            Collections.shuffle(order, random);
            for (int from = 0; from < order.size(); from += settings.batchSize()) {
                List<LabeledData.Example> batch = order.subList(from, Math.min(order.size(), from + settings.batchSize()));
                double loss = step(batch, learningRate(step, totalSteps));
                step++;
                seen += batch.size();
                lossSinceEvaluation += loss;
                stepsSinceEvaluation++;
                progress.step(step, totalSteps, loss, seen / ((System.nanoTime() - started) / 1e9));
                boolean endOfEpoch = from + settings.batchSize() >= order.size();
                if (endOfEpoch || (settings.evalEvery() > 0 && step % settings.evalEvery() == 0)) {
                    ModelEvaluation.Outcome m = validate(validation);
                    curve.add(evaluation(step, lossSinceEvaluation / stepsSinceEvaluation, m));
                    lossSinceEvaluation = 0;
                    stepsSinceEvaluation = 0;
                    boolean better = m.metrics().macroF1() > best.metrics().macroF1();
                    if (better) {
                        best = m;
                        bestStep = step;
                        keep(output, step, m.metrics());
                    } else {
                        recordCurve(output);
                    }
                    progress.evaluated(step, m.metrics(), better);
                }
            }
        }
        return new Result(bestStep, best, initial.metrics(), step, seen / ((System.nanoTime() - started) / 1e9));
    }

    /**
     * Ends the writing of kept adapters, for a run that is being stopped from another thread (a JVM shutting down on
     * Ctrl-C, say): waits for a write in progress to finish, so no half-written adapter stays behind, and makes every
     * later {@code keep} a no-op. Returns the step whose adapter the output holds, -1 when none was written.
     */
    public int stopKeeping() {
        synchronized (keeping) {
            keepingStopped = true;
            return keptStep;
        }
    }

    private static Evaluation evaluation(int step, double trainLoss, ModelEvaluation.Outcome outcome) {
        return new Evaluation(step, trainLoss, outcome.metrics(), Calibration.nll(outcome.logits(), outcome.truth(), 1));
    }

    private void keep(Path output, int step, Metrics metrics) throws IOException {
        synchronized (keeping) {
            if (!keepingStopped) {
                adapter.save(output);
                keptStep = step;
                keptMetrics = metrics;
                writeReport(output);
            }
        }
    }

    /** An evaluation that kept nothing still extends the curve on disk, beside the adapter that is kept. */
    private void recordCurve(Path output) throws IOException {
        synchronized (keeping) {
            if (!keepingStopped) {
                writeReport(output);
            }
        }
    }

    /** training_metrics.json: the kept adapter's step and validation metrics, and every evaluation of the run so far. */
    private void writeReport(Path output) throws IOException {
        ObjectNode report = new ObjectMapper().createObjectNode();
        report.put("step", keptStep);
        report.put("task", task.name());
        report.put("task_hash", task.hash());
        report.put("base_model", model.id());
        report.set("validation", keptMetrics.toJson());
        var points = report.putArray("curve");
        for (Evaluation e : curve) {
            points.add(e.toJson());
        }
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(output.resolve("training_metrics.json").toFile(), report);
    }

    public Classifier classifier() {
        return classifier;
    }

    @Override
    public void close() {
        optimizer.close();
        classifier.close();
    }
}
