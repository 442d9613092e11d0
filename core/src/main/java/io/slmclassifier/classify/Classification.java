package io.slmclassifier.classify;

/**
 * The result for one message. Arrays follow the task's label order.
 *
 * @param labelMass probability of the C class tokens under the full-vocabulary softmax; NaN when not computed
 * @param tokens tokens the model read for this message (prompt included)
 * @param adapterVersion the adapter that produced this result ("base" without one)
 */
public record Classification(
        String text,
        String label,
        int labelIndex,
        double[] probabilities,
        float[] logits,
        double labelMass,
        boolean truncated,
        int tokens,
        boolean prefixCached,
        String adapterVersion) {}
