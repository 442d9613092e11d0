package io.slmclassifier.classify;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Groups sequences into batches of similar length, so little compute goes to padding. A batch holds at most
 * {@code maxBatchSize} sequences and at most {@code tokenBudget} padded tokens (rows x longest row); a sequence
 * longer than the budget still runs, alone.
 */
public final class BatchPlanner {
    private final int maxBatchSize;
    private final int tokenBudget;

    public BatchPlanner(int maxBatchSize, int tokenBudget) {
        if (maxBatchSize < 1 || tokenBudget < 1) {
            throw new IllegalArgumentException("batch size and token budget must be positive");
        }
        this.maxBatchSize = maxBatchSize;
        this.tokenBudget = tokenBudget;
    }

    /** Indices into {@code lengths}, one array per batch, longest sequences first. */
    public List<int[]> plan(int[] lengths) {
        Integer[] order = new Integer[lengths.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> lengths[i]).reversed());
        List<int[]> batches = new ArrayList<>();
        List<Integer> current = new ArrayList<>();
        int width = 0;
        for (int index : order) {
            int newWidth = Math.max(width, lengths[index]);
            boolean fits = current.size() < maxBatchSize && (long) newWidth * (current.size() + 1) <= tokenBudget;
            if (!current.isEmpty() && !fits) {
                batches.add(current.stream().mapToInt(Integer::intValue).toArray());
                current.clear();
                newWidth = lengths[index];
            }
            current.add(index);
            width = newWidth;
        }
        if (!current.isEmpty()) {
            batches.add(current.stream().mapToInt(Integer::intValue).toArray());
        }
        return batches;
    }
}
