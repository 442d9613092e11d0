package io.slmclassifier.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The synthetic sentences of the demo's simulation, for the colours task and for a task of any labels. */
class ColourTaskTest {

    @Test
    void anyTaskGetsSentencesHidingOneOfItsOwnLabelsAmongFillerWords() {
        List<String> labels = List.of("sadness", "joy", "love", "anger", "fear", "surprise");
        Set<Integer> seen = new HashSet<>();
        for (LabeledData.Example e : ColourTask.sentences(labels, 200, 7)) {
            List<String> words = List.of(e.text().split(" "));
            assertEquals(7, words.size(), e.text());
            List<String> named = words.stream().filter(labels::contains).toList();
            assertEquals(List.of(labels.get(e.label())), named, "one label word, the example's own: " + e.text());
            assertTrue(words.stream().filter(w -> !labels.contains(w)).allMatch(ColourTask.DISTRACTORS::contains), e.text());
            seen.add(e.label());
        }
        assertEquals(labels.size(), seen.size(), "every label occurs");
        assertEquals(ColourTask.sentences(ColourTask.LABELS, 20, 3), ColourTask.sentences(20, 3),
                "the colours task's sentences are those of its labels");
    }
}
