package io.slmclassifier.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.quality.Metrics;
import io.slmclassifier.train.LabeledData;
import io.slmclassifier.train.LoraTrainer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Fine-tunes a LoRA adapter on labeled data and keeps the best one by validation macro-F1. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a LoRA adapter (PEFT format) for a task; the best by validation macro-F1 is kept.")
public final class TrainCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    LogOptions logging;


    @Option(names = "--model", required = true, description = ModelOptions.DESCRIPTION + " The frozen base.")
    String model;

    @Option(names = "--task", required = true, description = "Task file.")
    Path task;

    @Option(names = "--train", required = true, description = "Training data: JSON lines {text, label} or CSV text,label.")
    Path trainFile;

    @Option(names = "--validation", required = true, description = "Validation data, same formats.")
    Path validationFile;

    @Option(names = "--output", required = true, description = "Directory for the best adapter and its metrics.")
    Path output;

    @Option(names = "--init-adapter", description = "Start from this adapter instead of a fresh one.")
    Path initAdapter;

    @Option(names = "--overwrite", description = "Replace an adapter already in --output (otherwise refused).")
    boolean overwrite;

    @Option(names = "--epochs", defaultValue = "3", description = "Passes over the training data (default: ${DEFAULT-VALUE}).")
    int epochs;
    @Option(names = "--lr", defaultValue = "5e-5", description = "Peak learning rate, decayed linearly to 0 (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--warmup-steps", defaultValue = "0", description = "Steps of linear learning-rate warm-up (default: ${DEFAULT-VALUE}).")
    int warmupSteps;
    @Option(names = "--weight-decay", defaultValue = "0", description = "AdamW weight decay (default: ${DEFAULT-VALUE}).")
    double weightDecay;
    @Option(names = "--batch-size", defaultValue = "8", description = "Examples per optimizer step (default: ${DEFAULT-VALUE}).")
    int batchSize;
    @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "Gradients are clipped to this global norm (default: ${DEFAULT-VALUE}).")
    double maxGradNorm;
    @Option(names = "--eval-every", defaultValue = "0", description = "Evaluate every N steps (0: at each epoch end).") int evalEvery;
    @Option(names = "--lora-r", defaultValue = "16", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
    int loraR;
    @Option(names = "--lora-alpha", defaultValue = "32", description = "LoRA alpha; deltas are scaled by alpha / r (default: ${DEFAULT-VALUE}).")
    double loraAlpha;
    @Option(names = "--lora-dropout", defaultValue = "0.05", description = "Dropout on the LoRA inputs while training (default: ${DEFAULT-VALUE}).")
    double loraDropout;
    @Option(names = "--rslora", description = "Scale by alpha / sqrt(r) instead of alpha / r.") boolean rslora;
    @Option(names = "--targets", defaultValue = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", split = ",",
            description = "Projections that get LoRA deltas, comma-separated (default: all seven).")
    List<String> targets;
    @Option(names = "--seed", defaultValue = "42", description = "Seed of initialisation, dropout and shuffling (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--device", defaultValue = "auto", description = "cpu, gpu, gpu:N or auto (default: ${DEFAULT-VALUE}).") String device;
    @Option(names = "--dtype", description = "The decoder's compute dtype, float32 or bfloat16 (default: float32 on a CPU, "
            + "bfloat16 on a GPU); the LoRA tensors and the optimizer are float32 either way.")
    String dtype;

    @Override
    public Integer call() throws Exception {
        PrintStream err = System.err;
        for (String file : List.of("adapter_config.json", "adapter_model.safetensors")) {
            if (!overwrite && java.nio.file.Files.exists(output.resolve(file))) {
                throw new IllegalArgumentException("--output " + output + " already holds an adapter (" + file
                        + "); choose another directory, or pass --overwrite to replace it");
            }
        }
        boolean outputExisted = java.nio.file.Files.exists(output);
        Task t = Task.load(task);
        LabeledData train = usable(LabeledData.read(trainFile, t), "training", err);
        LabeledData validation = usable(LabeledData.read(validationFile, t), "validation", err);
        Device d = TorchRuntime.device(device);
        // Training computes in float32 or bfloat16 (LoraTrainer); float16 is not offered.
        DataType compute = ModelOptions.computeType(dtype, List.of(DataType.FLOAT32, DataType.BFLOAT16));
        Engine.getInstance().setRandomSeed((int) seed);
        try (LanguageModel lm = LanguageModel.load(ModelResolver.fromEnvironment().resolve(model), d, compute);
                LoraAdapter adapter = initAdapter != null
                        ? LoraAdapter.load(initAdapter, lm.weights().config, lm.manager())
                        : LoraAdapter.initialize(new LoraConfig(loraR, loraAlpha, loraDropout, targets, rslora,
                                model), lm.weights().config, lm.manager(), seed);
                LoraTrainer trainer = new LoraTrainer(lm, t, adapter, new LoraTrainer.Settings(epochs, lr, batchSize,
                        warmupSteps, weightDecay, maxGradNorm, evalEvery, seed))) {
            err.printf("training %,d LoRA parameters (r %d, alpha %s, targets %s) on %d examples, validating on %d "
                    + "(%s, computing in %s)%n", adapter.parameterCount(), adapter.config().r(), adapter.config().alpha(),
                    adapter.config().targetModules(), train.examples().size(), validation.examples().size(), d,
                    lm.computeType());
            // No console: stdout or stdin is redirected, so the bar would land in a log as \r-joined redraws.
            ProgressBar bar = new ProgressBar(err, System.console() != null);
            Interruption progress = new Interruption(bar, trainer, output, outputExisted, err);
            Thread onStop = new Thread(progress::stopped, "train-interrupted");
            Runtime.getRuntime().addShutdownHook(onStop);
            LoraTrainer.Result result;
            try {
                result = trainer.train(train.examples(), validation.examples(), output, progress);
                Runtime.getRuntime().removeShutdownHook(onStop);
            } catch (IllegalStateException stopping) {
                // The hook's CancellationException from a step, or "Shutdown in progress" from removing the hook.
                if (!progress.stopping) {
                    throw stopping;
                }
                return 130; // the hook has said what was stopped; the JVM is on its way out
            }
            bar.finish();
            System.out.printf("best step %d of %d (%.1f examples/s); validation metrics of the kept adapter:%n%n",
                    result.bestStep(), result.steps(), result.examplesPerSecond());
            System.out.print(result.best().toTable());
            System.out.printf("%nadapter written to %s (before training: macro-F1 %.4f)%n", output, result.initial().macroF1());
            if (result.bestStep() == 0) {
                System.out.printf("No step beat the adapter training started from, so that is the one written. Try more "
                        + "epochs (--epochs %d), a higher learning rate (--lr %s), or more and more varied examples.%n",
                        epochs * 3, lr * 10);
            }
        }
        return 0;
    }

    static LabeledData usable(LabeledData data, String what, PrintStream err) {
        for (String problem : data.problems()) {
            err.println("skipped " + problem);
        }
        if (data.examples().isEmpty()) {
            throw new IllegalArgumentException("no usable " + what + " examples");
        }
        return data;
    }

    /**
     * Ctrl-C or SIGTERM during a run. The JVM runs {@link #stopped} as a shutdown hook while the run goes on, so it
     * first stops the trainer's writes to --output (waiting for one in progress: no half-written adapter), then
     * leaves the best adapter so far, marked as interrupted in its training_metrics.json, or nothing at all when no
     * step beat the adapter training started from (a copy of the start is no result), and says which.
     */
    static final class Interruption implements LoraTrainer.Progress {
        static final List<String> OUTPUT_FILES = List.of("adapter_config.json", "adapter_model.safetensors",
                "training_metrics.json");
        private final ProgressBar bar;
        private final LoraTrainer trainer;
        private final Path output;
        private final boolean outputExisted;
        private final PrintStream err;
        private volatile int step;
        private volatile int totalSteps;
        private volatile Metrics keptMetrics;
        /** Set by the hook: the run ends at its next step, quietly, so nothing prints after the hook's message. */
        volatile boolean stopping;

        Interruption(ProgressBar bar, LoraTrainer trainer, Path output, boolean outputExisted, PrintStream err) {
            this.bar = bar;
            this.trainer = trainer;
            this.output = output;
            this.outputExisted = outputExisted;
            this.err = err;
        }

        @Override
        public void step(int step, int totalSteps, double loss, double examplesPerSecond) {
            if (stopping) {
                throw new java.util.concurrent.CancellationException("interrupted");
            }
            this.step = step;
            this.totalSteps = totalSteps;
            bar.step(step, totalSteps, loss, examplesPerSecond);
        }

        @Override
        public void evaluated(int step, Metrics metrics, boolean best) {
            if (stopping) {
                throw new java.util.concurrent.CancellationException("interrupted");
            }
            if (best) {
                keptMetrics = metrics;
            }
            bar.evaluated(step, metrics, best);
        }

        void stopped() {
            stopping = true;
            int kept = trainer.stopKeeping();
            bar.finish();
            String where = totalSteps == 0 ? "before the first step" : "at step " + step + " of " + totalSteps;
            try {
                if (kept > 0) {
                    Path metricsFile = output.resolve("training_metrics.json");
                    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
                    com.fasterxml.jackson.databind.node.ObjectNode report =
                            (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(metricsFile.toFile());
                    report.putObject("interrupted").put("at_step", step).put("of_steps", totalSteps)
                            .put("note", "training was stopped; this is the best adapter of the steps run, not of the whole run");
                    json.writerWithDefaultPrettyPrinter().writeValue(metricsFile.toFile(), report);
                    err.printf("%ninterrupted %s: the best adapter so far (step %d, validation macro-F1 %.4f) is in %s, "
                            + "marked as interrupted in training_metrics.json%n", where, kept,
                            keptMetrics == null ? Double.NaN : keptMetrics.macroF1(), output);
                } else {
                    for (String file : OUTPUT_FILES) {
                        java.nio.file.Files.deleteIfExists(output.resolve(file));
                    }
                    if (!outputExisted) {
                        try (var left = java.nio.file.Files.list(output)) {
                            if (left.findAny().isEmpty()) {
                                java.nio.file.Files.delete(output);
                            }
                        }
                    }
                    err.printf("%ninterrupted %s: no step beat the adapter training started from, so nothing is left in "
                            + "%s%n", where, output);
                }
            } catch (java.io.IOException | RuntimeException e) {
                err.printf("%ninterrupted %s; %s may hold a partial result: %s%n", where, output, e.getMessage());
            }
            err.flush();
        }
    }

    /**
     * Step, loss, examples/s and ETA: on a terminal one line redrawn in place; elsewhere (a log file, a pipe) a plain
     * line at each tenth of the run, so a log reads line by line and does not fill with every step.
     */
    static final class ProgressBar implements LoraTrainer.Progress {
        private final PrintStream out;
        private final boolean terminal;
        private final long started = System.nanoTime();
        /** The tenth of the run last written as a plain line. */
        private int tenthWritten = -1;
        /** Whether the bar's line is open (drawn, not yet ended by a newline). */
        private boolean barOpen;

        ProgressBar(PrintStream out, boolean terminal) {
            this.out = out;
            this.terminal = terminal;
        }

        @Override
        public void step(int step, int total, double loss, double examplesPerSecond) {
            double elapsed = (System.nanoTime() - started) / 1e9;
            long eta = Math.round(elapsed / step * (total - step));
            String figures = String.format("step %d/%d  loss %.4f  %.1f ex/s  ETA %dm%02ds", step, total, loss,
                    examplesPerSecond, eta / 60, eta % 60);
            if (terminal) {
                int width = 30;
                int done = (int) ((long) width * step / Math.max(1, total));
                out.printf("\r[%s%s] %s ", "#".repeat(done), " ".repeat(width - done), figures);
                barOpen = true;
            } else {
                int tenth = (int) (10L * step / Math.max(1, total));
                if (tenth == tenthWritten && step != total) {
                    return;
                }
                tenthWritten = tenth;
                out.println(figures);
            }
            out.flush();
        }

        @Override
        public void evaluated(int step, Metrics metrics, boolean best) {
            finish();
            out.printf("  step %d: validation accuracy %.4f, macro-F1 %.4f, weighted-F1 %.4f%s%n", step,
                    metrics.accuracy(), metrics.macroF1(), metrics.weightedF1(), best ? "  (best so far, kept)" : "");
        }

        /** Ends the bar's line, so what follows starts on its own. */
        void finish() {
            if (barOpen) {
                out.println();
                barOpen = false;
            }
        }
    }
}
