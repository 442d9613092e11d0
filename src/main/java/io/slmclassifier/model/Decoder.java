package io.slmclassifier.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;

/**
 * The Qwen3 / Qwen2 / Llama decoder as DJL operations, following transformers' modeling_qwen3.py:
 * RMSNorm in float32, q/k norms (Qwen3) before rotary, grouped-query attention with a causal mask, softmax in
 * float32, SiLU-gated MLP. Sequences are right-padded: with a causal mask a real token only ever sees earlier,
 * real tokens, so no padding mask is needed and padded rows are simply never read.
 *
 * <p>Every op's result belongs to its first operand's manager, so activations always come first and each
 * layer's intermediates live in a sub-manager closed at the end of the layer.
 */
public final class Decoder {

    /**
     * Extra terms added to the four projections of a layer (LoRA); each method returns null when it adds nothing.
     * The input is the projection's input, the result has the projection's output shape.
     */
    public interface ProjectionDeltas {
        NDArray qkv(int layer, NDArray input);

        NDArray o(int layer, NDArray input);

        NDArray gateUp(int layer, NDArray input);

        NDArray down(int layer, NDArray input);
    }

    private final DecoderWeights w;
    private final ModelConfig c;
    private final RotaryEmbedding rope;
    private final NDArray eps;
    private final NDArray attentionScale;

    public Decoder(DecoderWeights weights) {
        this.w = weights;
        this.c = weights.config;
        this.rope = new RotaryEmbedding(c);
        this.eps = weights.manager.create((float) c.rmsNormEps());
        this.attentionScale = weights.manager.create((float) (1.0 / Math.sqrt(c.headDim()))).toType(weights.dtype, false);
    }

    public DecoderWeights weights() {
        return w;
    }

    public ModelConfig config() {
        return c;
    }

    /**
     * Runs a prefix (one sequence) and keeps its keys and values in a cache owned by {@code owner}.
     */
    public KvCache prefill(NDManager owner, int[] tokens, ProjectionDeltas deltas) {
        NDManager cacheManager = owner.newSubManager();
        KvCache cache = new KvCache(cacheManager, c.numHiddenLayers(), tokens.length);
        try (NDManager batch = owner.newSubManager()) {
            NDArray ids = batch.create(new long[][] {toLong(tokens)});
            run(batch, ids, null, cache, deltas);
        } catch (RuntimeException e) {
            cache.close();
            throw e;
        }
        return cache;
    }

    /**
     * Final normed hidden states [B, hidden] at the last real token of each sequence.
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
        NDArray hidden = run(batch, batch.create(ids), prefix, null, deltas);
        NDArray flat = hidden.reshape(rows * (long) width, c.hiddenSize());
        NDArray picked = embedding(batch.create(last), flat);
        return rmsNorm(picked, w.norm);
    }

    /** Hidden states [B, T, hidden] before the final norm; fills {@code keep} with this run's keys and values. */
    private NDArray run(NDManager batch, NDArray ids, KvCache prefix, KvCache keep, ProjectionDeltas deltas) {
        long rows = ids.getShape().get(0);
        int width = (int) ids.getShape().get(1);
        int start = prefix == null ? 0 : prefix.length();
        int keys = start + width;
        int hd = c.headDim();
        NDArray cos = batch.create(rope.cos(start, width), new Shape(width, hd)).toType(w.dtype, false);
        NDArray sin = batch.create(rope.sinSigned(start, width), new Shape(width, hd)).toType(w.dtype, false);
        NDArray mask = batch.create(causalMask(start, width), new Shape(width, keys));

        NDArray x = embedding(ids, w.embedTokens);
        for (int i = 0; i < w.layers.length; i++) {
            try (NDManager scope = batch.newSubManager()) {
                x.attach(scope); // the previous residual is freed with this layer
                NDArray next = layer(i, w.layers[i], x, rows, width, cos, sin, mask, prefix, keep, deltas);
                next.attach(batch);
                x = next;
            }
        }
        return x;
    }

