package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.slmclassifier.Fixtures;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole path, text in and probabilities out, against transformers: the rendered prompt and its token ids
 * exactly, every probability within 1e-4, with and without the prefix cache, one by one and in mixed batches.
 */
class ClassifierParityTest {
    private static final List<String> MODELS = List.of("qwen3-tiny", "qwen2-tiny", "llama-tiny");
    private static final java.util.Map<String, LanguageModel> loaded = new java.util.HashMap<>();

    @BeforeAll
    static void load() throws Exception {
        for (String m : MODELS) {
            loaded.put(m, LanguageModel.load(Fixtures.model(m), Device.cpu(), null));
        }
    }

    @AfterAll
    static void close() {
        loaded.values().forEach(LanguageModel::close);
    }

    @ParameterizedTest
    @ValueSource(strings = {"radr-intents", "emotion", "radr-intents-letters"})
    void probabilitiesMatchTransformers(String taskName) throws Exception {
        Task task = Task.load(Fixtures.task(taskName));
        for (String m : MODELS) {
            List<Fixtures.Case> cases = Fixtures.parityCases().stream()
                    .filter(c -> c.model().equals(m) && c.task().equals(taskName)).collect(Collectors.toList());
            assertFalse(cases.isEmpty());
            List<String> texts = cases.stream().map(Fixtures.Case::text).toList();
            try (Classifier oneByOne = new Classifier(loaded.get(m), task, Classifier.Options.defaults().withBatchSize(1));
                    Classifier batched = new Classifier(loaded.get(m), task, Classifier.Options.defaults().withLabelMass(true));
                    Classifier uncached = new Classifier(loaded.get(m), task,
                            Classifier.Options.defaults().withPrefixCache(false).withBatchSize(4))) {
                assertArrayEquals(cases.get(0).classTokenIds(), batched.head().classTokenIds());
                List<Classification> single = new ArrayList<>();
                for (String t : texts) {
                    single.addAll(oneByOne.classify(List.of(t)));
                }
                List<Classification> batch = batched.classify(texts);
                List<Classification> full = uncached.classify(texts);
                for (int i = 0; i < cases.size(); i++) {
                    Fixtures.Case c = cases.get(i);
                    String where = m + " " + taskName + " '" + c.text() + "'";
                    assertEquals(c.prompt(), batched.prompt().render(c.text()), where);
                    assertArrayEquals(c.inputIds(), batched.prompt().encode(c.text()).tokens(), where);
                    assertTrue(batch.get(i).prefixCached(), where + " should use the prefix cache");
                    assertFalse(full.get(i).prefixCached());
                    for (int k = 0; k < c.probabilities().length; k++) {
                        assertEquals(c.probabilities()[k], single.get(i).probabilities()[k], 1e-4, where + " one by one");
                        assertEquals(c.probabilities()[k], batch.get(i).probabilities()[k], 1e-4, where + " batched, prefix cached");
                        assertEquals(c.probabilities()[k], full.get(i).probabilities()[k], 1e-4, where + " batched, full forward");
                    }
                    assertEquals(c.labelMass(), batch.get(i).labelMass(), 1e-4 * c.labelMass() + 1e-9, where + " label mass");
                }
            }
        }
    }
}
