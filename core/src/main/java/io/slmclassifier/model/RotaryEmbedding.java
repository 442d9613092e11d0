package io.slmclassifier.model;

/**
 * Rotary position tables, computed as transformers does (float32 inverse frequencies, llama3 scaling) and
 * laid out for {@code x * cos + swapHalves(x) * sinSigned}, which equals HF's {@code x * cos + rotate_half(x) * sin}
 * with one operation fewer: the sign of rotate_half is folded into the sine table.
 */
public final class RotaryEmbedding {
    private final int headDim;
    private final float[] invFreq;

    public RotaryEmbedding(ModelConfig config) {
        this.headDim = config.headDim();
        this.invFreq = inverseFrequencies(config.rope(), headDim);
    }

    static float[] inverseFrequencies(ModelConfig.RopeScaling rope, int headDim) {
        int half = headDim / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / headDim;
            inv[i] = (float) (1.0 / (float) Math.pow(rope.theta(), exponent));
        }
        if (rope.type().equals("llama3")) {
            double lowFreqWavelen = rope.originalMaxPositionEmbeddings() / rope.lowFreqFactor();
            double highFreqWavelen = rope.originalMaxPositionEmbeddings() / rope.highFreqFactor();
            for (int i = 0; i < half; i++) {
                double wavelen = 2 * Math.PI / inv[i];
                if (wavelen > lowFreqWavelen) {
                    inv[i] = (float) (inv[i] / rope.factor());
                } else if (wavelen >= highFreqWavelen) {
                    double smooth = (rope.originalMaxPositionEmbeddings() / wavelen - rope.lowFreqFactor())
                            / (rope.highFreqFactor() - rope.lowFreqFactor());
                    inv[i] = (float) ((1 - smooth) * inv[i] / rope.factor() + smooth * inv[i]);
                }
            }
        }
        return inv;
    }

    /** cos for positions [start, start + count): row-major [count, headDim]. */
    public float[] cos(int start, int count) {
        return table(start, count, false);
    }

    /** sin with rotate_half's sign folded in: [-sin | +sin] per row. */
    public float[] sinSigned(int start, int count) {
        return table(start, count, true);
    }

    private float[] table(int start, int count, boolean sine) {
        int half = headDim / 2;
        float[] out = new float[count * headDim];
        for (int t = 0; t < count; t++) {
            float position = start + t;
            for (int i = 0; i < half; i++) {
                float angle = position * invFreq[i];
                if (sine) {
                    float s = (float) Math.sin(angle);
                    out[t * headDim + i] = -s;
                    out[t * headDim + half + i] = s;
                } else {
                    float c = (float) Math.cos(angle);
                    out[t * headDim + i] = c;
                    out[t * headDim + half + i] = c;
                }
            }
        }
        return out;
    }
}
