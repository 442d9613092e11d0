package io.slmclassifier.cli;

import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.stream.InferenceWorker;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;

/**
 * Several tasks on one model in memory, through one inference worker, against one task alone on the same model.
 *
 * <p>Each of the N tasks has its own prompt and labels (the given task files cycled, each copy renamed and its
 * prompt given a first line of its own, so every task has a prefix of its own to cache) and its own random rank-16
 * adapter on all seven projections, applied unmerged as a processor of several tasks serves them. The single-task
 * figure is what a processor of one task does today: the first task, its adapter merged. Beside it, the same task
 * without the prefix cache: the rate of passes whose rows each run their whole prompt, which is what rows of
 * different tasks in one pass would cost without a cached prefix per row.
 *
 * <p>Traffic: the messages are dealt to the tasks by the mix (smooth weighted round robin, so each task's share
 * holds over any stretch), gathered per task into submissions of {@code chunk} texts as stream threads gather
 * micro-batches, and submitted while at most {@code window} texts are in flight: enough to keep passes full,
 * bounded as the processor's stream threads bound it. Latency is submit-to-result of each text.
 */
public final class TasksBenchmark {

    /** One task's part of a run. */
    public record TaskFigures(String task, double share, int messages, double messagesPerSecond, double p50Ms,
            double p99Ms) {}

    /** One configuration's measured runs: the median aggregate rate, latencies pooled over the runs. */
    public record Run(String what, int tasks, double messagesPerSecond, double textsPerPass, List<TaskFigures> perTask) {}

    /**
     * @param single one task, its adapter merged: a processor of one task today
     * @param fullPrompt the same without the prefix cache: every row runs its whole prompt, as rows of different
     *     tasks in one pass would without a prefix per row
     * @param several the tasks through one worker, adapters unmerged
     * @param ratio the median over the runs of the several tasks' aggregate rate over the single task's run just
     *     before it
     * @param adapterBytes what one adapter served unmerged holds on the device (its A and B in the compute dtype)
     */
    public record Result(int batch, Run single, Run fullPrompt, Run several, double ratio, long adapterBytes) {}

    private TasksBenchmark() {}

