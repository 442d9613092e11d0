package io.slmclassifier.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The decoder shape from a Hugging Face {@code config.json}. One record covers the Qwen3, Qwen2 and Llama
 * families: they differ only in q/k norms, q/k/v biases and rope scaling.
 */
public record ModelConfig(
        String architecture,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        double rmsNormEps,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        boolean qkNorm,
        int maxPositionEmbeddings,
        RopeScaling rope) {

    public static final String QWEN3 = "Qwen3ForCausalLM";
    public static final String QWEN2 = "Qwen2ForCausalLM";
    public static final String LLAMA = "LlamaForCausalLM";
    public static final Set<String> SUPPORTED = Set.of(QWEN3, QWEN2, LLAMA);

    /**
     * Rotary settings. {@code type} is "default" or "llama3"; the llama3 fields are ignored otherwise.
     */
    public record RopeScaling(
            String type,
            double theta,
            double factor,
            double lowFreqFactor,
            double highFreqFactor,
            int originalMaxPositionEmbeddings) {}

    public static ModelConfig load(Path modelDir) throws IOException {
        Path file = modelDir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException("No config.json in model directory " + modelDir);
        }
        return parse(new ObjectMapper().readTree(file.toFile()), file.toString());
    }

    public static ModelConfig parse(JsonNode json, String source) {
        String architecture = architectureOf(json, source);
        int hidden = required(json, "hidden_size", source);
        int heads = required(json, "num_attention_heads", source);
        int kvHeads = json.path("num_key_value_heads").asInt(heads);
        int headDim = json.hasNonNull("head_dim") ? json.get("head_dim").asInt() : hidden / heads;
        if (heads % kvHeads != 0) {
            throw new ModelLoadException(source + ": num_attention_heads (" + heads
                    + ") is not a multiple of num_key_value_heads (" + kvHeads + ")");
        }
        String act = json.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new ModelLoadException(source + ": hidden_act '" + act + "' is not supported (only silu)");
        }
        boolean attentionBias = architecture.equals(QWEN2) || json.path("attention_bias").asBoolean(false);
        return new ModelConfig(
                architecture,
                required(json, "vocab_size", source),
                hidden,
                required(json, "intermediate_size", source),
                required(json, "num_hidden_layers", source),
                heads,
                kvHeads,
                headDim,
                json.path("rms_norm_eps").asDouble(1e-6),
                json.path("tie_word_embeddings").asBoolean(false),
                attentionBias,
                architecture.equals(QWEN3),
                json.path("max_position_embeddings").asInt(32768),
                ropeOf(json, source));
    }

    private static String architectureOf(JsonNode json, String source) {
        JsonNode archs = json.path("architectures");
        if (!archs.isArray() || archs.isEmpty()) {
            throw new ModelLoadException(source + ": no 'architectures' entry; supported: " + SUPPORTED);
        }
        String architecture = archs.get(0).asText();
        if (!SUPPORTED.contains(architecture)) {
            throw new ModelLoadException(source + ": unsupported architecture '" + architecture
                    + "'; supported: " + List.copyOf(SUPPORTED));
        }
        return architecture;
    }

    /**
     * transformers 5 writes {@code rope_parameters} (theta inside); 4.x and the published checkpoints use a
     * top-level {@code rope_theta} and an optional {@code rope_scaling}. Both are read.
     */
    private static RopeScaling ropeOf(JsonNode json, String source) {
        JsonNode params = json.hasNonNull("rope_parameters") ? json.get("rope_parameters") : json.path("rope_scaling");
        double theta = params.hasNonNull("rope_theta") ? params.get("rope_theta").asDouble()
                : json.path("rope_theta").asDouble(10000.0);
        String type = params.path("rope_type").asText(params.path("type").asText("default"));
        if (!type.equals("default") && !type.equals("llama3")) {
            throw new ModelLoadException(source + ": rope type '" + type + "' is not supported (default, llama3)");
        }
        return new RopeScaling(type, theta,
                params.path("factor").asDouble(1.0),
                params.path("low_freq_factor").asDouble(1.0),
                params.path("high_freq_factor").asDouble(4.0),
                params.path("original_max_position_embeddings").asInt(8192));
    }

    private static int required(JsonNode json, String key, String source) {
        if (!json.hasNonNull(key)) {
            throw new ModelLoadException(source + ": missing '" + key + "'");
        }
        return json.get(key).asInt();
    }

    public int kvGroups() {
        return numAttentionHeads / numKeyValueHeads;
    }

    public int qSize() {
        return numAttentionHeads * headDim;
    }

    public int kvSize() {
        return numKeyValueHeads * headDim;
    }
}
