package io.slmclassifier.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import io.slmclassifier.Fixtures;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The decoder's two ways of applying LoRA: built from the trainable A and B in every pass (training: gradients to
 * each, dropout per module) and prepared once when installed (serving). An adapter on q, v and down only, so that
 * a fused group has an untargeted module (k: a zero block of B) and whole groups are untargeted (o, gate/up).
 */
class LoraPassTest {
    private static final LoraConfig SOME_MODULES = new LoraConfig(4, 8, 0.3, List.of("q_proj", "v_proj", "down_proj"),
            false, "qwen3-tiny");
    private static NDManager root;
    private static DecoderWeights weights;
    private static Decoder decoder;
    private static int[][] tokens;
    private static int[] lengths;

    @BeforeAll
    static void load() throws Exception {
        TorchRuntime.inferenceThread();
        root = NDManager.newBaseManager(Device.cpu());
        weights = TinyDecoders.weights("qwen3-tiny", root);
        decoder = new Decoder(weights, DataType.FLOAT32);
        int[] ids = Fixtures.parityCases().stream().filter(c -> c.model().equals("qwen3-tiny")).findFirst()
                .orElseThrow().inputIds();
        int[] shorter = java.util.Arrays.copyOf(ids, ids.length - 3);
        tokens = new int[][] {ids, java.util.Arrays.copyOf(shorter, ids.length)};
        lengths = new int[] {ids.length, shorter.length};
    }

    @AfterAll
    static void close() {
        decoder.close();
        root.close();
    }

    @Test
    void trainingReachesEveryAAndBWithDropoutOn() {
        try (NDManager scope = root.newSubManager();
                LoraAdapter adapter = LoraAdapter.random(SOME_MODULES, weights.config, scope, 3)) {
            adapter.setTraining(true);
            assertEquals(0.3, adapter.activeDropout());
            for (NDArray p : adapter.parameters()) {
                p.setRequiresGradient(true);
            }
            try (GradientCollector collector = TorchRuntime.engine().newGradientCollector()) {
                NDArray hidden = decoder.lastHiddenStates(scope, tokens, lengths, null, adapter);
                collector.backward(hidden.square().sum());
            }
            List<String> names = adapter.parameterNames();
            assertEquals(weights.config.numHiddenLayers() * 3 * 2, names.size());
            for (int i = 0; i < names.size(); i++) {
                float[] gradient = adapter.parameters().get(i).getGradient().toFloatArray();
                double size = 0;
                for (float g : gradient) {
                    assertTrue(Float.isFinite(g), names.get(i));
                    size += Math.abs(g);
                }
                assertTrue(size > 0, names.get(i) + " gets a gradient");
            }
        }
    }

    @Test
    void anInstalledVersionHoldsItsOwnCopyOfEveryAAndB() {
        // The adapter a version was made from may be closed while the version serves: changing the adapter's tensors
        // in place must not change what the version serves (o and down, one module each, included).
        LoraConfig allSeven = new LoraConfig(4, 8, 0, LoraConfig.defaults("qwen3-tiny").targetModules(), false,
                "qwen3-tiny");
        try (NDManager scope = root.newSubManager();
                LoraAdapter adapter = LoraAdapter.random(allSeven, weights.config, scope, 9);
                Decoder.InstalledAdapter installed = decoder.install(adapter)) {
            float[] before = decoder.lastHiddenStates(scope, tokens, lengths, null, installed).toFloatArray();
            for (NDArray p : adapter.parameters()) {
                p.muli(0);
            }
            float[] after = decoder.lastHiddenStates(scope, tokens, lengths, null, installed).toFloatArray();
            float[] base = decoder.lastHiddenStates(scope, tokens, lengths, null, null).toFloatArray();
            double changed = 0;
            for (int i = 0; i < before.length; i++) {
                assertEquals(before[i], after[i], 1e-6, "hidden " + i);
                changed = Math.max(changed, Math.abs(base[i] - before[i]));
            }
            assertTrue(changed > 1e-3, "the version changes the hidden states (" + changed + ")");
        }
    }

    @Test
    void anAdapterPreparedOnceServesWhatTheSameAdapterBuiltInThePassServes() {
        try (NDManager scope = root.newSubManager();
                LoraAdapter adapter = LoraAdapter.random(SOME_MODULES, weights.config, scope, 5)) {
            float[] base = decoder.lastHiddenStates(scope, tokens, lengths, null, null).toFloatArray();
            float[] builtInThePass = decoder.lastHiddenStates(scope, tokens, lengths, null, adapter).toFloatArray();
            float[] installed;
            try (Decoder.InstalledAdapter prepared = decoder.install(adapter)) {
                installed = decoder.lastHiddenStates(scope, tokens, lengths, null, prepared).toFloatArray();
            }
            double changed = 0;
            for (int i = 0; i < base.length; i++) {
                changed = Math.max(changed, Math.abs(base[i] - builtInThePass[i]));
                assertEquals(builtInThePass[i], installed[i], 1e-5, "hidden " + i);
            }
            assertTrue(changed > 1e-3, "the adapter changes the hidden states (" + changed + ")");
        }
    }
}