    /**
     * The task files cycled to {@code count} tasks, each renamed {@code <name>-<i>} and its prompt opened by a line
     * naming it: different prompts (and prefixes) even where a file is used twice.
     */
    static List<Task> tasks(List<Path> files, int count) throws IOException {
        List<Task> tasks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Task file = Task.load(files.get(i % files.size()));
            String name = file.name() + "-" + (i + 1);
            tasks.add(new Task(name, file.labels(), "Task " + name + "." + file.prompt(), file.chatTemplate(),
                    file.labelTokens(), file.maxTextTokens()));
        }
        return tasks;
    }

    /** Shares of the traffic from "70,10,10,10" (any positive weights), or equal shares when {@code mix} is null. */
    static double[] shares(String mix, int tasks) {
        double[] weights = new double[tasks];
        if (mix == null || mix.isBlank()) {
            Arrays.fill(weights, 1);
        } else {
            String[] parts = mix.split(",");
            if (parts.length != tasks) {
                throw new IllegalArgumentException("--mix gives " + parts.length + " shares for " + tasks + " tasks");
            }
            for (int i = 0; i < tasks; i++) {
                weights[i] = Double.parseDouble(parts[i].strip());
                if (!(weights[i] > 0)) {
                    throw new IllegalArgumentException("--mix: every share must be positive, not " + parts[i]);
                }
            }
        }
        double sum = Arrays.stream(weights).sum();
        return Arrays.stream(weights).map(w -> w / sum).toArray();
    }

    /** Which task each message goes to: smooth weighted round robin over the shares. */
    static int[] deal(double[] shares, int messages) {
        int[] tasks = new int[messages];
        double[] credit = new double[shares.length];
        for (int m = 0; m < messages; m++) {
            int best = 0;
            for (int t = 0; t < shares.length; t++) {
                credit[t] += shares[t];
                if (credit[t] > credit[best]) {
                    best = t;
                }
            }
            credit[best] -= 1;
            tasks[m] = best;
        }
        return tasks;
    }

    /**
     * Warms both configurations up, then measures them in turns, {@code repeats} times each, so that a slow spell
     * of a shared machine falls on both.
     */
    public static Result run(LanguageModel model, List<Task> tasks, double[] shares, List<String> texts, int batch,
            int chunk, int window, int repeats) {
        if (chunk < 1 || window < chunk) {
            throw new IllegalArgumentException("submissions of " + chunk + " texts need at least that many in flight, not "
                    + window);
        }
        Classifier.Options options = new Classifier.Options(batch, Integer.MAX_VALUE, true, false);
        LoraConfig rank16 = LoraConfig.defaults(model.id());
        List<Classifier> classifiers = new ArrayList<>();
        try (Classifier alone = new Classifier(model, tasks.get(0), options);
                Classifier aloneFull = new Classifier(model, tasks.get(0), options.withPrefixCache(false))) {
            for (int t = 0; t < tasks.size(); t++) {
                Classifier classifier = new Classifier(model, tasks.get(t), options);
                classifiers.add(classifier);
                try (LoraAdapter adapter = LoraAdapter.random(rank16, model.weights().config, model.manager(), 1000 + t)) {
                    classifier.useUnmergedAdapter("1", adapter);
                    if (t == 0) {
                        alone.useMergedAdapter("1", adapter);
                        aloneFull.useMergedAdapter("1", adapter);
                    }
                }
            }
            PassCounter passes = new PassCounter();
            try (InferenceWorker<Classifier.Input> single = worker(List.of(alone), batch, passes);
                    InferenceWorker<Classifier.Input> full = worker(List.of(aloneFull), batch, passes);
                    InferenceWorker<Classifier.Input> several = worker(classifiers, batch, passes)) {
                double[] one = {1};
                // TorchScript profiles a program's first runs before it optimizes them.
                int warmUp = Math.min(texts.size(), 4 * batch * tasks.size());
                drive(single, one, texts.subList(0, warmUp), chunk, window, passes);
                drive(full, one, texts.subList(0, warmUp), chunk, window, passes);
                drive(several, shares, texts.subList(0, warmUp), chunk, window, passes);
                List<Drive> singleRuns = new ArrayList<>();
                List<Drive> fullRuns = new ArrayList<>();
                List<Drive> severalRuns = new ArrayList<>();
                double[] ratios = new double[repeats];
                for (int r = 0; r < repeats; r++) {
                    singleRuns.add(drive(single, one, texts, chunk, window, passes));
                    fullRuns.add(drive(full, one, texts, chunk, window, passes));
                    severalRuns.add(drive(several, shares, texts, chunk, window, passes));
                    ratios[r] = severalRuns.get(r).rate() / singleRuns.get(r).rate();
                }
                return new Result(batch, summarize("1 task, merged", List.of(tasks.get(0)), one, singleRuns),
                        summarize("1 task, merged, full prompts", List.of(tasks.get(0)), one, fullRuns),
                        summarize(tasks.size() + " tasks, unmerged", tasks, shares, severalRuns), median(ratios),
                        classifiers.get(0).unmergedAdapterBytes());
            }
        } finally {
            classifiers.forEach(Classifier::close);
        }
    }

    private static InferenceWorker<Classifier.Input> worker(List<Classifier> classifiers, int batch,
            PassCounter passes) {
        List<InferenceWorker.Lane<Classifier.Input>> lanes = new ArrayList<>();
        for (Classifier c : classifiers) {
            lanes.add(new InferenceWorker.Lane<>(c.task().name(), c::prepare, c::classifyPrepared));
        }
        return new InferenceWorker<>(lanes, batch, passes);
    }

    /** Counts passes and their texts, for the mean texts per pass. */
    private static final class PassCounter implements InferenceWorker.Listener {
        long passes;
        long texts;

        @Override
        public synchronized void forwardPass(String task, int count, long nanos, boolean failed) {
            passes++;
            texts += count;
        }

        synchronized long[] read() {
            return new long[] {passes, texts};
        }
    }

    /** One drive: wall time, passes and texts, and each task's latencies. */
    private record Drive(double seconds, long passes, long texts, List<List<Double>> latenciesMs) {
        double rate() {
            return texts / seconds;
        }
    }

    private static Drive drive(InferenceWorker<Classifier.Input> worker, double[] shares, List<String> texts, int chunk,
            int window, PassCounter passes) {
        List<String> tasks = worker.tasks();
        int[] dealt = deal(shares, texts.size());
        List<List<Double>> latencies = new ArrayList<>();
        List<List<String>> gathering = new ArrayList<>();
        for (int t = 0; t < tasks.size(); t++) {
            latencies.add(Collections.synchronizedList(new ArrayList<>()));
            gathering.add(new ArrayList<>());
        }
        Semaphore inFlight = new Semaphore(window);
        List<CompletableFuture<?>> all = new ArrayList<>();
        long[] before = passes.read();
        long start = System.nanoTime();
        for (int m = 0; m <= texts.size(); m++) {
            boolean last = m == texts.size();
            for (int t = 0; t < tasks.size(); t++) {
                if (!last && t != dealt[m]) {
                    continue;
                }
                List<String> chunkOf = gathering.get(t);
                if (!last) {
                    chunkOf.add(texts.get(m));
                }
                if (chunkOf.size() == chunk || last && !chunkOf.isEmpty()) {
                    all.add(submit(worker, tasks.get(t), List.copyOf(chunkOf), inFlight, latencies.get(t)));
                    chunkOf.clear();
                }
            }
        }
        CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).join();
        double seconds = (System.nanoTime() - start) / 1e9;
        long[] after = passes.read();
        return new Drive(seconds, after[0] - before[0], after[1] - before[1], latencies);
    }

    private static CompletableFuture<?> submit(InferenceWorker<Classifier.Input> worker, String task, List<String> texts,
            Semaphore inFlight, List<Double> latencies) {
        inFlight.acquireUninterruptibly(texts.size());
        long submitted = System.nanoTime();
        return worker.submit(task, texts).whenComplete((outcomes, error) -> {
            double ms = (System.nanoTime() - submitted) / 1e6;
            for (int i = 0; i < texts.size(); i++) {
                latencies.add(ms);
            }
            inFlight.release(texts.size());
            if (error == null && !outcomes.stream().allMatch(InferenceWorker.Outcome::ok)) {
                throw new IllegalStateException("a text of task " + task + " failed in the benchmark");
            }
        });
    }

    private static Run summarize(String what, List<Task> tasks, double[] shares, List<Drive> drives) {
        double[] rates = new double[drives.size()];
        double seconds = 0;
        long passes = 0;
        long texts = 0;
        for (int r = 0; r < drives.size(); r++) {
            Drive d = drives.get(r);
            rates[r] = d.rate();
            seconds += d.seconds();
            passes += d.passes();
            texts += d.texts();
        }
        List<TaskFigures> perTask = new ArrayList<>();
        for (int t = 0; t < tasks.size(); t++) {
            List<Double> pooled = new ArrayList<>();
            for (Drive d : drives) {
                pooled.addAll(d.latenciesMs().get(t));
            }
            double[] sorted = pooled.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            int messages = sorted.length / drives.size();
            perTask.add(new TaskFigures(tasks.get(t).name(), shares[t], messages, sorted.length / seconds,
                    percentile(sorted, 0.50), percentile(sorted, 0.99)));
        }
        return new Run(what, tasks.size(), median(rates), (double) texts / Math.max(1, passes), perTask);
    }

    private static double percentile(double[] sorted, double q) {
        int index = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
