package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import io.slmclassifier.Fixtures;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The GPU's bfloat16 program, run on the CPU: the prefix cache's merged attention, the rotary embedding and the
 * final norm in bfloat16, against the same model in float32; and the float32 switches of
 * {@link io.slmclassifier.model.Decoder.Precision} (-Dslm.decoder.float32), each of which must change the
 * bfloat16 numbers and leave the float32 ones alone; unset, none is on.
 */
class Bfloat16PathTest {
    private static final Path MODEL = Fixtures.model("qwen3-tiny");
    private static final String SWITCHES = "slm.decoder.float32";

    @Test
    void bfloat16StaysNearFloat32AndEachSwitchChangesOnlyBfloat16() throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents"));
        List<String> texts = Fixtures.parityCases().stream()
                .filter(c -> c.model().equals("qwen3-tiny") && c.task().equals("radr-intents"))
                .map(Fixtures.Case::text).toList();
        double[][] float32 = probabilities(task, texts, DataType.FLOAT32, "");
        double[][] bfloat16 = probabilities(task, texts, DataType.BFLOAT16, "none");
        double bf16Gap = ProbabilityGap.max(float32, bfloat16);
        assertTrue(bf16Gap > 1e-6, "the bfloat16 program computes in bfloat16 (max |dp| " + bf16Gap + ")");
        assertTrue(bf16Gap < 0.05, "bfloat16 within 0.05 of float32, max |dp| " + bf16Gap);
        for (String step : List.of("final-norm", "prefix-merge", "rotary", "all")) {
            double[][] switched = probabilities(task, texts, DataType.BFLOAT16, step);
            double changed = ProbabilityGap.max(bfloat16, switched);
            double gap = ProbabilityGap.max(float32, switched);
            assertTrue(changed > 0, step + " in float32 changes the bfloat16 program's numbers");
            assertTrue(gap < 0.05, step + " in float32: still within 0.05 of float32, max |dp| " + gap);
        }
        double[][] byDefault = probabilities(task, texts, DataType.BFLOAT16, "");
        for (int i = 0; i < bfloat16.length; i++) {
            assertArrayEquals(bfloat16[i], byDefault[i], 0, "unset, every step is bfloat16");
        }
        double[][] float32Switched = probabilities(task, texts, DataType.FLOAT32, "all");
        for (int i = 0; i < float32.length; i++) {
            assertArrayEquals(float32[i], float32Switched[i], 0, "the switches change nothing in a float32 program");
        }
    }

    /** Prefix cache on (the merged attention), batches of four: the processor's path. */
    private static double[][] probabilities(Task task, List<String> texts, DataType compute, String float32Steps)
            throws Exception {
        String before = System.getProperty(SWITCHES);
        System.setProperty(SWITCHES, float32Steps);
        try (LanguageModel model = LanguageModel.load(MODEL, Device.cpu(), compute);
                Classifier classifier = new Classifier(model, task, Classifier.Options.defaults().withBatchSize(4))) {
            assertEquals(compute, model.computeType());
            List<Classification> results = classifier.classify(texts);
            assertTrue(results.stream().allMatch(Classification::prefixCached), "the prefix cache's path");
            return results.stream().map(Classification::probabilities).toArray(double[][]::new);
        } finally {
            if (before == null) {
                System.clearProperty(SWITCHES);
            } else {
                System.setProperty(SWITCHES, before);
            }
        }
    }
}
