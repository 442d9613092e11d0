package io.slmclassifier.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.util.cuda.CudaUtils;

/**
 * Start-up of the PyTorch engine. DJL calls an EC2 metadata address at start-up and on tokenizer loads unless
 * told it is offline; nothing of ours may talk to anything but loopback and configured endpoints, so the
 * switches are set here, before the engine or a tokenizer is touched.
 */
public final class TorchRuntime {
    private static volatile Engine engine;

    private TorchRuntime() {}

    public static void configureOffline() {
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("OPT_OUT_TRACKING", "true");
        System.setProperty("DJL_OFFLINE", "true");
    }

    public static Engine engine() {
        if (engine == null) {
            synchronized (TorchRuntime.class) {
                if (engine == null) {
                    configureOffline();
                    engine = Engine.getEngine("PyTorch");
                }
            }
        }
        return engine;
    }

    /**
     * DJL's documented switch {@code ai.djl.pytorch.graph_optimizer} (default on): whether TorchScript optimizes
     * a program (fuses its element-wise chains) after profiling its first runs. PyTorch keeps it per thread and DJL
     * applies it only around its own forward(), so each thread that calls a program applies it once here.
     */
    private static final ThreadLocal<Boolean> GRAPH_OPTIMIZER = ThreadLocal.withInitial(() -> {
        boolean on = Boolean.parseBoolean(System.getProperty("ai.djl.pytorch.graph_optimizer", "true"));
        JniUtils.setGraphExecutorOptimize(on);
        return on;
    });

    /** Applies the per-thread program settings on the calling thread (once per thread). */
    public static void programThread() {
        GRAPH_OPTIMIZER.get();
    }

    /** Grad mode is per thread in PyTorch: every thread that runs inference calls this first. */
    public static void inferenceThread() {
        engine();
        JniUtils.setGradMode(false);
    }

    /**
     * "cpu", "gpu" (GPU 0; fails without one), "gpu:N" (GPU N of this host; fails when there are not N + 1), or
     * "auto": the first GPU when the engine sees one. A host with several GPUs runs a processor per GPU, each
     * started with its own index, and Kafka spreads the partitions over them.
     */
    public static Device device(String spec) {
        engine();
        String name = spec == null ? "auto" : spec.trim().toLowerCase();
        return switch (name) {
            case "cpu" -> Device.cpu();
            case "auto" -> engine.getGpuCount() > 0 ? Device.gpu() : Device.cpu();
            default -> {
                int index = gpuIndex(spec);
                int present = engine.getGpuCount();
                if (present == 0) {
                    throw new IllegalArgumentException("--device " + name + ": no GPU is visible to PyTorch ("
                            + (CudaUtils.hasCuda() ? "CUDA present, engine built for CPU" : "no CUDA") + ")");
                }
                if (index >= present) {
                    throw new IllegalArgumentException("--device " + name + ": this host has " + present
                            + (present == 1 ? " GPU (gpu:0)" : " GPUs (gpu:0 to gpu:" + (present - 1) + ")"));
                }
                yield Device.gpu(index);
            }
        };
    }

    /**
     * The GPU index a device spec names: 0 for "gpu" (and "cuda"), N for "gpu:N" ("cuda:N", as PyTorch writes it).
     * Anything else is not a device, which the message says with the forms that are.
     */
    static int gpuIndex(String spec) {
        String name = spec.trim().toLowerCase();
        if (name.equals("gpu") || name.equals("cuda")) {
            return 0;
        }
        int colon = name.indexOf(':');
        String kind = colon < 0 ? name : name.substring(0, colon);
        String digits = colon < 0 ? "" : name.substring(colon + 1);
        if ((kind.equals("gpu") || kind.equals("cuda")) && !digits.isEmpty() && digits.length() <= 4
                && digits.chars().allMatch(Character::isDigit)) {
            return Integer.parseInt(digits);
        }
        throw new IllegalArgumentException("device must be cpu, gpu, gpu:N (the GPU's index) or auto, not '"
                + spec + "'");
    }
}
