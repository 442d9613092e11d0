package io.slmclassifier.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * The decoder's tensors, named after the checkpoint keys. q/k/v and gate/up are stored fused (rows of q, then
 * k, then v; rows of gate, then up) so each is one matrix product per layer: the cost of launching each operation
 * dominates small batches.
 */
public final class DecoderWeights implements AutoCloseable {

    /** One decoder layer. {@code qkvBias} is null without attention bias; {@code qNorm}/{@code kNorm} are null outside Qwen3. */
    public record Layer(
            NDArray inputLayernorm,
            NDArray qkvProj,
            NDArray qkvBias,
            NDArray qNorm,
            NDArray kNorm,
            NDArray oProj,
            NDArray postAttentionLayernorm,
            NDArray gateUpProj,
            NDArray downProj) {}

    public final ModelConfig config;
    public final NDManager manager;
    public final DataType dtype;
    public final NDArray embedTokens;
    /** The same array as {@link #embedTokens} when the embeddings are tied. */
    public final NDArray lmHead;
    public final NDArray norm;
    public final Layer[] layers;

    private DecoderWeights(ModelConfig config, NDManager manager, DataType dtype, NDArray embedTokens,
            NDArray lmHead, NDArray norm, Layer[] layers) {
        this.config = config;
        this.manager = manager;
        this.dtype = dtype;
        this.embedTokens = embedTokens;
        this.lmHead = lmHead;
        this.norm = norm;
        this.layers = layers;
    }

    /**
     * Loads every tensor, checking its shape against the config. Weights are converted to float32 in Java
     * (the engine cannot read BF16), then moved to {@code device} in {@code dtype} (FP16 for GPU inference).
     */
    public static DecoderWeights load(Checkpoint ckpt, ModelConfig c, NDManager parent, Device device, DataType dtype)
            throws IOException {
        NDManager manager = parent.newSubManager(device);
        try (Loader loader = new Loader(ckpt, manager, device, dtype)) {
            long d = c.hiddenSize();
            NDArray embed = loader.load(new long[] {c.vocabSize(), d}, "model.embed_tokens.weight");
            NDArray lmHead = embed;
            if (!c.tieWordEmbeddings()) {
                if (!ckpt.has("lm_head.weight")) {
                    throw new ModelLoadException("config.json says tie_word_embeddings=false but the checkpoint in "
                            + ckpt.dir() + " has no lm_head.weight");
                }
                lmHead = loader.load(new long[] {c.vocabSize(), d}, "lm_head.weight");
            }
            NDArray norm = loader.load(new long[] {d}, "model.norm.weight");
            Layer[] layers = new Layer[c.numHiddenLayers()];
            for (int i = 0; i < layers.length; i++) {
                String p = "model.layers." + i + ".";
                String attn = p + "self_attn.";
                layers[i] = new Layer(
                        loader.load(new long[] {d}, p + "input_layernorm.weight"),
                        loader.loadRows(new long[][] {{c.qSize(), d}, {c.kvSize(), d}, {c.kvSize(), d}},
                                attn + "q_proj.weight", attn + "k_proj.weight", attn + "v_proj.weight"),
                        c.attentionBias()
                                ? loader.loadRows(new long[][] {{c.qSize()}, {c.kvSize()}, {c.kvSize()}},
                                        attn + "q_proj.bias", attn + "k_proj.bias", attn + "v_proj.bias")
                                : null,
                        c.qkNorm() ? loader.load(new long[] {c.headDim()}, attn + "q_norm.weight") : null,
                        c.qkNorm() ? loader.load(new long[] {c.headDim()}, attn + "k_norm.weight") : null,
                        loader.load(new long[] {d, c.qSize()}, attn + "o_proj.weight"),
                        loader.load(new long[] {d}, p + "post_attention_layernorm.weight"),
                        loader.loadRows(new long[][] {{c.intermediateSize(), d}, {c.intermediateSize(), d}},
                                p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"),
                        loader.load(new long[] {d, c.intermediateSize()}, p + "mlp.down_proj.weight"));
            }
            return new DecoderWeights(c, manager, dtype, embed, lmHead, norm, layers);
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * Converts tensors through one reusable direct buffer. Each chunk is wrapped without copying, copied into
     * the engine-owned destination and closed, so loading peaks at the model plus one chunk.
     */
    private static final class Loader implements AutoCloseable {
        private static final int CHUNK_ELEMENTS = 8 << 20; // 32 MiB of float32

        private final Checkpoint ckpt;
        private final NDManager manager;
        private final Device device;
        private final DataType dtype;
        private final ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK_ELEMENTS * 4).order(ByteOrder.nativeOrder());

        Loader(Checkpoint ckpt, NDManager manager, Device device, DataType dtype) {
            this.ckpt = ckpt;
            this.manager = manager;
            this.device = device;
            this.dtype = dtype;
        }

        NDArray load(long[] shape, String name) throws IOException {
            return loadRows(new long[][] {shape}, name);
        }

        /** Loads tensors that share their trailing dimensions and stacks them along the first axis. */
        NDArray loadRows(long[][] shapes, String... names) throws IOException {
            long rows = 0;
            for (int i = 0; i < names.length; i++) {
                ckpt.expect(names[i], shapes[i]);
                rows += shapes[i][0];
            }
            long[] fusedShape = shapes[0].clone();
            fusedShape[0] = rows;
            try (NDManager cpu = manager.newSubManager(Device.cpu())) {
                NDArray fused = cpu.create(new Shape(fusedShape), DataType.FLOAT32);
                NDArray flat = fused.reshape(-1);
                long offset = 0;
                for (String name : names) {
                    long total = ckpt.info(name).elements();
                    for (long from = 0; from < total; from += CHUNK_ELEMENTS) {
                        int count = (int) Math.min(CHUNK_ELEMENTS, total - from);
                        chunk.clear();
                        FloatBuffer floats = chunk.asFloatBuffer();
                        ckpt.readFloat32(name, from, count, floats);
                        ByteBuffer bytes = chunk.slice(0, count * 4).order(ByteOrder.nativeOrder());
                        try (NDArray part = cpu.create(bytes, new Shape(count), DataType.FLOAT32)) {
                            flat.set(new NDIndex((offset + from) + ":" + (offset + from + count)), part);
                        }
                    }
                    offset += total;
                }
                NDArray result = fused.toDevice(device, false).toType(dtype, false);
                result.attach(manager); // when no conversion happened this is `fused` itself: kept, not copied
                return result;
            }
        }

        @Override
        public void close() {
            NativeBuffers.release(chunk);
        }
    }

    /**
     * The same model with other layer matrices (a merged adapter): embeddings, norms and head are shared, the
     * given layers belong to {@code owner}, and closing the result closes only {@code owner}.
     */
    public DecoderWeights withLayers(Layer[] replaced, NDManager owner) {
        return new DecoderWeights(config, owner, dtype, embedTokens, lmHead, norm, replaced);
    }

    @Override
    public void close() {
        manager.close();
    }
}
