package io.slmclassifier.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes a model directory of any {@code config.json} shape with random BF16 weights, for benchmarks that need
 * the real sizes but no download. Norm weights are 1, everything else N(0, 0.02) like transformers' init.
 */
public final class RandomModel {
    private RandomModel() {}

    /** The published Qwen3-0.6B configuration. */
    public static final String QWEN3_0_6B = """
            {"architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "bos_token_id": 151643,
             "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024,
             "intermediate_size": 3072, "max_position_embeddings": 40960, "model_type": "qwen3",
             "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
             "rope_scaling": null, "rope_theta": 1000000, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
             "vocab_size": 151936}
            """;

    public static void write(JsonNode configJson, Path dir, long seed) throws IOException {
        Files.createDirectories(dir);
        ModelConfig c = ModelConfig.parse(configJson, "config");
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), configJson);
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        long d = c.hiddenSize();
        writer.add("model.embed_tokens.weight", "BF16", new long[] {c.vocabSize(), d}, normal(seed));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            long s = seed + 100L * (i + 1);
            writer.add(p + "input_layernorm.weight", "BF16", new long[] {d}, ones());
            writer.add(p + "self_attn.q_proj.weight", "BF16", new long[] {c.qSize(), d}, normal(s + 1));
            writer.add(p + "self_attn.k_proj.weight", "BF16", new long[] {c.kvSize(), d}, normal(s + 2));
            writer.add(p + "self_attn.v_proj.weight", "BF16", new long[] {c.kvSize(), d}, normal(s + 3));
            if (c.attentionBias()) {
                writer.add(p + "self_attn.q_proj.bias", "BF16", new long[] {c.qSize()}, normal(s + 4));
                writer.add(p + "self_attn.k_proj.bias", "BF16", new long[] {c.kvSize()}, normal(s + 5));
                writer.add(p + "self_attn.v_proj.bias", "BF16", new long[] {c.kvSize()}, normal(s + 6));
            }
            if (c.qkNorm()) {
                writer.add(p + "self_attn.q_norm.weight", "BF16", new long[] {c.headDim()}, ones());
                writer.add(p + "self_attn.k_norm.weight", "BF16", new long[] {c.headDim()}, ones());
            }
            writer.add(p + "self_attn.o_proj.weight", "BF16", new long[] {d, c.qSize()}, normal(s + 7));
            writer.add(p + "post_attention_layernorm.weight", "BF16", new long[] {d}, ones());
            writer.add(p + "mlp.gate_proj.weight", "BF16", new long[] {c.intermediateSize(), d}, normal(s + 8));
            writer.add(p + "mlp.up_proj.weight", "BF16", new long[] {c.intermediateSize(), d}, normal(s + 9));
            writer.add(p + "mlp.down_proj.weight", "BF16", new long[] {d, c.intermediateSize()}, normal(s + 10));
        }
        writer.add("model.norm.weight", "BF16", new long[] {d}, ones());
        if (!c.tieWordEmbeddings()) {
            writer.add("lm_head.weight", "BF16", new long[] {c.vocabSize(), d}, normal(seed + 7));
        }
        writer.write(dir.resolve("model.safetensors"));
    }

    private static SafetensorsWriter.Values ones() {
        return (offset, into, count) -> java.util.Arrays.fill(into, 0, count, 1f);
    }

    /** Deterministic per position, so chunking does not change the values. */
    private static SafetensorsWriter.Values normal(long seed) {
        return (offset, into, count) -> {
            SplittableRandom random = new SplittableRandom(seed * 1_000_003L + offset);
            for (int i = 0; i < count; i++) {
                // Sum of uniforms: cheap and close enough to a normal for benchmark weights.
                double u = random.nextDouble() + random.nextDouble() + random.nextDouble() - 1.5;
                into[i] = (float) (u * 2.0 * 0.02);
            }
        };
    }
}
