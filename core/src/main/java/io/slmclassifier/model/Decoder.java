package io.slmclassifier.model;

import static io.slmclassifier.model.TorchProgram.list;
import static io.slmclassifier.model.TorchProgram.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;

/**
 * The Qwen3 / Qwen2 / Llama decoder, run as ONE TorchScript program per forward pass ({@code decoder.py} beside
 * this class, following transformers' modeling_qwen3.py). The program gets the weights once and keeps them in
 * its compute dtype (bfloat16 on a GPU, float32 on CPU); Java keeps tokenization, batching, the prefix cache's
 * lifetime and the adapters, and only float32 results cross back.
 *
 * <p>Sequences are right-padded: with a causal mask a real token only ever sees earlier, real tokens, so no
 * padding mask is needed and padded rows are never read.
 */
public final class Decoder implements AutoCloseable {

    /**
     * LoRA on the seven projections, handed to the program as tensors: y = W x + scale * B (A dropout(x)).
     */
    public interface ProjectionDeltas {
        /**
         * Per layer, A then B of q, k, v, o, gate, up and down ({@link LoraConfig#MODULES} order); a module
         * without LoRA has an A of [0, in] and a B of [out, 0].
         */
        List<NDArray> loraTensors();

        double loraScale();

        /** Dropout on the LoRA input; 0 outside training. */
        double activeDropout();
    }

    /**
     * How rows attend to a cached prefix at inference: "merged" (default: the prefix once for all rows, merged with
     * each row's own part by log-sum-exp, no copy of the prefix per row) or "broadcast" (the prefix broadcast to
     * every row and one masked attention, as training does). Both are exact; merged measured 1.5-1.9x faster on
     * the H200 and 2x on CPU (docs/benchmarks.md), the switch is there to measure them again.
     */
    private static final String PREFIX_ATTENTION = System.getProperty("slm.prefix.attention", "merged");

    /**
     * Steps the program may compute in float32 instead of the compute dtype, to find which one loses precision in
     * bfloat16 against transformers (tools/bf16_fidelity.py, docs/benchmarks.md). Off by default: every step in
     * the compute dtype, as transformers does. No effect in float32.
     *
     * @param finalNorm the final RMS norm of the picked positions (the head is float32 already)
     * @param prefixMerge the log-sum-exp merge of the prefix and own halves of the attention
     * @param rotary the rotary embedding of queries and keys
     */
    public record Precision(boolean finalNorm, boolean prefixMerge, boolean rotary) {
        public static final Precision DEFAULT = new Precision(false, false, false);

        /** From {@code -Dslm.decoder.float32=final-norm,prefix-merge,rotary} (any of them; "all" for all, "none"). */
        public static Precision fromSystemProperties() {
            String setting = System.getProperty("slm.decoder.float32", "").trim();
            if (setting.isEmpty() || setting.equals("none")) {
                return DEFAULT;
            }
            java.util.Set<String> steps = new java.util.HashSet<>();
            for (String step : setting.split(",")) {
                steps.add(step.trim());
            }
            boolean all = steps.remove("all");
            boolean finalNorm = steps.remove("final-norm");
            boolean prefixMerge = steps.remove("prefix-merge");
            boolean rotary = steps.remove("rotary");
            if (!steps.isEmpty()) {
                throw new IllegalArgumentException("slm.decoder.float32 takes final-norm, prefix-merge, rotary or all, not "
                        + steps);
            }
            return new Precision(all || finalNorm, all || prefixMerge, all || rotary);
        }
    }

    private final DecoderWeights w;
    private final ModelConfig c;
    private final DataType computeType;
    private final RotaryEmbedding rope;
    private final NDManager manager;
    private final TorchProgram program;
    private final NDArray none;

    /**
     * @param computeType the dtype inside the program: FLOAT32, FLOAT16 or BFLOAT16 (GPU); the weights may be
     *     stored in another (the engine cannot create BF16 arrays, the program can)
     */
    public Decoder(DecoderWeights weights, DataType computeType) {
        this(weights, computeType, Precision.fromSystemProperties());
    }

    /** @param precision steps computed in float32 although the compute dtype is 16 bits (measurements only) */
    public Decoder(DecoderWeights weights, DataType computeType, Precision precision) {
        this.w = weights;
        this.c = weights.config;
        this.computeType = computeType;
        this.rope = new RotaryEmbedding(c);
        this.manager = weights.manager.newSubManager();
        this.none = manager.zeros(new Shape(0), DataType.FLOAT32);
        this.program = TorchProgram.load(manager, Decoder.class, "decoder.py", List.of("w", "sizes", "eps"));
        List<NDArray> tensors = new ArrayList<>();
        tensors.add(w.embedTokens);
        tensors.add(w.norm);
        for (DecoderWeights.Layer l : w.layers) {
            tensors.add(l.inputLayernorm());
            tensors.add(l.qkvProj());
            tensors.add(orNone(l.qkvBias()));
            tensors.add(orNone(l.qNorm()));
            tensors.add(orNone(l.kNorm()));
            tensors.add(l.oProj());
            tensors.add(l.postAttentionLayernorm());
            tensors.add(l.gateUpProj());
            tensors.add(l.downProj());
        }
        long[] sizes = {c.numHiddenLayers(), c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(), c.hiddenSize(),
                c.intermediateSize(), torchDtype(computeType), precision.finalNorm() ? 1 : 0,
                precision.prefixMerge() ? 1 : 0, precision.rotary() ? 1 : 0};
        // The program's own copies (bfloat16) must be ordinary tensors: made under the engine's inference guard they
        // could never take part in training. Nothing here requires gradients, so nothing is recorded.
        boolean recording = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try {
            program.call("setup", list(tensors), IValue.listFrom(sizes), IValue.from(c.rmsNormEps()));
        } finally {
            JniUtils.setGradMode(recording);
        }
    }

