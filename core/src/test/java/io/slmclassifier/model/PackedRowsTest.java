package io.slmclassifier.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Rows that continue a cached prefix, packed into one sequence of their real tokens
 * ({@link Decoder#lastHiddenStatesPacked}), against the same rows right-padded into one batch and against each row
 * alone: the tiny Qwen3 (grouped kv heads, q/k norms) in float32, rows of 1 to 40 tokens, with and without an
 * adapter installed beside the weights.
 */
class PackedRowsTest {
    private static final double TOLERANCE = 1e-5;
    private static NDManager root;
    private static DecoderWeights weights;
    private static Decoder decoder;
    private static int[] prefixTokens;

    @BeforeAll
    static void load() throws Exception {
        TorchRuntime.inferenceThread();
        root = NDManager.newBaseManager(Device.cpu());
        weights = TinyDecoders.weights("qwen3-tiny", root);
        decoder = new Decoder(weights, DataType.FLOAT32);
        prefixTokens = TinyDecoders.randomTokens(new Random(1), weights.config, 23);
    }

    @AfterAll
    static void close() {
        decoder.close();
        root.close();
    }

    @Test
    void packedRowsOfVeryDifferentLengthsMatchPaddedRowsAndEachRowAlone() {
        List<int[]> rows = rowsOfLengths(1, 40, 7, 1, 13, 2, 33, 5);
        assertMatchesPaddedAndAlone(rows, null);
    }

    @Test
    void oneTokenRowsAndASingleRow() {
        // All rows one token long: each token attends only to the prefix and itself (the program's closed form for
        // that shape, on every device).
        assertMatchesPaddedAndAlone(rowsOfLengths(1, 1, 1, 1), null);
        assertMatchesPaddedAndAlone(rowsOfLengths(17), null);
    }

    @Test
    void anInstalledAdapterServesTheSameNumbersPacked() {
        LoraConfig lora = new LoraConfig(4, 8, 0, List.of("q_proj", "v_proj", "o_proj", "gate_proj", "down_proj"),
                false, "qwen3-tiny");
        List<int[]> rows = rowsOfLengths(3, 29, 1, 11, 40, 6);
        try (NDManager scope = root.newSubManager();
                LoraAdapter adapter = LoraAdapter.random(lora, weights.config, scope, 11);
                Decoder.InstalledAdapter installed = decoder.install(adapter)) {
            float[] base = packedWithoutAdapter(rows);
            float[] adapted = assertMatchesPaddedAndAlone(rows, installed);
            double changed = 0;
            for (int i = 0; i < base.length; i++) {
                changed = Math.max(changed, Math.abs(base[i] - adapted[i]));
            }
            assertTrue(changed > 1e-3, "the adapter changes the packed pass's hidden states (" + changed + ")");
        }
    }

    @Test
    void packingIsRefusedWhereItCannotRun() {
        try (NDManager scope = root.newSubManager();
                KvCache prefix = decoder.prefill(scope, prefixTokens, null)) {
            assertThrows(IllegalArgumentException.class,
                    () -> decoder.lastHiddenStatesPacked(scope, List.of(new int[] {5}, new int[0]), prefix, null));
            assertTrue(decoder.canPackRows());
            try (GradientCollector collector = TorchRuntime.engine().newGradientCollector()) {
                assertFalse(decoder.canPackRows(), "training needs the padded pass's gradients");
                assertThrows(IllegalStateException.class,
                        () -> decoder.lastHiddenStatesPacked(scope, List.of(new int[] {5}), prefix, null));
            }
        }
    }

    /** Packed against padded (one batch) and against each row run alone; returns the packed hidden states. */
    private static float[] assertMatchesPaddedAndAlone(List<int[]> rows, Decoder.ProjectionDeltas deltas) {
        int hidden = weights.config.hiddenSize();
        try (NDManager scope = root.newSubManager();
                KvCache prefix = decoder.prefill(scope, prefixTokens, deltas)) {
            float[] packed = decoder.lastHiddenStatesPacked(scope, rows, prefix, deltas).toFloatArray();
            float[] padded = padded(scope, rows, prefix, deltas);
            assertEquals(rows.size() * hidden, packed.length);
            for (int r = 0; r < rows.size(); r++) {
                float[] alone = padded(scope, List.of(rows.get(r)), prefix, deltas);
                for (int i = 0; i < hidden; i++) {
                    String where = "row " + r + " (" + rows.get(r).length + " tokens), hidden " + i;
                    float value = packed[r * hidden + i];
                    assertEquals(padded[r * hidden + i], value, TOLERANCE, where + ": packed vs padded");
                    assertEquals(alone[i], value, TOLERANCE, where + ": packed vs alone");
                }
            }
            return packed;
        }
    }

    private static float[] packedWithoutAdapter(List<int[]> rows) {
        try (NDManager scope = root.newSubManager();
                KvCache prefix = decoder.prefill(scope, prefixTokens, null)) {
            return decoder.lastHiddenStatesPacked(scope, rows, prefix, null).toFloatArray();
        }
    }

    private static float[] padded(NDManager scope, List<int[]> rows, KvCache prefix, Decoder.ProjectionDeltas deltas) {
        int width = rows.stream().mapToInt(r -> r.length).max().orElseThrow();
        int[][] tokens = new int[rows.size()][width];
        int[] lengths = new int[rows.size()];
        for (int r = 0; r < rows.size(); r++) {
            System.arraycopy(rows.get(r), 0, tokens[r], 0, rows.get(r).length);
            lengths[r] = rows.get(r).length;
        }
        return decoder.lastHiddenStates(scope, tokens, lengths, prefix, deltas).toFloatArray();
    }

    private static List<int[]> rowsOfLengths(int... lengths) {
        Random random = new Random(lengths.length * 31L + lengths[0]);
        List<int[]> rows = new ArrayList<>();
        for (int length : lengths) {
            rows.add(TinyDecoders.randomTokens(random, weights.config, length));
        }
        return rows;
    }
}
