package io.slmclassifier.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.LabeledExample;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class FeedbackDatasetTest {

    static LabeledExample example(String id, String text, String label) {
        return LabeledExample.newBuilder().setId(id).setText(text).setLabel(label).setSource("test")
                .setLabeledAt(Instant.EPOCH).build();
    }

    @Test
    void theLastLabelWinsAndDuplicatesCollapse() {
        FeedbackDataset d = new FeedbackDataset(ColourTask.TASK, 20);
        d.put(example("a", "the red cat", "blue"), 1);
        d.put(example("a", "the red cat", "red"), 2);
        d.put(example("a", "the red cat", "red"), 3);
        assertEquals(1, d.size());
        FeedbackDataset.Split split = d.split();
        LabeledData.Example only = split.train().isEmpty() ? split.validation().get(0) : split.train().get(0);
        assertEquals(0, only.label());
        assertEquals(3, split.cutoffMillis());
        assertEquals(1, d.newerThan(2));
        assertEquals(0, d.newerThan(3));
        d.remove("a");
        assertEquals(0, d.size());
    }

    @Test
    void theSplitDependsOnTheIdAloneAndHoldsTheShare() {
        FeedbackDataset d = new FeedbackDataset(ColourTask.TASK, 20);
        for (int i = 0; i < 2000; i++) {
            d.put(example("id-" + i, "green " + i, "green"), i);
        }
        int validation = d.split().validation().size();
        assertTrue(validation > 330 && validation < 470, "about 20% held out: " + validation);
        for (int i = 0; i < 50; i++) {
            assertEquals(FeedbackDataset.isValidation("id-" + i, 20), FeedbackDataset.isValidation("id-" + i, 20));
        }
        assertTrue(FeedbackDataset.isValidation("id-7", 99) || !FeedbackDataset.isValidation("id-7", 1));
    }

    @Test
    void examplesOutsideTheTaskAreRefusedWithTheReason() {
        FeedbackDataset d = new FeedbackDataset(ColourTask.TASK, 20);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> d.put(example("x", "a purple cat", "purple"), 1))
                .getMessage().contains("purple"));
        assertThrows(IllegalArgumentException.class, () -> d.put(example("y", "  ", "red"), 1));
        assertThrows(IllegalArgumentException.class, () -> new FeedbackDataset(ColourTask.TASK, 0));
    }
}
