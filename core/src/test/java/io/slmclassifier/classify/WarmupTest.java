package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.slmclassifier.Fixtures;
import java.util.List;
import org.junit.jupiter.api.Test;

class WarmupTest {

    @Test
    void sizesFromTheSetting() {
        assertEquals(List.of(1024, 1, 3, 2, 4, 5, 6, 7, 8, 18, 513), Warmup.sizes("auto", true, 1024),
                "GPU: the largest pass first, then every whole-prompt size");
        assertEquals(List.of(4, 1, 3, 2), Warmup.sizes("auto", true, 4), "each size once, none over the limit");
        assertEquals(List.of(1, 3), Warmup.sizes("AUTO", false, 32));
        assertEquals(List.of(1), Warmup.sizes("auto", false, 1));
        assertEquals(List.of(), Warmup.sizes("none", true, 1024));
        assertEquals(List.of(), Warmup.sizes(" ", true, 1024));
        assertEquals(List.of(64, 1, 7), Warmup.sizes("64, 1,7", false, 64));
        assertThrows(IllegalArgumentException.class, () -> Warmup.sizes("65", false, 64), "over the batch limit");
        assertThrows(IllegalArgumentException.class, () -> Warmup.sizes("0", false, 64));
        assertThrows(IllegalArgumentException.class, () -> Warmup.sizes("some", false, 64));
    }

    @Test
    void textsOfEachSizeVaryInLengthAndRepeatPerSize() throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents"));
        List<String> texts = Warmup.texts(task, 16, 0);
        assertEquals(16, texts.size());
        assertTrue(texts.stream().map(String::length).distinct().count() > 4, "lengths vary: " + texts);
        assertEquals(texts, Warmup.texts(task, 16, 0), "the same shape for each run of a size");
    }

    @Test
    void runsThePassesOnTheClassifier() throws Exception {
        try (LanguageModel model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null);
                Classifier classifier = new Classifier(model, Task.load(Fixtures.task("radr-intents")),
                        Classifier.Options.defaults())) {
            assertTrue(Warmup.run(classifier.task(), List.of(4, 1), classifier::classify) >= 0);
            // The warm-up leaves the classifier as it found it: the same numbers as a cold one.
            try (Classifier cold = new Classifier(model, classifier.task(), Classifier.Options.defaults())) {
                String text = "RobLW an Zugführer, kommen.";
                org.junit.jupiter.api.Assertions.assertArrayEquals(cold.classify(List.of(text)).get(0).probabilities(),
                        classifier.classify(List.of(text)).get(0).probabilities(), 1e-9);
            }
        }
    }
}
