package io.slmclassifier.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The LoRA settings, read from and written as PEFT's {@code adapter_config.json}. The scale applied to B·A is
 * alpha / r, or alpha / sqrt(r) with rsLoRA.
 */
public record LoraConfig(int r, double alpha, double dropout, List<String> targetModules, boolean useRslora,
        String baseModel) {

    /** The seven projections of a decoder layer, in the order the decoder uses them. */
    public static final List<String> MODULES =
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    public LoraConfig {
        if (r < 1) {
            throw new IllegalArgumentException("LoRA rank r must be positive");
        }
        if (dropout < 0 || dropout >= 1) {
            throw new IllegalArgumentException("LoRA dropout must be in [0, 1)");
        }
        for (String m : targetModules) {
            if (!MODULES.contains(m)) {
                throw new IllegalArgumentException("LoRA target '" + m + "' is not one of " + MODULES);
            }
        }
        targetModules = List.copyOf(targetModules);
    }

    /** The article's settings: r 16, alpha 32, dropout 0.05 on all seven projections. */
    public static LoraConfig defaults(String baseModel) {
        return new LoraConfig(16, 32, 0.05, MODULES, false, baseModel);
    }

    public double scale() {
        return useRslora ? alpha / Math.sqrt(r) : alpha / r;
    }

    public boolean targets(String module) {
        return targetModules.contains(module);
    }

    public static LoraConfig read(Path adapterDir) throws IOException {
        Path file = adapterDir.resolve("adapter_config.json");
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException("No adapter_config.json in adapter directory " + adapterDir);
        }
        JsonNode json = new ObjectMapper().readTree(file.toFile());
        String type = json.path("peft_type").asText("LORA");
        if (!type.equals("LORA")) {
            throw new ModelLoadException(file + ": peft_type " + type + " is not supported (LORA only)");
        }
        for (String unsupported : new String[] {"use_dora", "fan_in_fan_out"}) {
            if (json.path(unsupported).asBoolean(false)) {
                throw new ModelLoadException(file + ": " + unsupported + " is not supported");
            }
        }
        if (!json.path("bias").asText("none").equals("none")) {
            throw new ModelLoadException(file + ": bias '" + json.path("bias").asText() + "' is not supported (none)");
        }
        if (json.path("rank_pattern").size() > 0 || json.path("alpha_pattern").size() > 0) {
            throw new ModelLoadException(file + ": per-module rank_pattern/alpha_pattern is not supported");
        }
        return new LoraConfig(json.path("r").asInt(8), json.path("lora_alpha").asDouble(8),
                json.path("lora_dropout").asDouble(0), targets(json.path("target_modules"), file),
                json.path("use_rslora").asBoolean(false), json.path("base_model_name_or_path").asText(""));
    }

    /** PEFT accepts a list of module names or one regular expression matched against full module paths. */
    private static List<String> targets(JsonNode node, Path file) {
        List<String> out = new ArrayList<>();
        if (node.isArray()) {
            node.forEach(n -> out.add(n.asText()));
            for (String m : out) {
                if (!MODULES.contains(m)) {
                    throw new ModelLoadException(file + ": target module '" + m + "' does not exist in this model; "
                            + "supported: " + MODULES);
                }
            }
        } else if (node.isTextual()) {
            Pattern regex = Pattern.compile(node.asText());
            for (String m : MODULES) {
                String path = (m.startsWith("gate") || m.startsWith("up") || m.startsWith("down")
                        ? "model.layers.0.mlp." : "model.layers.0.self_attn.") + m;
                if (regex.matcher(path).matches()) {
                    out.add(m);
                }
            }
        }
        if (out.isEmpty()) {
            throw new ModelLoadException(file + ": target_modules selects none of " + MODULES);
        }
        return out;
    }

    public void write(Path adapterDir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode node = json.createObjectNode();
        node.put("peft_type", "LORA");
        node.putNull("task_type");
        node.put("base_model_name_or_path", baseModel);
        node.put("r", r);
        if (alpha == Math.rint(alpha)) {
            node.put("lora_alpha", (int) alpha);
        } else {
            node.put("lora_alpha", alpha);
        }
        node.put("lora_dropout", dropout);
        var targets = node.putArray("target_modules");
        targetModules.forEach(targets::add);
        node.put("bias", "none");
        node.put("use_rslora", useRslora);
        node.put("use_dora", false);
        node.put("fan_in_fan_out", false);
        node.put("inference_mode", true);
        node.put("init_lora_weights", true);
        node.putNull("modules_to_save");
        node.putNull("layers_to_transform");
        node.putObject("rank_pattern");
        node.putObject("alpha_pattern");
        Files.createDirectories(adapterDir);
        json.writerWithDefaultPrettyPrinter().writeValue(adapterDir.resolve("adapter_config.json").toFile(), node);
    }
}
