package io.slmclassifier.classify;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.apache.commons.text.similarity.LevenshteinDistance;

/**
 * A classification task, the user's contract (YAML; JSON is valid YAML):
 *
 * <pre>
 * name: radr-intents
 * labels: [disconfirm, order, provide_info, ...]
 * prompt: "\nYou classify a sentence ...\n\nSentence: {text}\n\nAnswer:\n"
 * chat_template: true        # one user turn through the model's chat template, thinking off
 * label_tokens: first_token  # or letters: A, B, C... as proxy tokens
 * max_text_tokens: 256       # the text is truncated, never the instructions
 * </pre>
 */
@JsonIgnoreProperties(ignoreUnknown = false)
public record Task(
        @JsonProperty("name") String name,
        @JsonProperty("labels") List<String> labels,
        @JsonProperty("prompt") String prompt,
        @JsonProperty("chat_template") Boolean chatTemplate,
        @JsonProperty("label_tokens") LabelTokens labelTokens,
        @JsonProperty("max_text_tokens") Integer maxTextTokens) {

    public static final String TEXT_SLOT = "{text}";

    public enum LabelTokens {
        @JsonProperty("first_token") FIRST_TOKEN,
        @JsonProperty("letters") LETTERS
    }

    public Task {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("task: 'name' is required");
        }
        if (labels == null || labels.size() < 2) {
            throw new IllegalArgumentException("task " + name + ": 'labels' needs at least two labels");
        }
        Set<String> seen = new HashSet<>();
        for (String label : labels) {
            if (label == null || label.isEmpty()) {
                throw new IllegalArgumentException("task " + name + ": empty label");
            }
            if (!seen.add(label)) {
                throw new IllegalArgumentException("task " + name + ": label '" + label + "' appears twice");
            }
        }
        if (prompt == null || !prompt.contains(TEXT_SLOT)) {
            throw new IllegalArgumentException("task " + name + ": 'prompt' must contain " + TEXT_SLOT);
        }
        if (prompt.indexOf(TEXT_SLOT) != prompt.lastIndexOf(TEXT_SLOT)) {
            throw new IllegalArgumentException("task " + name + ": 'prompt' must contain " + TEXT_SLOT + " exactly once");
        }
        chatTemplate = chatTemplate == null ? Boolean.TRUE : chatTemplate;
        labelTokens = labelTokens == null ? LabelTokens.FIRST_TOKEN : labelTokens;
        maxTextTokens = maxTextTokens == null ? 256 : maxTextTokens;
        if (maxTextTokens < 1) {
            throw new IllegalArgumentException("task " + name + ": max_text_tokens must be positive");
        }
        if (labelTokens == LabelTokens.LETTERS && labels.size() > 26) {
            throw new IllegalArgumentException("task " + name + ": letters allow at most 26 labels");
        }
        labels = List.copyOf(labels);
    }

    public static Task load(Path file) throws IOException {
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("task file not found: " + file);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** The keys a task file may have, in the order the documentation gives them. */
    static final List<String> KEYS = List.of("name", "labels", "prompt", "chat_template", "label_tokens", "max_text_tokens");
    /** Edit distance up to 2 (a slip of one or two characters), -1 beyond. */
    private static final LevenshteinDistance NEAR = new LevenshteinDistance(2);

    public static Task parse(String yaml) {
        ObjectMapper mapper = new ObjectMapper(new YAMLFactory())
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        try {
            // Unknown keys first: a misspelt key would otherwise surface as its correct twin missing.
            com.fasterxml.jackson.databind.JsonNode tree = mapper.readTree(yaml);
            // All of them in one message: fixing one slip only to be told of the next wastes a round trip each.
            if (tree != null && tree.isObject()) {
                List<String> unknown = new java.util.ArrayList<>();
                for (java.util.Iterator<String> it = tree.fieldNames(); it.hasNext(); ) {
                    String key = it.next();
                    if (!KEYS.contains(key)) {
                        String near = KEYS.stream().filter(k -> NEAR.apply(k, key) >= 0).findFirst()
                                .map(k -> " (did you mean '" + k + "'?)").orElse("");
                        unknown.add("'" + key + "'" + near);
                    }
                }
                if (!unknown.isEmpty()) {
                    throw new IllegalArgumentException("invalid task: unknown key" + (unknown.size() == 1 ? " " : "s ")
                            + String.join(", ", unknown) + "; a task has " + String.join(", ", KEYS));
                }
            }
            return mapper.treeToValue(tree, Task.class);
        } catch (com.fasterxml.jackson.databind.exc.ValueInstantiationException e) {
            throw new IllegalArgumentException(e.getCause() != null ? e.getCause().getMessage() : e.getMessage(), e);
        } catch (com.fasterxml.jackson.databind.JsonMappingException e) {
            String field = e.getPath().isEmpty() ? "" : "field '" + e.getPath().get(0).getFieldName() + "': ";
            throw new IllegalArgumentException("invalid task: " + field + e.getOriginalMessage(), e);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IllegalArgumentException("invalid task: " + e.getOriginalMessage(), e);
        }
    }

    public boolean useChatTemplate() {
        return chatTemplate;
    }

    /** The strings whose first token stands for each class: the bare labels, or A, B, C... */
    public List<String> classTokenStrings() {
        if (labelTokens == LabelTokens.LETTERS) {
            return java.util.stream.IntStream.range(0, labels.size()).mapToObj(i -> String.valueOf((char) ('A' + i))).toList();
        }
        return labels;
    }

    /** The prompt with the text put in its slot. */
    public String fill(String text) {
        return prompt.replace(TEXT_SLOT, text);
    }

    /** A stable fingerprint of everything that changes the model's input or output, for caches and adapters. */
    public String hash() {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            String canonical = String.join("\u0000", labels) + "\u0001" + prompt + "\u0001" + chatTemplate + "\u0001"
                    + labelTokens + "\u0001" + maxTextTokens;
            return HexFormat.of().formatHex(sha.digest(canonical.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public int indexOf(String label) {
        return labels.indexOf(label);
    }
}
