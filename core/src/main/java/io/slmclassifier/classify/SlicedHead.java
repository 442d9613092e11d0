package io.slmclassifier.classify;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.List;

/**
 * The C rows of the (frozen, often tied) LM head that belong to the class tokens. Logits are the final normed
 * hidden state times these rows; probabilities are their softmax. The label mass, the probability of the C
 * tokens under the full-vocabulary softmax, needs the whole head and is computed only on request.
 */
public final class SlicedHead implements AutoCloseable {

    /** Per sequence: C logits, and the label mass (NaN when not requested). */
    public record Scores(float[][] logits, double[] labelMass) {}

    private final int[] classTokenIds;
    private final NDManager manager;
    /** [hidden, C]: transposed once, since a view made per call would belong to this long-lived manager. */
    private final NDArray rowsT;
    private final NDArray fullHead;
    private NDArray fullHeadT;

    public SlicedHead(Task task, TextTokenizer tokenizer, NDArray lmHead) {
        this.classTokenIds = classTokenIds(task, tokenizer);
        this.manager = lmHead.getManager().newSubManager();
        long[] ids = new long[classTokenIds.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = classTokenIds[i];
        }
        NDArray index = manager.create(ids);
        // float32, as the decoder's hidden states are, whatever the weights are stored in.
        this.rowsT = index.getNDArrayInternal().embedding(index, lmHead, ai.djl.ndarray.types.SparseFormat.DENSE)
                .singletonOrThrow().transpose().toType(DataType.FLOAT32, false);
        this.fullHead = lmHead;
    }

    /**
     * The first token of each class string with no leading space. Two classes with the same first token can
     * never be told apart, so such a task is refused.
     */
    static int[] classTokenIds(Task task, TextTokenizer tokenizer) {
        List<String> strings = task.classTokenStrings();
        int[] ids = new int[strings.size()];
        for (int i = 0; i < ids.length; i++) {
            int[] tokens = tokenizer.encode(strings.get(i), false);
            if (tokens.length == 0) {
                throw new IllegalArgumentException("task " + task.name() + ": label '" + strings.get(i) + "' has no tokens");
            }
            ids[i] = tokens[0];
            for (int j = 0; j < i; j++) {
                if (ids[j] == ids[i]) {
                    throw new IllegalArgumentException("task " + task.name() + ": labels '" + task.labels().get(j)
                            + "' and '" + task.labels().get(i) + "' start with the same token ("
                            + tokenizer.decode(new int[] {ids[i]}) + ", id " + ids[i]
                            + ") and could never be told apart; rename one or use label_tokens: letters");
                }
            }
        }
        return ids;
    }

    public int[] classTokenIds() {
        return classTokenIds.clone();
    }

    /** Class logits [B, C] of final normed hidden states [B, hidden]; differentiable (the head itself is frozen). */
    public NDArray logits(NDArray hidden) {
        return hidden.matMul(rowsT);
    }

    /** {@code hidden}: [B, hidden] final normed states of the last real tokens. */
    public synchronized Scores score(NDArray hidden, boolean labelMass) {
        long batch = hidden.getShape().get(0);
        int classes = classTokenIds.length;
        float[] flat = logits(hidden).toType(DataType.FLOAT32, false).toFloatArray();
        float[][] logits = new float[(int) batch][classes];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(flat, b * classes, logits[b], 0, classes);
        }
        double[] mass = new double[(int) batch];
        if (labelMass) {
            // log-sum-exp over the whole vocabulary, in float32, then the C terms in Java.
            if (fullHeadT == null) {
                fullHeadT = fullHead.transpose();
                fullHeadT.attach(manager);
            }
            NDArray all = hidden.toType(fullHeadT.getDataType(), false).matMul(fullHeadT).toType(DataType.FLOAT32, false);
            NDArray max = all.max(new int[] {-1}, true);
            float[] lse = all.sub(max).exp().sum(new int[] {-1}).log().add(max.squeeze(-1)).toFloatArray();
            for (int b = 0; b < batch; b++) {
                double m = 0;
                for (int c = 0; c < classes; c++) {
                    m += Math.exp(logits[b][c] - lse[b]);
                }
                mass[b] = m;
            }
        } else {
            java.util.Arrays.fill(mass, Double.NaN);
        }
        return new Scores(logits, mass);
    }

    /** Softmax over the C logits, in double precision. */
    public static double[] softmax(float[] logits) {
        return softmax(logits, 1);
    }

    /** softmax(logits / temperature), the maximum subtracted first so that large logits do not overflow. */
    public static double[] softmax(float[] logits, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp((logits[i] - max) / temperature);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    @Override
    public void close() {
        manager.close();
    }
}
