package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import io.slmclassifier.Fixtures;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ClassifierBehaviourTest {
    private static LanguageModel model;

    @BeforeAll
    static void load() throws Exception {
        model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void aMessageThatMergesWithThePrefixFallsBackToTheFullForward() {
        // The prompt ends inside a word, so the text continues it and BPE re-splits the word's last tokens.
        Task task = Task.parse("name: t\nlabels: [yes, no]\nprompt: 'Ist das ein Wort? Donaudampfschifffahrts{text}'\nchat_template: false");
        try (Classifier cached = new Classifier(model, task, Classifier.Options.defaults());
                Classifier full = new Classifier(model, task, Classifier.Options.defaults().withPrefixCache(false))) {
            String merging = "gesellschaft";
            String separate = " und noch ein Satz.";
            assertFalse(cached.prompt().startsWithPrefix(cached.prompt().encode(merging).tokens()));
            assertTrue(cached.prompt().startsWithPrefix(cached.prompt().encode(separate).tokens()));
            List<Classification> mixed = cached.classify(List.of(merging, separate));
            List<Classification> reference = full.classify(List.of(merging, separate));
            assertFalse(mixed.get(0).prefixCached());
            assertTrue(mixed.get(1).prefixCached());
            for (int i = 0; i < 2; i++) {
                for (int k = 0; k < 2; k++) {
                    assertEquals(reference.get(i).probabilities()[k], mixed.get(i).probabilities()[k], 1e-5);
                }
            }
        }
    }

    @Test
    void aCallOfFewerTextsThanThePrefixMinimumRunsWholePrompts() throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents"));
        try (Classifier small = new Classifier(model, task, Classifier.Options.defaults().withPrefixMinRows(3));
                Classifier always = new Classifier(model, task, Classifier.Options.defaults())) {
            List<String> two = List.of("RobLW an Zugführer, kommen.", "Verstanden, wir gehen im Keller vor. Ende.");
            List<Classification> whole = small.classify(two);
            List<Classification> cached = always.classify(two);
            for (int i = 0; i < two.size(); i++) {
                assertFalse(whole.get(i).prefixCached(), "two texts, fewer than three: whole prompts");
                assertTrue(cached.get(i).prefixCached());
                for (int k = 0; k < task.labels().size(); k++) {
                    assertEquals(cached.get(i).probabilities()[k], whole.get(i).probabilities()[k], 1e-5);
                }
            }
            List<String> three = List.of("RobLW an Zugführer, kommen.", "Moment bitte.", "Wasser marsch!");
            assertTrue(small.classify(three).stream().allMatch(Classification::prefixCached), "three reach the minimum");
        }
        assertEquals(Classifier.Options.GPU_PREFIX_MIN_ROWS, Classifier.Options.forDevice(Device.gpu()).prefixMinRows());
        assertEquals(1, Classifier.Options.forDevice(Device.cpu()).prefixMinRows(), "on a CPU the prefix always pays");
        assertThrows(IllegalArgumentException.class, () -> Classifier.Options.defaults().withPrefixMinRows(0));
    }

    @Test
    void longTextsAreTruncatedNeverTheInstructions() throws Exception {
        Task task = Task.parse("name: t\nlabels: [yes, no]\nprompt: \"Sentence: {text}\\nAnswer:\"\nmax_text_tokens: 5");
        try (Classifier classifier = new Classifier(model, task, Classifier.Options.defaults())) {
            String text = "eins zwei drei vier fünf sechs sieben acht neun zehn";
            Classification c = classifier.classify(List.of(text)).get(0);
            assertTrue(c.truncated());
            String seen = model.tokenizer().decode(classifier.prompt().encode(text).tokens());
            assertTrue(seen.endsWith("\nAnswer:<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"), seen);
            assertTrue(seen.contains("Sentence: eins"), seen);
            assertFalse(seen.contains("sechs"), seen);
            assertFalse(classifier.classify(List.of("eins zwei")).get(0).truncated());
        }
    }

    @Test
    void emptyTextIsRefused() throws Exception {
        try (Classifier classifier = new Classifier(model, Task.load(Fixtures.task("radr-intents")), Classifier.Options.defaults())) {
            assertThrows(IllegalArgumentException.class, () -> classifier.classify(List.of("  ")));
        }
    }

    /** The GPU's dtypes through the same program (CPU kernels): 16-bit inference agrees with float32. */
    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FLOAT16", "BFLOAT16"})
    void sixteenBitInferenceAgreesWithFloat32(DataType compute) throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents"));
        List<String> texts = List.of("RobLW an Zugführer, kommen.", "Ist negativ, noch nicht.");
        try (LanguageModel half = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), compute);
                Classifier sixteen = new Classifier(half, task, Classifier.Options.defaults());
                Classifier fp32 = new Classifier(model, task, Classifier.Options.defaults())) {
            assertEquals(compute, half.computeType());
            assertEquals(compute == DataType.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT32,
                    half.weights().embedTokens.getDataType());
            List<Classification> a = sixteen.classify(texts);
            List<Classification> b = fp32.classify(texts);
            double tolerance = compute == DataType.FLOAT16 ? 2e-2 : 5e-2;
            for (int i = 0; i < texts.size(); i++) {
                assertTrue(a.get(i).prefixCached(), "the prefix path (merged attention) was taken");
                for (int k = 0; k < task.labels().size(); k++) {
                    assertEquals(b.get(i).probabilities()[k], a.get(i).probabilities()[k], tolerance);
                }
            }
        }
    }
}
