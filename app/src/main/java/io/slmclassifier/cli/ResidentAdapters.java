package io.slmclassifier.cli;

import ai.djl.pytorch.jni.JniUtils;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * What many adapters resident at once cost: one classifier per task on one model, each with its own random rank-16
 * adapter on all seven projections served unmerged (a copy on the device in the compute dtype), as a processor of
 * that many tasks holds them. The device memory is read before the adapters and after them, with the classifiers
 * already made in both readings, so that the difference is the adapters alone.
 */
final class ResidentAdapters {

    /**
     * @param bytesPerAdapter what one adapter holds on the device, computed from its tensors
     * @param gpuMbBefore this process's GPU memory with the classifiers and no adapter; -1 without a GPU reading
     * @param installMs one more version of the last task's adapter copied to the device and switched in
     * @param firstPassMs the last task's first pass of one text after that switch, the program warm (the task's
     *     prompt prefix is computed anew for the new version)
     */
    record Result(int adapters, long bytesPerAdapter, long gpuMbBefore, long gpuMbAfter, double installMs,
            double firstPassMs) {}

    private ResidentAdapters() {}

    /** @param gpuMb this process's GPU memory in MB, -1 where it cannot tell */
    static Result measure(LanguageModel model, List<Task> tasks, LongSupplier gpuMb) {
        boolean gpu = model.device().isGpu();
        LoraConfig rank16 = LoraConfig.defaults(model.id());
        List<Classifier> classifiers = new ArrayList<>();
        try {
            for (Task task : tasks) {
                classifiers.add(new Classifier(model, task, Classifier.Options.forDevice(model.device())));
            }
            long before = gpu ? settledGpuMb(gpuMb) : -1;
            for (int t = 0; t < classifiers.size(); t++) {
                try (LoraAdapter adapter = LoraAdapter.random(rank16, model.weights().config, model.manager(), 1000 + t)) {
                    classifiers.get(t).useUnmergedAdapter("1", adapter);
                }
            }
            long after = gpu ? settledGpuMb(gpuMb) : -1;
            Classifier last = classifiers.get(classifiers.size() - 1);
            List<String> one = List.of(BenchCommand.SENTENCES.get(0));
            for (int warm = 0; warm < 3; warm++) {
                last.classify(one); // TorchScript profiles, then optimizes, the program's first runs
            }
            try (LoraAdapter next = LoraAdapter.random(rank16, model.weights().config, model.manager(), 5000)) {
                long started = System.nanoTime();
                last.useUnmergedAdapter("2", next);
                double installMs = (System.nanoTime() - started) / 1e6;
                started = System.nanoTime();
                last.classify(one);
                double firstPassMs = (System.nanoTime() - started) / 1e6;
                return new Result(classifiers.size(), classifiers.get(0).unmergedAdapterBytes(), before, after,
                        installMs, firstPassMs);
            }
        } finally {
            classifiers.forEach(Classifier::close);
        }
    }

    /** The GPU memory once PyTorch's cache of freed blocks is given back: what is held, not what was used. */
    private static long settledGpuMb(LongSupplier gpuMb) {
        JniUtils.emptyCudaCache();
        return gpuMb.getAsLong();
    }
}
