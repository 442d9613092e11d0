package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import io.slmclassifier.Fixtures;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;

/**
 * The prefix cache's passes with packed rows ({@code -Dslm.prefix.packed=true}) against the same classifier
 * padding them: the same probabilities for all three families in float32 (and transformers' within 1e-4), with an
 * adapter served unmerged, and in bfloat16 as near float32 as {@link Bfloat16PathTest} asks of the padded program.
 */
class PackedRowsClassifierTest {
    private static final List<String> MODELS = List.of("qwen3-tiny", "qwen2-tiny", "llama-tiny");

    @Test
    void packedPassesServeThePaddedPassesProbabilities() throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents"));
        for (String m : MODELS) {
            List<Fixtures.Case> cases = Fixtures.parityCases().stream()
                    .filter(c -> c.model().equals(m) && c.task().equals("radr-intents")).toList();
            List<String> texts = new ArrayList<>(cases.stream().map(Fixtures.Case::text).toList());
            texts.addAll(textsOfVeryDifferentLengths());
            try (LanguageModel model = LanguageModel.load(Fixtures.model(m), Device.cpu(), null)) {
                List<Classification> padded = classify(model, task, texts, false, null);
                List<Classification> packed = classify(model, task, texts, true, null);
                for (int i = 0; i < texts.size(); i++) {
                    String where = m + " '" + texts.get(i) + "'";
                    assertTrue(packed.get(i).prefixCached(), where + " should use the prefix cache");
                    for (int k = 0; k < padded.get(i).probabilities().length; k++) {
                        assertEquals(padded.get(i).probabilities()[k], packed.get(i).probabilities()[k], 1e-6,
                                where + " packed against padded");
                    }
                }
                for (int i = 0; i < cases.size(); i++) {
                    for (int k = 0; k < cases.get(i).probabilities().length; k++) {
                        assertEquals(cases.get(i).probabilities()[k], packed.get(i).probabilities()[k], 1e-4,
                                m + " '" + cases.get(i).text() + "' packed against transformers");
                    }
                }
            }
        }
    }

    @Test
    void anUnmergedAdapterServesTheSameProbabilitiesPacked() throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents"));
        List<String> texts = textsOfVeryDifferentLengths();
        try (LanguageModel model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null);
                LoraAdapter adapter = LoraAdapter.random(LoraConfig.defaults(model.id()), model.weights().config,
                        model.manager(), 7)) {
            List<Classification> base = classify(model, task, texts, true, null);
            List<Classification> padded = classify(model, task, texts, false, adapter);
            List<Classification> packed = classify(model, task, texts, true, adapter);
            assertTrue(ProbabilityGap.max(base, packed) > 1e-3, "the adapter changes the packed probabilities");
            double difference = ProbabilityGap.max(padded, packed);
            assertTrue(difference <= 1e-6, "packed and padded with the adapter differ by " + difference);
            assertEquals("1", packed.get(0).adapterVersion());
        }
    }

    @Test
    void packedBfloat16StaysNearFloat32() throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents"));
        List<String> texts = new ArrayList<>(Fixtures.parityCases().stream()
                .filter(c -> c.model().equals("qwen3-tiny") && c.task().equals("radr-intents"))
                .map(Fixtures.Case::text).toList());
        texts.addAll(textsOfVeryDifferentLengths());
        List<Classification> float32;
        try (LanguageModel model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), DataType.FLOAT32)) {
            float32 = classify(model, task, texts, false, null);
        }
        try (LanguageModel model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), DataType.BFLOAT16)) {
            assertEquals(DataType.BFLOAT16, model.computeType());
            List<Classification> packed = classify(model, task, texts, true, null);
            double gap = ProbabilityGap.max(float32, packed);
            assertTrue(gap > 1e-6, "the packed bfloat16 pass computes in bfloat16 (max |dp| " + gap + ")");
            assertTrue(gap < 0.05, "packed bfloat16 within 0.05 of float32, max |dp| " + gap);
        }
    }

    /** Radr-style texts from a few tokens to ~40 after the cached prefix, so that a batch pads most of its rows. */
    private static List<String> textsOfVeryDifferentLengths() {
        return List.of("Ja.", "Kommen.",
                "RobLW an Zugführer, kommen.",
                "Zugführer an Angriffstrupp: Lage im zweiten Obergeschoss, zwei Personen vermisst, Zugang über das "
                        + "Treppenhaus Ost, Atemschutz, kommen.",
                "Frage: Erkundungsergebnis aus der östlichen Seite des Gebäudes, kommen.",
                "Negativ.");
    }

    /** One classifier, batches of up to 32 (every text in one pass), the packed switch as asked. */
    private static List<Classification> classify(LanguageModel model, Task task, List<String> texts, boolean packed,
            LoraAdapter adapter) throws Exception {
        return withPackedRows(packed, () -> {
            try (Classifier classifier = new Classifier(model, task, Classifier.Options.defaults())) {
                assertEquals(packed, classifier.packsRows());
                if (adapter != null) {
                    classifier.useUnmergedAdapter("1", adapter);
                }
                List<Classification> results = classifier.classify(texts);
                assertFalse(results.isEmpty());
                return results;
            }
        });
    }

    private static <T> T withPackedRows(boolean on, Callable<T> call) throws Exception {
        String before = System.getProperty(Classifier.PACKED_ROWS_PROPERTY);
        System.setProperty(Classifier.PACKED_ROWS_PROPERTY, Boolean.toString(on));
        try {
            return call.call();
        } finally {
            if (before == null) {
                System.clearProperty(Classifier.PACKED_ROWS_PROPERTY);
            } else {
                System.setProperty(Classifier.PACKED_ROWS_PROPERTY, before);
            }
        }
    }
}