    public DecoderWeights weights() {
        return w;
    }

    public ModelConfig config() {
        return c;
    }

    public DataType computeType() {
        return computeType;
    }

    /**
     * Runs a prefix (one sequence) and keeps its keys and values in a cache owned by {@code owner}. Inside a
     * gradient collector the cache stays on the gradient path.
     */
    public KvCache prefill(NDManager owner, int[] tokens, ProjectionDeltas deltas) {
        NDManager cacheManager = owner.newSubManager();
        try (NDManager scope = owner.newSubManager()) {
            NDArray ids = scope.create(new long[][] {toLong(tokens)});
            IValue result = program.call("prefill", tensor(ids), rope(scope, 0, tokens.length, false),
                    rope(scope, 0, tokens.length, true), lora(deltas), IValue.from(scale(deltas)),
                    IValue.from(dropout(deltas)));
            IValue[] pair = result.toIValueTuple();
            KvCache cache = new KvCache(cacheManager, pair[0].toTensor((PtNDManager) cacheManager),
                    pair[1].toTensor((PtNDManager) cacheManager), tokens.length);
            for (IValue v : pair) {
                v.close();
            }
            result.close();
            return cache;
        } catch (RuntimeException e) {
            cacheManager.close();
            throw e;
        }
    }

    /**
     * Final normed hidden states [B, hidden] (float32) at the last real token of each sequence.
     *
     * @param tokens right-padded token ids, all rows the same length
     * @param lengths the real length of each row
     * @param prefix keys/values of positions before these tokens (batch 1, shared by every row), or null
     */
    public NDArray lastHiddenStates(NDManager batch, int[][] tokens, int[] lengths, KvCache prefix,
            ProjectionDeltas deltas) {
        int rows = tokens.length;
        int width = tokens[0].length;
        long[][] ids = new long[rows][];
        long[] last = new long[rows];
        for (int b = 0; b < rows; b++) {
            ids[b] = toLong(tokens[b]);
            last[b] = (long) b * width + lengths[b] - 1;
        }
        int start = prefix == null ? 0 : prefix.length();
        // The merged prefix attention is exact but carries no gradient, and the GPU's flash kernels need 16 bits.
        boolean gpu = w.manager.getDevice().isGpu();
        boolean merged = !JniUtils.isGradMode() && (!gpu || computeType != DataType.FLOAT32)
                && !PREFIX_ATTENTION.equals("broadcast");
        IValue result = program.call("forward", tensor(batch.create(ids)), tensor(batch.create(last)),
                rope(batch, start, width, false), rope(batch, start, width, true),
                tensor(prefix == null ? none : prefix.keys()), tensor(prefix == null ? none : prefix.values()),
                lora(deltas), IValue.from(scale(deltas)), IValue.from(dropout(deltas)), IValue.from(merged));
        NDArray hidden = result.toTensor((PtNDManager) batch);
        result.close();
        return hidden;
    }

    private IValue rope(NDManager scope, int start, int count, boolean sine) {
        float[] table = sine ? rope.sinSigned(start, count) : rope.cos(start, count);
        return tensor(scope.create(table, new Shape(count, c.headDim())));
    }

    private static IValue lora(ProjectionDeltas deltas) {
        return deltas == null ? IValue.listFrom(new PtNDArray[0]) : list(deltas.loraTensors());
    }

    private static double scale(ProjectionDeltas deltas) {
        return deltas == null ? 0 : deltas.loraScale();
    }

    private static double dropout(ProjectionDeltas deltas) {
        return deltas == null ? 0 : deltas.activeDropout();
    }

    private NDArray orNone(NDArray array) {
        return array == null ? none : array;
    }

    /** PyTorch's ScalarType numbers, as TorchScript's serialized code writes dtypes. */
    static int torchDtype(DataType type) {
        return switch (type) {
            case FLOAT32 -> 6;
            case FLOAT16 -> 5;
            case BFLOAT16 -> 15;
            default -> throw new IllegalArgumentException("the decoder computes in float32, float16 or bfloat16, not " + type);
        };
    }

    private static long[] toLong(int[] tokens) {
        long[] out = new long[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            out[i] = tokens[i];
        }
        return out;
    }

    @Override
    public void close() {
        program.close();
        manager.close();
    }
}
