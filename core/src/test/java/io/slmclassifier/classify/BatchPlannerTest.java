package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatchPlannerTest {

    @Test
    void groupsSimilarLengthsWithinCountAndTokenBudget() {
        int[] lengths = {10, 100, 12, 98, 11, 300, 99, 13};
        List<int[]> batches = new BatchPlanner(3, 320).plan(lengths);
        int total = 0;
        for (int[] batch : batches) {
            total += batch.length;
            int width = Arrays.stream(batch).map(i -> lengths[i]).max().orElseThrow();
            assertTrue(batch.length <= 3);
            assertTrue(batch.length == 1 || width * batch.length <= 320, "over budget: " + Arrays.toString(batch));
        }
        assertEquals(lengths.length, total);
        assertArrayEquals(new int[] {5}, batches.get(0), "300 tokens fit only alone");
        assertArrayEquals(new int[] {1, 6, 3}, batches.get(1), "the three ~100-token rows together");
        assertArrayEquals(new int[] {7, 2, 4}, batches.get(2));
        assertArrayEquals(new int[] {0}, batches.get(3));
    }

    @Test
    void aSequenceLongerThanTheBudgetStillRuns() {
        assertEquals(List.of(0), Arrays.stream(new BatchPlanner(8, 10).plan(new int[] {50}).get(0)).boxed().toList());
    }
}
