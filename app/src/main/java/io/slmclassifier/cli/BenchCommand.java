package io.slmclassifier.cli;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.model.RandomModel;
import io.slmclassifier.train.LabeledData;
import io.slmclassifier.train.LoraTrainer;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.ModelResolver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Throughput and latency of the classifier for several batch sizes, with and without the prefix cache. Runs on
 * an existing model directory, or writes a model of any config.json shape with random BF16 weights first.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure messages/s and latency percentiles of the classifier.")
public final class BenchCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    LogOptions logging;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;


    /** Sentences from the radr task (DFKI/radr_intents examples in the seed article). */
    static final List<String> SENTENCES = List.of(
            "Ist negativ, noch nicht.",
            "Für Sie Erkundungsauftrag: Gesamtüberblick über die Einsatzstelle. Kommen.",
            "Ich verlasse das Erdgeschoss und gehe ins erste Obergeschoss.",
            "Frage: Erkundungsergebnis aus der östlichen Seite des Gebäudes, kommen.",
            "RobLW an Zugführer, kommen.",
            "Ja, hier ist Zugführer, kommen.",
            "Einen Augenblick, ich melde mich gleich.",
            "Ein Lagebild von oben, komplette Lage, und ein Lagebild zwischen den beiden Türen, verstanden.");

    @Option(names = "--model", description = ModelOptions.DESCRIPTION)
    String model;

    @Option(names = "--shape", description = "Write a random model of a known shape: qwen3-0.6b.")
    String shape;

    @Option(names = "--config", description = "Write a random model of this config.json's shape.")
    Path config;

    @Option(names = "--tokenizer", description = "Directory with tokenizer.json and tokenizer_config.json for a random model "
            + "(default: the Qwen3 tokenizer the jar carries).")
    Path tokenizer;

    @Option(names = "--work-dir", defaultValue = "bench-models", description = "Where random models are written and reused (default: ${DEFAULT-VALUE}).")
    Path workDir;

    @Option(names = "--task", defaultValue = "tasks/radr-intents.yaml", description = "Task file (default: ${DEFAULT-VALUE}).")
    Path task;

    @Option(names = "--batch-sizes", defaultValue = "1,8,32", split = ",", description = "Batch sizes (default: ${DEFAULT-VALUE}).")
    int[] batchSizes;

    @Option(names = "--iterations", defaultValue = "3", description = "Timed forward passes per batch size, after two warm-ups (default: ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--prefix-cache", defaultValue = "both", description = "on, off or both (default: ${DEFAULT-VALUE}).")
    String prefixCache;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, gpu, gpu:N or auto.")
    String device;

    @Option(names = "--dtype", description = "Compute dtype: float32, float16 or bfloat16 (default: float32 on CPU, bfloat16 on GPU; "
            + "the trainable LoRA tensors stay float32).")
    String dtype;

    @Option(names = "--profile", description = "After the timed passes (steps, with --train), profile one more of the last batch size and "
            + "write PyTorch's trace (chrome-trace JSON) here; with CUDA_LAUNCH_BLOCKING=1 each operator's span holds its "
            + "GPU time (tools/profile_summary.py sums them).")
    Path profile;

    @Option(names = "--json", description = "Also write the results as JSON to this file.")
    Path json;

    @Option(names = "--lora", description = "Serve with a LoRA adapter (r 16, all seven projections) to measure its cost.")
    boolean lora;

    @Option(names = "--merge", description = "With --lora: merge the adapter into copies of the base matrices.")
    boolean merge;

    @Option(names = "--label-mass", description = "Also compute each result's label mass (the whole LM head on the "
            + "last position), as a processor does with abstain.min.label.mass, to measure its cost.")
    boolean labelMass;

    @Option(names = "--kafka", description = "Measure the whole stream path (local broker, registry, processor) against the classifier alone.")
    boolean kafka;

    @Option(names = "--commit-interval-ms", defaultValue = "100", description = "With --kafka: the processor's Kafka Streams commit interval (default: ${DEFAULT-VALUE}).")
    int commitIntervalMs;

    @Option(names = "--repeats", defaultValue = "5", description = "With --kafka or --tasks: measured runs per side after a warm-up; "
            + "the median counts (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--stream-threads", description = "With --kafka: the processor's stream threads and the input "
            + "topic's partitions (default: 4 on a GPU, where one thread's Kafka work would starve it; 1 on CPU).")
    Integer streamThreads;

    @Option(names = "--messages", defaultValue = "2000", description = "With --kafka or --tasks: messages to send (default: ${DEFAULT-VALUE}).")
    int messages;

    @Option(names = "--tasks", description = "Several tasks on one model through one inference worker: N tasks (the "
            + "--task-files cycled, renamed, each prompt its own), each with its own rank-16 adapter on all seven "
            + "projections applied unmerged, against one task with its adapter merged, per batch size. With --kafka: "
            + "one processor serving the N tasks through a local broker, each adapter published on its task's control "
            + "topic, against a processor of the first task alone (first --batch-sizes), and the time from a new "
            + "version's control event to its first result.")
    Integer tasks;

    @Option(names = "--resident-adapters", description = "Instead of timing: device memory before and after this many "
            + "rank-16 adapters (all seven projections) are resident unmerged, one task each (on a CPU: their computed "
            + "bytes).")
    Integer residentAdapters;

    @Option(names = "--task-files", split = ",", defaultValue = "tasks/radr-intents.yaml,tasks/emotion.yaml,"
            + "tasks/radr-intents-letters.yaml", description = "With --tasks or --resident-adapters: the task files to cycle (default: "
            + "${DEFAULT-VALUE}).")
    List<Path> taskFiles;

    @Option(names = "--mix", description = "With --tasks: each task's share of the messages, e.g. 70,10,10,10 "
            + "(default: equal).")
    String mix;

    @Option(names = "--submission", description = "With --tasks: texts per submission, as a stream thread's micro-batch "
            + "(default: a quarter of the batch size).")
    Integer submission;

    @Option(names = "--in-flight", description = "With --tasks: most texts submitted and not yet classified (default: "
            + "four batches per task).")
    Integer inFlight;

    @Option(names = "--rate", split = ",", description = "With --kafka: latency at these steady rates (messages/s) instead of "
            + "throughput at saturation; each rate runs on a processor started for it (see --duration), whose batch "
            + "limit is the first of --batch-sizes when given, else the device's default.")
    double[] rates;

    @Option(names = "--rate-percent", split = ",", description = "With --kafka: like --rate, at these percentages of the "
            + "capacity measured first (--messages drained by a fresh processor), e.g. 10,25,50,75,90.")
    double[] ratePercents;

    @Option(names = "--duration", defaultValue = "30", description = "With --rate or --rate-percent: seconds each rate is "
            + "kept, from the processor's start (default: ${DEFAULT-VALUE}).")
    int durationSeconds;

    @Option(names = "--window", defaultValue = "5", description = "With --rate or --rate-percent: seconds per window of "
            + "the latency over time (default: ${DEFAULT-VALUE}).")
    int windowSeconds;

    @Option(names = "--guarantee", split = ",", defaultValue = "exactly_once_v2,at_least_once", description = "With --rate "
            + "or --rate-percent: the processing guarantees to measure, each at every rate (default: ${DEFAULT-VALUE}).")
    List<String> guarantees;

    @Option(names = "--set", description = "With --kafka: processor configuration for the runs, key=value (repeatable), "
            + "e.g. --set batch.linger.ms=5 --set kafka.commit.interval.ms=50.")
    java.util.Map<String, String> processorSettings = new java.util.LinkedHashMap<>();

    @Option(names = "--probabilities", description = "Instead of timing: write this project's class probabilities for "
            + "--texts radr-style texts, one JSON line each with the prompt's token ids (prefix cache on, batches of the "
            + "first --batch-sizes), for tools/bf16_fidelity.py to compare with transformers on the same ids.")
    Path probabilities;

    @Option(names = "--adapter", description = "With --probabilities: the probabilities with this PEFT adapter, merged "
            + "into copies of the base matrices as classify and the processor serve it.")
    Path adapter;

    @Option(names = "--texts", defaultValue = "512", description = "With --probabilities: how many texts (default: ${DEFAULT-VALUE}).")
    int fidelityTexts;

    @Option(names = "--train", description = "Measure LoRA training steps (r 16, all seven projections, batch of --batch-sizes) instead of inference.")
    boolean train;

    @Option(names = "--steps", defaultValue = "3", description = "Timed training steps after three warm-up steps (default: ${DEFAULT-VALUE}).")
    int steps;

    /**
     * @param encodeMs of each pass, the part spent rendering and tokenizing the texts
     * @param gpuMb memory this process holds on the GPU after the row (PyTorch's cache was emptied before it,
     *     so this is the row's peak reservation plus the CUDA context); -1 on CPU or without nvidia-smi
     */
    public record Result(String mode, int batchSize, double messagesPerSecond, double p50Ms, double p99Ms,
            int tokensPerMessage, long peakRssMb, double encodeMs, long gpuMb) {}

    @Override
    public Integer call() throws Exception {
        Path dir = modelDir();
        Task t = Task.load(task);
        Device d = TorchRuntime.device(device);
        DataType type = ModelOptions.computeType(dtype, List.of(DataType.FLOAT32, DataType.FLOAT16, DataType.BFLOAT16));
        if (adapter != null && probabilities == null) {
            throw new IllegalArgumentException("--adapter is for --probabilities (--lora times a random adapter)");
        }
        if (train) {
            return benchTraining(dir, t, d, type);
        }
        if (residentAdapters != null) {
            return benchResidentAdapters(dir, d, type);
        }
        if (tasks != null && !kafka) {
            return benchTasks(dir, d, type);
        }
        if (probabilities != null) {
            try (LanguageModel lm = LanguageModel.load(dir, d, type);
                    LoraAdapter lora = adapter == null ? null : lm.loadAdapter(adapter)) {
                List<String> texts = FidelityProbabilities.texts(fidelityTexts, 23);
                FidelityProbabilities.write(probabilities, lm, t, lora, texts, batchSizes[0]);
                System.out.printf("probabilities of %d texts (%s on %s, float32 steps: %s, %s) written to %s%n",
                        texts.size(), lm.computeType(), d, System.getProperty("slm.decoder.float32", "none"),
                        adapter == null ? "no adapter" : "adapter " + adapter, probabilities);
            }
            return 0;
        }
        if (kafka && (rates != null || ratePercents != null)) {
            return benchLatency(dir, d);
        }
        if (kafka && tasks != null) {
            return benchKafkaTasks(dir, d);
        }
        if (kafka) {
            List<String> texts = ProduceCommand.synthetic(messages, 11);
            System.out.printf("%8s %6s %12s %12s %8s %10s %10s %11s %12s %12s%n", "messages", "batch", "alone msg/s",
                    "kafka msg/s", "cost", "p50 ms", "p99 ms", "texts/pass", "worker busy", "pass msg/s");
            for (int batch : batchSizes) {
                StreamBenchmark.Result r = StreamBenchmark.run(dir, task, texts, batch, device, commitIntervalMs, repeats,
                        streamThreads != null ? streamThreads : d.isGpu() ? 4 : 1);
                System.out.printf("%8d %6d %12.1f %12.1f %7.1f%% %10.1f %10.1f %11.1f %11.1f%% %12.1f%n",
                        r.messages(), r.batch(), r.aloneMessagesPerSecond(), r.kafkaMessagesPerSecond(), 100 * r.kafkaCost(),
                        r.p50Ms(), r.p99Ms(), r.textsPerPass(), 100 * r.workerBusy(),
                        r.passMessagesPerSecond());
            }
            return 0;
        }
        List<Result> results = new ArrayList<>();
        try (LanguageModel lm = LanguageModel.load(dir, d, type)) {
            long loadedRss = peakRssMb();
            System.out.printf("model %s on %s (computing in %s, float32 steps: %s, rows after the prefix %s), peak RSS "
                    + "after load: %d MB%n", dir, d, lm.computeType(), System.getProperty("slm.decoder.float32", "none"),
                    Classifier.packedRowsSetting() ? "packed" : "padded", loadedRss);
            System.out.printf("%-8s %6s %12s %10s %10s %10s %8s %10s %8s%n", "prefix", "batch", "messages/s", "p50 ms",
                    "p99 ms", "encode ms", "tokens", "peak MB", "GPU MB");
            for (String mode : modes()) {
                for (int batch : batchSizes) {
                    Classifier.Options options = new Classifier.Options(batch, Integer.MAX_VALUE, mode.equals("on"),
                            labelMass);
                    try (Classifier classifier = new Classifier(lm, t, options);
                            LoraAdapter adapter = lora ? LoraAdapter.initialize(LoraConfig.defaults(lm.id()),
                                    lm.weights().config, lm.manager(), 42) : null) {
                        if (adapter != null && merge) {
                            // What a processor pays, off the serving path, when a new version rolls out.
                            long started = System.nanoTime();
                            classifier.useMergedAdapter("bench", adapter);
                            System.out.printf("adapter merged into the weights in %d ms (peak RSS %d MB)%n",
                                    (System.nanoTime() - started) / 1_000_000, peakRssMb());
                        } else if (adapter != null) {
                            classifier.useAdapter("bench", adapter);
                        }
                        Result r = measure(classifier, (lora ? mode + (merge ? "+merged" : "+lora") : mode)
                                + (labelMass ? "+mass" : ""), batch);
                        if (profile != null && batch == batchSizes[batchSizes.length - 1]) {
                            profileOnePass(classifier, batch, profile.resolveSibling(mode + "-" + profile.getFileName()));
                        }
                        results.add(r);
                        System.out.printf("%-8s %6d %12.2f %10.1f %10.1f %10.1f %8d %10d %8s%n", r.mode, r.batchSize,
                                r.messagesPerSecond, r.p50Ms, r.p99Ms, r.encodeMs, r.tokensPerMessage, r.peakRssMb,
                                gpuColumn(r.gpuMb));
                    }
                }
            }
        }
        writeJson(results);
        return 0;
    }

    /** Several tasks on one model through one worker, against one task alone; see {@link TasksBenchmark}. */
    private int benchTasks(Path dir, Device d, DataType type) throws IOException {
        if (tasks < 1) {
            throw new IllegalArgumentException("--tasks must be at least 1");
        }
        List<Task> served = TasksBenchmark.tasks(taskFiles, tasks);
        double[] shares = TasksBenchmark.shares(mix, tasks);
        List<String> texts = ProduceCommand.synthetic(messages, 11);
        List<TasksBenchmark.Result> results = new ArrayList<>();
        try (LanguageModel lm = LanguageModel.load(dir, d, type)) {
            System.out.printf("model %s on %s (computing in %s), %d messages, %d runs per side%n", dir, d,
                    lm.computeType(), messages, repeats);
            for (int batch : batchSizes) {
                int chunk = submission != null ? submission : Math.max(1, batch / 4);
                int window = inFlight != null ? inFlight : 4 * batch * tasks;
                TasksBenchmark.Result r = TasksBenchmark.run(lm, served, shares, texts, batch, chunk, window, repeats);
                results.add(r);
                System.out.printf("%nbatch %d, submissions of %d texts, at most %d in flight%n", batch, chunk, window);
                System.out.printf("%-28s %6s %10s %11s %10s %10s%n", "", "share", "msg/s", "texts/pass", "p50 ms",
                        "p99 ms");
                for (TasksBenchmark.Run run : List.of(r.single(), r.fullPrompt(), r.several())) {
                    System.out.printf("%-28s %6s %10.1f %11.1f%n", run.what(), "", run.messagesPerSecond(),
                            run.textsPerPass());
                    for (TasksBenchmark.TaskFigures f : run.perTask()) {
                        System.out.printf("  %-26s %5.0f%% %10.1f %11s %10.1f %10.1f%n", f.task(), 100 * f.share(),
                                f.messagesPerSecond(), "", f.p50Ms(), f.p99Ms());
                    }
                }
                System.out.printf("aggregate of %d tasks: %.1f%% of one task's msg/s (median of the paired runs)%n", tasks,
                        100 * r.ratio());
                System.out.printf("one resident adapter (rank 16, seven projections, %s): %.2f MB; 100: %.1f MB%n",
                        lm.computeType(), r.adapterBytes() / 1e6, 100 * r.adapterBytes() / 1e6);
            }
        }
        writeJson(results);
        return 0;
    }

    /** Several tasks on one processor through Kafka, against one task on a processor of its own; see {@link KafkaTasksBenchmark}. */
    private int benchKafkaTasks(Path dir, Device d) throws Exception {
        if (tasks < 1) {
            throw new IllegalArgumentException("--tasks must be at least 1");
        }
        List<Task> served = TasksBenchmark.tasks(taskFiles, tasks);
        double[] shares = TasksBenchmark.shares(mix, tasks);
        int threads = streamThreads != null ? streamThreads : d.isGpu() ? 4 : 1;
        int batch = batchSizes[0];
        System.out.printf("model %s on %s, %d tasks, %d messages per run, batch %d, %d stream thread(s) per task, "
                + "%d runs per side%n", dir, d, tasks, messages, batch, threads, repeats);
        KafkaTasksBenchmark.Result r = KafkaTasksBenchmark.run(new KafkaTasksBenchmark.Settings(dir, served, shares,
                ProduceCommand.synthetic(messages, 11), batch, device, threads, repeats, processorSettings));
        System.out.printf("%-28s %6s %10s %10s %10s%n", "", "share", "msg/s", "p50 ms", "p99 ms");
        for (KafkaTasksBenchmark.Run run : List.of(r.single(), r.several())) {
            System.out.printf("%-28s %6s %10.1f%n", run.what(), "", run.messagesPerSecond());
            for (KafkaTasksBenchmark.TaskFigures f : run.perTask()) {
                System.out.printf("  %-26s %5.0f%% %10.1f %10.1f %10.1f%n", f.task(), 100 * f.share(),
                        f.messagesPerSecond(), f.p50Ms(), f.p99Ms());
            }
        }
        System.out.printf("aggregate of %d tasks: %.1f%% of one task's msg/s (median of the paired runs)%n", tasks,
                100 * r.ratio());
        System.out.printf("control event to first result of the new version, while %.1f msg/s flow:%n", r.swapRate());
        for (KafkaTasksBenchmark.Swap s : r.severalSwaps()) {
            System.out.printf("  %-26s %s %10.1f ms%n", s.task(), "unmerged", s.eventToFirstResultMs());
        }
        for (KafkaTasksBenchmark.Swap s : r.singleSwaps()) {
            System.out.printf("  %-26s %s %10.1f ms%n", s.task(), "merged  ", s.eventToFirstResultMs());
        }
        writeJson(r);
        return 0;
    }

    /**
     * Device memory of resident unmerged adapters: measured on a GPU (this process's memory, PyTorch's cache emptied
     * before each reading), computed on a CPU.
     */
    private int benchResidentAdapters(Path dir, Device d, DataType type) throws IOException {
        if (residentAdapters < 1) {
            throw new IllegalArgumentException("--resident-adapters must be at least 1");
        }
        List<Task> served = TasksBenchmark.tasks(taskFiles, residentAdapters);
        try (LanguageModel lm = LanguageModel.load(dir, d, type)) {
            ResidentAdapters.Result r = ResidentAdapters.measure(lm, served, BenchCommand::gpuMemoryMb);
            System.out.printf("model %s on %s (computing in %s)%n", dir, d, lm.computeType());
            System.out.printf("%d adapters (rank 16, seven projections, unmerged), one task each:%n", r.adapters());
            System.out.printf("  computed: %.2f MB each, %.1f MB in all%n", r.bytesPerAdapter() / 1e6,
                    r.adapters() * r.bytesPerAdapter() / 1e6);
            if (r.gpuMbBefore() >= 0) {
                System.out.printf("  GPU memory of this process: %d MB before, %d MB after; %.2f MB each, %d MB in all%n",
                        r.gpuMbBefore(), r.gpuMbAfter(), (r.gpuMbAfter() - r.gpuMbBefore()) / (double) r.adapters(),
                        r.gpuMbAfter() - r.gpuMbBefore());
            }
            System.out.printf("  installing one (to the device, switched in): %.1f ms; its task's first pass after: %.1f ms%n",
                    r.installMs(), r.firstPassMs());
            writeJson(r);
        }
        return 0;
    }

    /**
     * Latency at steady rates through the whole stream path, for each guarantee: percentiles over each run and per
     * window of {@code --window} seconds from the processor's start.
     */
    private int benchLatency(Path dir, Device d) throws Exception {
        int threads = streamThreads != null ? streamThreads : d.isGpu() ? 4 : 1;
        // The processor's batch limit: the device's default unless --batch-sizes names one (its first).
        int batch = spec.commandLine().getParseResult().hasMatchedOption("--batch-sizes") ? batchSizes[0]
                : Classifier.Options.forDevice(d).maxBatchSize();
        LatencyBenchmark.Settings settings = new LatencyBenchmark.Settings(dir, task, device, batch, threads,
                ProduceCommand.synthetic(Math.max(messages, 1000), 11), java.time.Duration.ofSeconds(durationSeconds),
                java.time.Duration.ofSeconds(windowSeconds), processorSettings);
        List<LatencyBenchmark.Result> results = new ArrayList<>();
        LatencyBenchmark.with(settings, bench -> {
            List<Double> targets = new ArrayList<>();
            if (rates != null) {
                Arrays.stream(rates).forEach(targets::add);
            }
            if (ratePercents != null) {
                double capacity = bench.capacity(guarantees.get(0), messages);
                System.out.printf("capacity: %.1f msg/s (%d messages waiting, %s, batch %d, %d stream thread(s))%n",
                        capacity, messages, guarantees.get(0), batch, threads);
                Arrays.stream(ratePercents).forEach(p -> targets.add(capacity * p / 100));
            }
            System.out.printf("%-16s %9s %9s %8s %9s %9s %9s %9s %9s %9s %13s%n", "guarantee", "rate", "sent/s",
                    "lost", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "emit p50", "emit p99", "first " + windowSeconds + "s p99");
            for (String guarantee : guarantees) {
                for (double rate : targets) {
                    LatencyBenchmark.Result r = bench.run(guarantee, rate);
                    results.add(r);
                    System.out.printf("%-16s %9.1f %9.1f %8d %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %13.1f%n", r.guarantee(),
                            r.rate(), r.sentPerSecond(), r.sent() - r.received(), r.p50Ms(), r.p99Ms(), r.p999Ms(),
                            r.maxMs(), r.emitP50Ms(), r.emitP99Ms(), r.windows().get(0).p99Ms());
                    printWindows(r);
                }
            }
        });
        writeJson(results);
        return 0;
    }

    /**
     * A run's windows, one line each: its records' latency (by when they were sent) beside the passes that ended in
     * it; then when the first pass ended and the run's slowest passes.
     */
    private static void printWindows(LatencyBenchmark.Result r) {
        System.out.printf("    %6s %7s %7s %7s %7s %8s | %6s %10s %9s %11s %11s %6s%n", "from s", "records", "p50 ms",
                "p99 ms", "max ms", "emit p99", "passes", "texts/pass", "max texts", "pass p50 ms", "pass max ms",
                "busy %");
        for (LatencyBenchmark.Window w : r.windows()) {
            LatencyBenchmark.Passes p = w.passes();
            System.out.printf("    %6.0f %7d %7.0f %7.0f %7.0f %8.0f | %6d %10.1f %9d %11.1f %11.1f %6.1f%n",
                    w.fromSeconds(), w.count(), w.p50Ms(), w.p99Ms(), w.maxMs(), w.emitP99Ms(), p.count(), p.meanTexts(),
                    p.maxTexts(), p.p50Ms(), p.maxMs(), p.busyPercent());
        }
        List<String> slowest = r.slowestPasses().stream().map(pass -> String.format("%.1f ms of %d text(s) at %.2f s",
                pass.ms(), pass.texts(), pass.endSeconds())).toList();
        System.out.printf("    first pass ended %.2f s after ready%s; slowest passes: %s%n", r.firstPassSeconds(),
                r.failedPasses() == 0 ? "" : ", " + r.failedPasses() + " pass(es) failed",
                slowest.isEmpty() ? "none" : String.join(", ", slowest));
    }

    /** Training steps of the article's LoRA (r 16, alpha 32, all seven projections) on the radr sentences. */
    private int benchTraining(Path dir, Task t, Device d, DataType compute) throws IOException {
        List<TrainingResult> results = new ArrayList<>();
        try (LanguageModel lm = LanguageModel.load(dir, d, compute)) {
            System.out.printf("model %s on %s (computing in %s), peak RSS after load: %d MB%n", dir, d, lm.computeType(),
                    peakRssMb());
            System.out.printf("%6s %12s %12s %10s %8s%n", "batch", "ms/step", "examples/s", "peak MB", "GPU MB");
            for (int batch : batchSizes) {
                List<LabeledData.Example> examples = new ArrayList<>();
                for (int i = 0; i < batch; i++) {
                    examples.add(new LabeledData.Example(SENTENCES.get(i % SENTENCES.size()), i % t.labels().size()));
                }
                try (LoraAdapter adapter = LoraAdapter.initialize(LoraConfig.defaults(lm.id()), lm.weights().config,
                        lm.manager(), 42);
                        LoraTrainer trainer = new LoraTrainer(lm, t, adapter, LoraTrainer.Settings.defaults())) {
                    if (d.isGpu()) {
                        JniUtils.emptyCudaCache();
                    }
                    for (int warm = 0; warm < 3; warm++) {
                        trainer.step(examples, 5e-5); // TorchScript profiles, then optimizes, forward and backward
                    }
                    long start = System.nanoTime();
                    for (int i = 0; i < steps; i++) {
                        trainer.step(examples, 5e-5);
                    }
                    double ms = (System.nanoTime() - start) / 1e6 / steps;
                    TrainingResult r = new TrainingResult(batch, ms, batch / (ms / 1000), peakRssMb(),
                            d.isGpu() ? gpuMemoryMb() : -1);
                    results.add(r);
                    System.out.printf("%6d %12.1f %12.2f %10d %8s%n", batch, r.msPerStep, r.examplesPerSecond, r.peakRssMb,
                            gpuColumn(r.gpuMb));
                    if (profile != null && batch == batchSizes[batchSizes.length - 1]) {
                        Path trace = profile.resolveSibling("train-" + profile.getFileName());
                        JniUtils.startProfile(false, true, false);
                        trainer.step(examples, 5e-5);
                        JniUtils.stopProfile(trace.toAbsolutePath().toString());
                        System.out.println("profile of one training step at batch " + batch + " written to " + trace);
                    }
                }
            }
        }
        writeJson(results);
        return 0;
    }

    /** The GPU MB cell: "-" where there is no figure (a CPU, or no nvidia-smi), not the -1 the JSON keeps. */
    static String gpuColumn(long gpuMb) {
        return gpuMb < 0 ? "-" : String.valueOf(gpuMb);
    }

    public record TrainingResult(int batchSize, double msPerStep, double examplesPerSecond, long peakRssMb, long gpuMb) {}

    private Result measure(Classifier classifier, String mode, int batch) {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            texts.add(SENTENCES.get(i % SENTENCES.size()));
        }
        boolean gpu = classifier.model().device().isGpu();
        if (gpu) {
            JniUtils.emptyCudaCache();
        }
        var warm = classifier.classify(texts); // also builds the prefix cache
        classifier.classify(texts); // TorchScript profiles a program's first runs before it optimizes them
        int newTokens = warm.get(0).prefixCached()
                ? warm.get(0).tokens() - classifier.prompt().prefixLength() : warm.get(0).tokens();
        double[] ms = new double[iterations];
        for (int i = 0; i < iterations; i++) {
            long start = System.nanoTime();
            classifier.classify(texts);
            ms[i] = (System.nanoTime() - start) / 1e6;
        }
        double total = Arrays.stream(ms).sum();
        Arrays.sort(ms);
        long encodeStart = System.nanoTime();
        for (String text : texts) {
            classifier.prompt().encode(text);
        }
        double encodeMs = (System.nanoTime() - encodeStart) / 1e6;
        return new Result(mode, batch, batch * iterations / (total / 1000), percentile(ms, 0.50),
                percentile(ms, 0.99), newTokens, peakRssMb(), encodeMs, gpu ? gpuMemoryMb() : -1);
    }

    private static void profileOnePass(Classifier classifier, int batch, Path trace) {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            texts.add(SENTENCES.get(i % SENTENCES.size()));
        }
        JniUtils.startProfile(false, true, false);
        classifier.classify(texts);
        JniUtils.stopProfile(trace.toAbsolutePath().toString());
        System.out.println("profile of one pass at batch " + batch + " written to " + trace);
    }

    private List<String> modes() {
        return switch (prefixCache) {
            case "both" -> List.of("on", "off");
            case "on", "off" -> List.of(prefixCache);
            default -> throw new IllegalArgumentException("--prefix-cache must be on, off or both");
        };
    }

    private Path modelDir() throws IOException {
        if (model != null) {
            return ModelResolver.fromEnvironment().resolve(model);
        }
        String configJson;
        String name;
        if (config != null) {
            configJson = Files.readString(config);
            name = config.getParent() == null ? "custom" : config.getParent().getFileName().toString();
        } else if ("qwen3-0.6b".equalsIgnoreCase(shape)) {
            configJson = RandomModel.QWEN3_0_6B;
            name = "qwen3-0.6b";
        } else {
            throw new IllegalArgumentException("give --model DIR, --shape qwen3-0.6b or --config FILE");
        }
        Path dir = workDir.resolve(name + "-random");
        if (!Files.isRegularFile(dir.resolve("model.safetensors"))) {
            System.out.println("writing random BF16 weights to " + dir);
            RandomModel.write(new ObjectMapper().readTree(configJson), dir, 42);
        }
        if (tokenizer == null) {
            io.slmclassifier.model.DemoTinyModel.copyTokenizer(dir);
            return dir;
        }
        for (String file : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            if (Files.exists(tokenizer.resolve(file))) {
                Files.copy(tokenizer.resolve(file), dir.resolve(file), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return dir;
    }

    /** The results, pretty-printed, to the file {@code --json} names; nothing without it. */
    private void writeJson(Object results) throws IOException {
        if (json != null) {
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(json.toFile(), results);
        }
    }

    private static double percentile(double[] sorted, double q) {
        int index = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }

    /** GPU memory held by this process, from nvidia-smi; -1 when it cannot tell. */
    static long gpuMemoryMb() {
        try {
            Process smi = new ProcessBuilder("nvidia-smi", "--query-compute-apps=pid,used_memory",
                    "--format=csv,noheader,nounits").redirectErrorStream(true).start();
            String out = new String(smi.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            smi.waitFor();
            String pid = Long.toString(ProcessHandle.current().pid());
            for (String line : out.split("\n")) {
                String[] parts = line.split(",");
                if (parts.length == 2 && parts[0].trim().equals(pid)) {
                    return Long.parseLong(parts[1].trim());
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return -1;
    }

    /** VmHWM: the most resident memory this process has had (Linux). */
    static long peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("\\D+", "")) / 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux
        }
        return -1;
    }
}
