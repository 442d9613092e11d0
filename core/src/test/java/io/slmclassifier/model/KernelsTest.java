package io.slmclassifier.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Decoder.Kernels}: q, k and v from three products compute what the fused product computes, in float32 on the
 * CPU: whole prompts, packed rows after a prefix, an installed adapter on all seven projections, and a training
 * pass's gradients. Qwen3 (q/k norms) and Qwen2 (the attention's bias, split into its three blocks).
 */
class KernelsTest {
    private static final double TOLERANCE = 1e-5;
    private static final Decoder.Kernels FUSED = new Decoder.Kernels(-1);
    private static final Decoder.Kernels SEPARATE = new Decoder.Kernels(0);
    private static NDManager root;

    @BeforeAll
    static void start() {
        TorchRuntime.inferenceThread();
        root = NDManager.newBaseManager(Device.cpu());
    }

    @AfterAll
    static void close() {
        root.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3-tiny", "qwen2-tiny"})
    void separateProductsServeTheFusedNumbers(String model) throws Exception {
        try (NDManager scope = root.newSubManager()) {
            DecoderWeights weights = TinyDecoders.weights(model, scope);
            Random random = new Random(7);
            int[] prefixTokens = tokens(random, weights, 19);
            List<int[]> rows = List.of(tokens(random, weights, 9), tokens(random, weights, 1), tokens(random, weights, 30));
            LoraAdapter adapter = LoraAdapter.random(new LoraConfig(4, 8, 0, LoraConfig.defaults(model).targetModules(),
                    false, model), weights.config, scope, 3);
            Function<Decoder, float[]> passes = decoder -> {
                try (NDManager pass = scope.newSubManager();
                        Decoder.InstalledAdapter installed = decoder.install(adapter)) {
                    List<Float> all = new ArrayList<>();
                    for (Decoder.ProjectionDeltas deltas : new Decoder.ProjectionDeltas[] {null, installed}) {
                        KvCache prefix = decoder.prefill(pass, prefixTokens, deltas);
                        add(all, decoder.lastHiddenStatesPacked(pass, rows, prefix, deltas));
                        add(all, decoder.lastHiddenStates(pass, new int[][] {prefixTokens}, new int[] {prefixTokens.length},
                                null, deltas));
                    }
                    float[] values = new float[all.size()];
                    for (int i = 0; i < values.length; i++) {
                        values[i] = all.get(i);
                    }
                    return values;
                }
            };
            assertSame(run(weights, FUSED, passes), run(weights, SEPARATE, passes), model);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3-tiny", "qwen2-tiny"})
    void separateProductsGiveTheAdapterTheFusedGradients(String model) throws Exception {
        try (NDManager scope = root.newSubManager()) {
            DecoderWeights weights = TinyDecoders.weights(model, scope);
            Random random = new Random(11);
            int[][] tokens = {tokens(random, weights, 12), tokens(random, weights, 12)};
            int[] lengths = {12, 8};
            Function<Decoder, float[]> gradients = decoder -> {
                try (NDManager pass = scope.newSubManager();
                        LoraAdapter adapter = LoraAdapter.random(new LoraConfig(4, 8, 0,
                                LoraConfig.defaults(model).targetModules(), false, model), weights.config, pass, 5)) {
                    adapter.setTraining(true);
                    for (NDArray p : adapter.parameters()) {
                        p.setRequiresGradient(true);
                    }
                    try (GradientCollector collector = TorchRuntime.engine().newGradientCollector()) {
                        collector.backward(decoder.lastHiddenStates(pass, tokens, lengths, null, adapter).square().sum());
                    }
                    List<Float> all = new ArrayList<>();
                    for (NDArray p : adapter.parameters()) {
                        add(all, p.getGradient());
                    }
                    float[] values = new float[all.size()];
                    for (int i = 0; i < values.length; i++) {
                        values[i] = all.get(i);
                    }
                    return values;
                }
            };
            float[] fused = run(weights, FUSED, gradients);
            double size = 0;
            for (float g : fused) {
                size += Math.abs(g);
            }
            assertTrue(size > 0, "the adapter gets gradients");
            assertSame(fused, run(weights, SEPARATE, gradients), model);
        }
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

    private static void add(List<Float> all, NDArray values) {
        for (float v : values.toFloatArray()) {
            all.add(v);
        }
    }

    private static int[] tokens(Random random, DecoderWeights weights, int count) {
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = random.nextInt(weights.config.vocabSize());
        }
        return tokens;
    }
}
