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

    /** "cpu", "gpu" (fails without one), or "auto": the first GPU when the engine sees one. */
    public static Device device(String spec) {
        engine();
        return switch (spec == null ? "auto" : spec.toLowerCase()) {
            case "cpu" -> Device.cpu();
            case "gpu", "cuda" -> {
                if (engine.getGpuCount() == 0) {
                    throw new IllegalArgumentException("--device gpu: no GPU is visible to PyTorch ("
                            + (CudaUtils.hasCuda() ? "CUDA present, engine built for CPU" : "no CUDA") + ")");
                }
                yield Device.gpu();
            }
            case "auto" -> engine.getGpuCount() > 0 ? Device.gpu() : Device.cpu();
            default -> throw new IllegalArgumentException("device must be cpu, gpu or auto, not '" + spec + "'");
        };
    }
}
