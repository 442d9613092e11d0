package io.slmclassifier.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Decoder.Kernels}: q, k and v from three products, q and k of the fused product normed and rotated as one
 * block, and the products called directly (mm on the weights' transposed views) compute what the fused product with
 * q and k apart, through linear, computes, in float32 on the CPU: whole prompts, packed rows
 * after a prefix, an installed adapter on all seven projections, and a training pass's gradients. Qwen3 (q/k norms)
 * and Qwen2 (the attention's bias, split into its three blocks; no norms, the joint rotary only).
 */
class KernelsTest {
    private static final double TOLERANCE = 1e-5;
    private static final Decoder.Kernels FUSED = new Decoder.Kernels(-1, false, false);
    private static final Decoder.Kernels SEPARATE = new Decoder.Kernels(0, false, false);
    private static final Decoder.Kernels JOINT_QK = new Decoder.Kernels(-1, true, false);
    private static final Decoder.Kernels DIRECT_FUSED = new Decoder.Kernels(-1, true, true);
    private static final Decoder.Kernels DIRECT_SEPARATE = new Decoder.Kernels(0, false, true);
    private static NDManager root;
    private static final Map<String, DecoderWeights> WEIGHTS = new HashMap<>();

    @BeforeAll
    static void start() throws Exception {
        TorchRuntime.inferenceThread();
        root = NDManager.newBaseManager(Device.cpu());
        for (String model : List.of("qwen3-tiny", "qwen2-tiny")) {
            WEIGHTS.put(model, TinyDecoders.weights(model, root));
        }
    }

    @AfterAll
    static void close() {
        root.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3-tiny", "qwen2-tiny"})
    void everyKernelChoiceServesTheFusedNumbers(String model) {
        DecoderWeights weights = WEIGHTS.get(model);
        try (NDManager scope = root.newSubManager()) {
            Random random = new Random(7);
            int[] prefixTokens = TinyDecoders.randomTokens(random, weights.config, 19);
            List<int[]> rows = new ArrayList<>();
            for (int length : new int[] {9, 1, 30}) {
                rows.add(TinyDecoders.randomTokens(random, weights.config, length));
            }
            LoraAdapter adapter = LoraAdapter.random(allSevenProjections(model), weights.config, scope, 3);
            Function<Decoder, float[]> passes = decoder -> {
                try (NDManager pass = scope.newSubManager();
                        Decoder.InstalledAdapter installed = decoder.install(adapter)) {
                    List<NDArray> hidden = new ArrayList<>();
                    for (Decoder.ProjectionDeltas deltas : new Decoder.ProjectionDeltas[] {null, installed}) {
                        KvCache prefix = decoder.prefill(pass, prefixTokens, deltas);
                        hidden.add(decoder.lastHiddenStatesPacked(pass, rows, prefix, deltas));
                        hidden.add(decoder.lastHiddenStates(pass, new int[][] {prefixTokens},
                                new int[] {prefixTokens.length}, null, deltas));
                    }
                    return values(hidden);
                }
            };
            assertKernelsAgree(weights, passes, model);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3-tiny", "qwen2-tiny"})
    void everyKernelChoiceGivesTheAdapterTheFusedGradients(String model) {
        DecoderWeights weights = WEIGHTS.get(model);
        Random random = new Random(11);
        int[][] tokens = {TinyDecoders.randomTokens(random, weights.config, 12),
                TinyDecoders.randomTokens(random, weights.config, 12)};
        int[] lengths = {12, 8};
        Function<Decoder, float[]> gradients = decoder -> {
            try (NDManager pass = root.newSubManager();
                    LoraAdapter adapter = LoraAdapter.random(allSevenProjections(model), weights.config, pass, 5)) {
                adapter.setTraining(true);
                for (NDArray p : adapter.parameters()) {
                    p.setRequiresGradient(true);
                }
                try (GradientCollector collector = TorchRuntime.engine().newGradientCollector()) {
                    collector.backward(decoder.lastHiddenStates(pass, tokens, lengths, null, adapter).square().sum());
                }
                return values(adapter.parameters().stream().map(NDArray::getGradient).toList());
            }
        };
        double size = 0;
        for (float g : assertKernelsAgree(weights, gradients, model)) {
            size += Math.abs(g);
        }
        assertTrue(size > 0, "the adapter gets gradients");
    }

    private static LoraConfig allSevenProjections(String model) {
        return new LoraConfig(4, 8, 0, LoraConfig.defaults(model).targetModules(), false, model);
    }

    /**
     * The same passes with one fused product, with three, with q and k as one block, and each with the products called
     * directly; the fused run's values.
     */
    private static float[] assertKernelsAgree(DecoderWeights weights, Function<Decoder, float[]> passes, String model) {
        float[] fused = run(weights, FUSED, passes);
        assertSame(fused, run(weights, SEPARATE, passes), model + ", three products");
        assertSame(fused, run(weights, JOINT_QK, passes), model + ", q and k as one block");
        assertSame(fused, run(weights, DIRECT_FUSED, passes), model + ", one product called directly");
        assertSame(fused, run(weights, DIRECT_SEPARATE, passes), model + ", three products called directly");
        return fused;
    }

    private static float[] run(DecoderWeights weights, Decoder.Kernels kernels, Function<Decoder, float[]> passes) {
        try (Decoder decoder = new Decoder(weights, DataType.FLOAT32, Decoder.Precision.NONE, kernels)) {
            return passes.apply(decoder);
        }
    }

    private static void assertSame(float[] expected, float[] actual, String model) {
        assertEquals(expected.length, actual.length);
        double scale = 0;
        for (float e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], TOLERANCE * Math.max(1, scale), model + ", value " + i);
        }
    }

    /** Every value of the arrays, one after the other. */
    private static float[] values(List<NDArray> arrays) {
        List<float[]> parts = arrays.stream().map(NDArray::toFloatArray).toList();
        float[] all = new float[parts.stream().mapToInt(p -> p.length).sum()];
        int at = 0;
        for (float[] part : parts) {
            System.arraycopy(part, 0, all, at, part.length);
            at += part.length;
        }
        return all;
    }
}
