package io.slmclassifier.model;

import static io.slmclassifier.model.TorchProgram.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The Qwen3 / Qwen2 / Llama decoder, run as ONE TorchScript program per forward pass ({@code decoder.py} beside
 * this class, written to be read beside transformers' modeling_qwen3.py). The program gets the weights once, by
 * the checkpoint's names, and keeps them in its compute dtype (bfloat16 on a GPU, float32 on CPU); Java keeps
 * tokenization, batching, the prefix cache's lifetime and which adapter a pass applies, and only float32 results
 * cross back.
 *
 * <p>Sequences are right-padded: with a causal mask a real token only ever sees earlier, real tokens, so no
 * padding mask is needed and padded rows are never read.
 */
public final class Decoder implements AutoCloseable {

    /**
     * LoRA on the seven projections, y = W x + scale * B (A dropout(x)), applied as it is: the program builds its
     * per-layer form from these tensors in every pass, on the gradient path to each (training). An adapter that
     * only serves is {@link #install installed} instead, prepared once.
     */
    public interface ProjectionDeltas {
        /** A [r, in] and B [out, r] of each targeted module, under PEFT's names ({@link LoraAdapter#loraWeights}). */
        Map<String, NDArray> loraWeights();

        double loraScale();

        /** Dropout on the LoRA input; 0 outside training. */
        double activeDropout();
    }

    /**
     * An adapter prepared by the program for serving, once: on the model's device, in the compute dtype, q/k/v's and
     * gate/up's A matrices stacked with a block-diagonal B so that each fused projection's update is one pair of
     * products (decoder.py's {@code LayerAdapter}). It holds its own copy: the adapter it was made from may be closed.
     * Pass it as the {@link ProjectionDeltas} of a pass of the decoder that installed it; {@link #close} frees it once
     * no pass in flight uses it.
     */
    public final class InstalledAdapter implements ProjectionDeltas, AutoCloseable {
        private final IValue prepared;
        private final long bytes;
        private volatile boolean open = true;

        private InstalledAdapter(IValue prepared) {
            this.prepared = prepared;
            // Counted by the program: DJL has no data type for a bfloat16 tensor it did not make (UNKNOWN).
            IValue counted = program.call("adapter_bytes", prepared);
            this.bytes = counted.toLong();
            counted.close();
        }

        /** Bytes the program holds for it on the device (B's zero blocks included). */
        public long bytes() {
            return bytes;
        }

        /**
         * What the program holds for it, A and B of each fused projection per layer, as arrays owned by
         * {@code owner} (views of the program's tensors; a bfloat16 one has DJL's data type UNKNOWN).
         */
        public List<NDArray> tensors(NDManager owner) {
            IValue result = program.call("adapter_tensors", prepared);
            NDArray[] arrays = result.toTensorArray((PtNDManager) owner);
            result.close();
            return List.of(arrays);
        }

        public boolean isInstalled() {
            return open;
        }

        private Decoder owner() {
            return Decoder.this;
        }

        private IValue prepared() {
            if (!open) {
                throw new IllegalStateException("this adapter was removed from the decoder");
            }
            return prepared;
        }

        @Override
        public Map<String, NDArray> loraWeights() {
            return Map.of();
        }

        @Override
        public double loraScale() {
            return 0;
        }

        @Override
        public double activeDropout() {
            return 0;
        }

        @Override
        public synchronized void close() {
            if (open) {
                open = false;
                installed.remove(this);
                program.release(prepared);
            }
        }
    }

    /**
     * How rows attend to a cached prefix at inference: "merged" (default: the prefix once for all rows, merged with
     * each row's own part by log-sum-exp, no copy of the prefix per row) or "broadcast" (the prefix broadcast to
     * every row and one masked attention, as training does). Both are exact; merged measured 1.5-1.9x faster on
     * the H200 and 2x on CPU (docs/benchmarks.md), the switch is there to measure them again.
     */
    private static final String PREFIX_ATTENTION = System.getProperty("slm.prefix.attention", "merged");

    /**
     * Steps the program may compute in float32 instead of the compute dtype: none by default, every step in
     * bfloat16 as transformers computes. Measured against transformers' float32 on 512 texts (random Qwen3-0.6B,
     * H100, tools/bf16_fidelity.py, docs/benchmarks.md): none agreed on the top class as often as transformers'
     * bfloat16 (97.1%; with the final norm x 6, 96.9% against 97.1%, one text) with a lower mean |dp|; all three
     * agreed on 97.7% with a mean |dp| 11-13% lower, and cost 17% of the throughput at batch 1,024 and 0.8 ms at
     * batch 1; no step alone did better than none. {@code -Dslm.decoder.float32=all} (or a list of steps) for the
     * closer numbers. No effect in float32.
     *
     * @param finalNorm the final RMS norm of the picked positions (the head is float32 already)
     * @param prefixMerge the log-sum-exp merge of the prefix and own halves of the attention
     * @param rotary the rotary embedding of queries and keys
     */
    public record Precision(boolean finalNorm, boolean prefixMerge, boolean rotary) {
        public static final Precision NONE = new Precision(false, false, false);

        /**
         * From {@code -Dslm.decoder.float32=final-norm,prefix-merge,rotary} (any of them; "all" for all; "none", the
         * default when unset).
         */
        public static Precision fromSystemProperties() {
            String setting = System.getProperty("slm.decoder.float32", "").trim();
            if (setting.isEmpty() || setting.equals("none")) {
                return NONE;
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

    /**
     * Which kernels a pass runs where more than one way is exact.
     *
     * <p>{@code separateQkvTokens}: from how many tokens in a pass (rows x width, or a packed pass's tokens) q, k and
     * v come from three products over row blocks of the fused weight instead of one. The fused product's q and k are
     * views with the other columns between their rows, which Qwen3's q and k norm kernel copies before it reads them:
     * a cost per token, where the two more products cost two launches per layer. Measured on an H100
     * (docs/benchmarks.md, step kernels): three products gained 2-4% at batch 256 and 1,024 after the prefix (6,700
     * and 27,000 tokens) and 6% with whole prompts, and cost 0.7 ms at one whole prompt (141 tokens).
     * {@code -Dslm.decoder.separate.qkv.tokens}: default 2,048; 0 always, -1 never.
     *
     * <p>{@code jointQk}: below that size, q and k of the one product are normed (Qwen3) and rotated as ONE block of
     * heads: three kernels per layer instead of six, where a small pass's time is the host launching its kernels.
     * {@code -Dslm.decoder.joint.qk}: default true.
     *
     * <p>{@code directCalls}: the products and the whole prompt's flash attention call their kernels directly (mm on
     * the weights' transposed views over the tokens as rows; flash in its own [batch, seq, heads, head_dim] layout)
     * instead of through {@code linear} and {@code scaled_dot_product_attention}, which wrap the same kernels in
     * transposes, reshapes and views: about a third of a small pass's operators, each a few microseconds of the
     * host's. Exact on the CPU ({@code KernelsTest}); not yet measured on a GPU, where it is meant to pay (the
     * flash call is CUDA's alone), so off by default until {@code tools/gpu-bench.sh direct-calls} has measured it.
     * {@code -Dslm.decoder.direct.calls}: default false.
     */
    public record Kernels(int separateQkvTokens, boolean jointQk, boolean directCalls) {
        public static final int DEFAULT_SEPARATE_QKV_TOKENS = 2048;

        public static Kernels fromSystemProperties() {
            int tokens = Integer.getInteger("slm.decoder.separate.qkv.tokens", DEFAULT_SEPARATE_QKV_TOKENS);
            if (tokens < -1) {
                throw new IllegalArgumentException("slm.decoder.separate.qkv.tokens takes a number of tokens, 0 (always) or -1 "
                        + "(never), not " + tokens);
            }
            return new Kernels(tokens, booleanProperty("slm.decoder.joint.qk", true),
                    booleanProperty("slm.decoder.direct.calls", false));
        }

        /** A switch, {@code byDefault} unless set; anything but true or false is refused. */
        private static boolean booleanProperty(String name, boolean byDefault) {
            String value = System.getProperty(name, Boolean.toString(byDefault)).trim();
            if (!value.equals("true") && !value.equals("false")) {
                throw new IllegalArgumentException(name + " takes true or false, not " + value);
            }
            return Boolean.parseBoolean(value);
        }
    }

    private final DecoderWeights w;
    private final ModelConfig c;
    private final DataType computeType;
    private final RotaryEmbedding rope;
    private final NDManager manager;
    private final TorchProgram program;
    private final NDArray none;
    /** The program's empty adapter list, for passes without LoRA. */
    private final IValue noAdapter;
    /** Adapters installed and not yet closed: freed before the program that made them. */
    private final Set<InstalledAdapter> installed = ConcurrentHashMap.newKeySet();

    /**
     * @param computeType the dtype inside the program: FLOAT32, FLOAT16 or BFLOAT16 (GPU); the weights may be
     *     stored in another (the engine cannot create BF16 arrays, the program can)
     */
    public Decoder(DecoderWeights weights, DataType computeType) {
        this(weights, computeType, Precision.fromSystemProperties());
    }

    /**
     * @param precision steps computed in float32 although the compute dtype is 16 bits; ignored in float32, where
     *     they would change nothing but add casts to the program's graph
     */
    public Decoder(DecoderWeights weights, DataType computeType, Precision precision) {
        this(weights, computeType, precision, Kernels.fromSystemProperties());
    }

    public Decoder(DecoderWeights weights, DataType computeType, Precision precision, Kernels kernels) {
        Precision steps = computeType == DataType.FLOAT32 ? Precision.NONE : precision;
        this.w = weights;
        this.c = weights.config;
        this.computeType = computeType;
        this.rope = new RotaryEmbedding(c);
        this.manager = weights.manager.newSubManager();
        this.none = manager.zeros(new Shape(0), DataType.FLOAT32);
        this.program = TorchProgram.load(manager, Decoder.class, "decoder.py", List.of("model"));
        // The checkpoint's names, with q/k/v and gate/up fused as DecoderWeights holds them.
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("model.embed_tokens.weight", w.embedTokens);
        tensors.put("model.norm.weight", w.norm);
        for (int i = 0; i < w.layers.length; i++) {
            DecoderWeights.Layer l = w.layers[i];
            String layer = "model.layers." + i + ".";
            tensors.put(layer + "input_layernorm.weight", l.inputLayernorm());
            tensors.put(layer + "self_attn.qkv_proj.weight", l.qkvProj());
            if (l.qkvBias() != null) {
                tensors.put(layer + "self_attn.qkv_proj.bias", l.qkvBias());
            }
            if (l.qNorm() != null) {
                tensors.put(layer + "self_attn.q_norm.weight", l.qNorm());
                tensors.put(layer + "self_attn.k_norm.weight", l.kNorm());
            }
            tensors.put(layer + "self_attn.o_proj.weight", l.oProj());
            tensors.put(layer + "post_attention_layernorm.weight", l.postAttentionLayernorm());
            tensors.put(layer + "mlp.gate_up_proj.weight", l.gateUpProj());
            tensors.put(layer + "mlp.down_proj.weight", l.downProj());
        }
        // The program's own copies (bfloat16) must be ordinary tensors: made under the engine's inference guard they
        // could never take part in training. Nothing here requires gradients, so nothing is recorded.
        withGradMode(() -> program.run("setup", TorchProgram.dict(tensors), IValue.from(c.numHiddenLayers()),
                IValue.from(c.hiddenSize()), IValue.from(c.intermediateSize()), IValue.from(c.numAttentionHeads()),
                IValue.from(c.numKeyValueHeads()), IValue.from(c.headDim()), IValue.from(c.rmsNormEps()),
                IValue.from(torchDtype(computeType)), IValue.from(steps.finalNorm()),
                IValue.from(steps.prefixMerge()), IValue.from(steps.rotary()),
                IValue.from(kernels.separateQkvTokens()), IValue.from(kernels.jointQk()),
                IValue.from(kernels.directCalls())));
        this.noAdapter = program.hold(program.call("no_adapter"));
    }

    private static void withGradMode(Runnable call) {
        boolean recording = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try {
            call.run();
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
     * Prepares an adapter for serving by this decoder, once (see {@link InstalledAdapter}); the adapter itself
     * may be closed afterwards.
     */
    public InstalledAdapter install(ProjectionDeltas adapter) {
        IValue[] prepared = new IValue[1];
        // Detached inside the program, and made outside the inference guard as the weights are (see the
        // constructor), so that a pass recording gradients may read it too.
        withGradMode(() -> prepared[0] = program.call("serving_adapter", TorchProgram.dict(adapter.loraWeights()),
                IValue.from(adapter.loraScale())));
        InstalledAdapter version = new InstalledAdapter(program.hold(prepared[0]));
        installed.add(version);
        return version;
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
                    rope(scope, 0, tokens.length, true), adapter(deltas));
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
        boolean merged = canMergePrefix() && !PREFIX_ATTENTION.equals("broadcast");
        return hiddenStates(batch, program.call("forward", tensor(batch.create(ids)), tensor(batch.create(last)),
                rope(batch, start, width, false), rope(batch, start, width, true),
                tensor(prefix == null ? none : prefix.keys()), tensor(prefix == null ? none : prefix.values()),
                adapter(deltas), IValue.from(merged)));
    }

    /**
     * Whether {@link #lastHiddenStatesPacked} can run on this thread: where the merged prefix attention it uses can.
     */
    public boolean canPackRows() {
        return canMergePrefix();
    }

    /** The merged prefix attention is exact but carries no gradient, and the GPU's flash kernels need 16 bits. */
    private boolean canMergePrefix() {
        return !JniUtils.isGradMode() && (!w.manager.getDevice().isGpu() || computeType != DataType.FLOAT32);
    }

    /** A pass's result as an array of {@code batch}; the program's value freed. */
    private static NDArray hiddenStates(NDManager batch, IValue result) {
        NDArray hidden = result.toTensor((PtNDManager) batch);
        result.close();
        return hidden;
    }

    /**
     * {@link #lastHiddenStates} for rows that continue a cached prefix, packed into ONE sequence of their real
     * tokens instead of right-padded to the longest: every projection, norm and MLP step reads only real tokens,
     * and the attention keeps each row to its own tokens (decoder.py's {@code PackedRows}). The same numbers as
     * the padded pass, where {@link #canPackRows()}.
     *
     * @param rows each row's token ids after the prefix, its real length (at least one token)
     * @param prefix keys/values of positions before these tokens, shared by every row
     */
    public NDArray lastHiddenStatesPacked(NDManager batch, List<int[]> rows, KvCache prefix, ProjectionDeltas deltas) {
        if (!canPackRows()) {
            throw new IllegalStateException("packed rows need inference, and 16 bits on a GPU");
        }
        int count = rows.size();
        int[] starts = new int[count + 1];
        int longest = 0;
        for (int b = 0; b < count; b++) {
            int length = rows.get(b).length;
            if (length == 0) {
                throw new IllegalArgumentException("row " + b + " has no token after the prefix");
            }
            starts[b + 1] = starts[b] + length;
            longest = Math.max(longest, length);
        }
        int total = starts[count];
        long[] ids = new long[total];
        long[] placeInRow = new long[total];
        long[] last = new long[count];
        for (int b = 0; b < count; b++) {
            int[] tokens = rows.get(b);
            for (int j = 0; j < tokens.length; j++) {
                ids[starts[b] + j] = tokens[j];
                placeInRow[starts[b] + j] = j;
            }
            last[b] = starts[b + 1] - 1;
        }
        // Token j of a row sits at position prefix + j: the tables of the longest row's positions hold every row's,
        // and the program picks each token's row of them by its place.
        int start = prefix.length();
        return hiddenStates(batch, program.call("forward_packed", tensor(batch.create(new long[][] {ids})),
                tensor(batch.create(last)), rope(batch, start, longest, false), rope(batch, start, longest, true),
                tensor(batch.create(placeInRow)), tensor(prefix.keys()), tensor(prefix.values()), adapter(deltas),
                tensor(batch.create(starts)), IValue.from(longest)));
    }

    private IValue rope(NDManager scope, int start, int count, boolean sine) {
        float[] table = sine ? rope.sinSigned(start, count) : rope.cos(start, count);
        return tensor(scope.create(table, new Shape(count, c.headDim())));
    }

    /**
     * The program's per-layer adapter for one pass: an installed one as prepared, or one built for this pass from
     * the tensors as they are (closed by the call, which keeps what it needs), or none.
     */
    private IValue adapter(ProjectionDeltas deltas) {
        if (deltas == null) {
            return noAdapter;
        }
        if (deltas instanceof InstalledAdapter prepared) {
            if (prepared.owner() != this) {
                throw new IllegalArgumentException("the adapter was installed in another decoder");
            }
            return prepared.prepared();
        }
        return program.call("training_adapter", TorchProgram.dict(deltas.loraWeights()),
                IValue.from(deltas.loraScale()), IValue.from(deltas.activeDropout()));
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
        for (InstalledAdapter adapter : List.copyOf(installed)) {
            adapter.close();
        }
        program.release(noAdapter);
        program.close();
        manager.close();
    }
}
