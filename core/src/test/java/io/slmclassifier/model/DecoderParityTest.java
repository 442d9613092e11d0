package io.slmclassifier.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.slmclassifier.Fixtures;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The decoder alone, on the token ids transformers saw: class logits within 1e-4 for all three families. */
class DecoderParityTest {

    @ParameterizedTest
    @ValueSource(strings = {"qwen3-tiny", "qwen2-tiny", "llama-tiny"})
    void classLogitsMatchTransformers(String model) throws Exception {
        TorchRuntime.inferenceThread();
        List<Fixtures.Case> cases = Fixtures.parityCases().stream().filter(c -> c.model().equals(model)).toList();
        try (NDManager root = NDManager.newBaseManager(Device.cpu());
                Decoder decoder = new Decoder(TinyDecoders.weights(model, root), DataType.FLOAT32)) {
            DecoderWeights weights = decoder.weights();
            for (Fixtures.Case c : cases) {
                try (NDManager batch = root.newSubManager()) {
                    NDArray hidden = decoder.lastHiddenStates(batch, new int[][] {c.inputIds()},
                            new int[] {c.inputIds().length}, null, null);
                    NDArray head = batch.create(toLong(c.classTokenIds()));
                    NDArray rows = weights.lmHead.get(head);
                    float[] logits = hidden.matMul(rows.transpose()).toFloatArray();
                    for (int i = 0; i < logits.length; i++) {
                        assertEquals(c.logits()[i], logits[i], 1e-4, model + " " + c.task() + " '" + c.text() + "' logit " + i);
                    }
                }
            }
        }
    }

    private static long[] toLong(int[] v) {
        long[] out = new long[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i];
        }
        return out;
    }
}