    private NDArray layer(int index, DecoderWeights.Layer l, NDArray x, long rows, int width, NDArray cos,
            NDArray sin, NDArray mask, KvCache prefix, KvCache keep, ProjectionDeltas deltas) {
        int hd = c.headDim();
        int heads = c.numAttentionHeads();
        int kvHeads = c.numKeyValueHeads();
        int groups = c.kvGroups();

        NDArray h = rmsNorm(x, l.inputLayernorm());
        NDArray qkv = plus(linear(h, l.qkvProj(), l.qkvBias()), deltas == null ? null : deltas.qkv(index, h));
        NDArray q = qkv.get(new NDIndex("..., :" + c.qSize())).reshape(rows, width, heads, hd);
        NDArray k = qkv.get(new NDIndex("..., " + c.qSize() + ":" + (c.qSize() + c.kvSize())))
                .reshape(rows, width, kvHeads, hd);
        NDArray v = qkv.get(new NDIndex("..., " + (c.qSize() + c.kvSize()) + ":")).reshape(rows, width, kvHeads, hd);
        if (l.qNorm() != null) {
            q = rmsNorm(q, l.qNorm());
            k = rmsNorm(k, l.kNorm());
        }
        q = rotate(q.transpose(0, 2, 1, 3), cos, sin); // [B, H, T, hd]
        k = rotate(k.transpose(0, 2, 1, 3), cos, sin); // [B, KV, T, hd]
        v = v.transpose(0, 2, 1, 3);
        if (keep != null) {
            // Moved, not copied: a copy would cut the gradient path that training needs through the prefix.
            k.attach(keep.manager());
            v.attach(keep.manager());
            keep.keys[index] = k;
            keep.values[index] = v;
        }
        if (prefix != null) {
            Shape shape = new Shape(rows, kvHeads, prefix.length(), hd);
            // Results belong to the first operand's manager: move the broadcast views into this layer's scope,
            // or every batch would leave its concatenated keys behind in the long-lived cache.
            NDArray prefixKeys = prefix.keys[index].broadcast(shape);
            NDArray prefixValues = prefix.values[index].broadcast(shape);
            prefixKeys.attach(x.getManager());
            prefixValues.attach(x.getManager());
            k = NDArrays.concat(new NDList(prefixKeys, k), 2);
            v = NDArrays.concat(new NDList(prefixValues, v), 2);
        }
        long keysLength = k.getShape().get(2);

        // Query head j reads KV head j / groups: fold the groups into the row axis instead of repeating K and V.
        NDArray qGrouped = q.mul(attentionScale).reshape(rows, kvHeads, (long) groups * width, hd);
        NDArray scores = qGrouped.matMul(k.transpose(0, 1, 3, 2)).reshape(rows, kvHeads, groups, width, keysLength);
        NDArray probs = toFloat32(scores).add(mask).softmax(-1).toType(w.dtype, false)
                .reshape(rows, kvHeads, (long) groups * width, keysLength);
        NDArray attn = probs.matMul(v).reshape(rows, heads, width, hd).transpose(0, 2, 1, 3)
                .reshape(rows, width, (long) heads * hd);
        NDArray afterAttention = x.add(plus(linear(attn, l.oProj(), null), deltas == null ? null : deltas.o(index, attn)));

        NDArray h2 = rmsNorm(afterAttention, l.postAttentionLayernorm());
        NDArray gateUp = plus(linear(h2, l.gateUpProj(), null), deltas == null ? null : deltas.gateUp(index, h2));
        int inter = c.intermediateSize();
        NDArray gate = gateUp.get(new NDIndex("..., :" + inter));
        NDArray up = gateUp.get(new NDIndex("..., " + inter + ":"));
        NDArray act = gate.mul(Activation.sigmoid(gate)).mul(up);
        return afterAttention.add(plus(linear(act, l.downProj(), null), deltas == null ? null : deltas.down(index, act)));
    }

    /** x * rsqrt(mean(x^2) + eps) in float32, then cast back and scaled by the weight (HF's order). */
    NDArray rmsNorm(NDArray x, NDArray weight) {
        NDArray xf = toFloat32(x);
        NDArray variance = xf.square().mean(new int[] {-1}, true);
        NDArray normed = xf.div(variance.add(eps).sqrt()).toType(x.getDataType(), false);
        return normed.mul(weight);
    }

    private static NDArray rotate(NDArray x, NDArray cos, NDArray sinSigned) {
        long half = x.getShape().get(3) / 2;
        NDArray swapped = NDArrays.concat(new NDList(x.get(new NDIndex("..., " + half + ":")),
                x.get(new NDIndex("..., :" + half))), -1);
        return x.mul(cos).add(swapped.mul(sinSigned));
    }

    private static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return x.getNDArrayInternal().linear(x, weight, bias).singletonOrThrow();
    }

    /** Row lookup: the result belongs to the manager of {@code ids}, not to the long-lived table. */
    private static NDArray embedding(NDArray ids, NDArray table) {
        return ids.getNDArrayInternal().embedding(ids, table, ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow();
    }

    private static NDArray plus(NDArray base, NDArray delta) {
        return delta == null ? base : base.add(delta);
    }

    private static NDArray toFloat32(NDArray x) {
        return x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
    }

    /** Additive mask [width, start + width]: query t (at position start + t) sees keys 0..start + t. */
    static float[] causalMask(int start, int width) {
        int keys = start + width;
        float[] mask = new float[width * keys];
        for (int t = 0; t < width; t++) {
            for (int s = start + t + 1; s < keys; s++) {
                mask[t * keys + s] = Float.NEGATIVE_INFINITY;
            }
        }
        return mask;
    }

    private static long[] toLong(int[] tokens) {
        long[] out = new long[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            out[i] = tokens[i];
        }
        return out;
    }
}
