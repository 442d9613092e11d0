package io.slmclassifier.classify;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A Hugging Face chat template (Jinja), rendered as Python transformers renders it:
 * {@code tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
 * enable_thinking=False)}, byte for byte.
 *
 * <p>The engine is jinjava, set up like transformers' Jinja environment (trim_blocks, lstrip_blocks, loop
 * controls, its {@code tojson}, {@code raise_exception} and {@code strftime_now}); {@link JinjaRewriter}
 * turns the Python-only syntax jinjava cannot parse into equivalent jinjava syntax, and {@link PythonJinja}
 * supplies Python's string methods and value printing. Instances are immutable and thread-safe.
 */
public final class ChatTemplate {

    private static final Jinjava ENGINE = PythonJinja.create();
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String source;
    private final String prepared;
    private final String bosToken;
    private final String eosToken;

    private ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = source;
        this.prepared = JinjaRewriter.rewrite(source);
        this.bosToken = bosToken;
        this.eosToken = eosToken;
    }

    /**
     * Loads from a Hugging Face model/tokenizer directory: {@code chat_template.jinja} if present, else
     * {@code chat_template.json}'s, else the {@code chat_template} of {@code tokenizer_config.json} (a string, or
     * a list of {@code {name, template}} of which "default" is taken). bos_token and eos_token come from
     * tokenizer_config.json (a string or an object with "content").
     *
     * @throws IllegalArgumentException when the directory holds no chat template
     */
    public static ChatTemplate load(Path modelDir) throws IOException {
        if (!Files.isDirectory(modelDir)) {
            throw new IllegalArgumentException("Not a model directory: " + modelDir);
        }
        Path configFile = modelDir.resolve("tokenizer_config.json");
        JsonNode config = Files.isRegularFile(configFile) ? JSON.readTree(configFile.toFile()) : JSON.createObjectNode();
        String template = null;
        Path jinjaFile = modelDir.resolve("chat_template.jinja");
        Path jsonFile = modelDir.resolve("chat_template.json");
        if (Files.isRegularFile(jinjaFile)) {
            template = Files.readString(jinjaFile, StandardCharsets.UTF_8);
        } else if (Files.isRegularFile(jsonFile)) {
            template = templateOf(JSON.readTree(jsonFile.toFile()).get("chat_template"), jsonFile);
        } else {
            template = templateOf(config.get("chat_template"), configFile);
        }
        if (template == null) {
            throw new IllegalArgumentException("No chat template in " + modelDir
                    + ": expected chat_template.jinja, or a \"chat_template\" entry in tokenizer_config.json");
        }
        return new ChatTemplate(template, token(config.get("bos_token")), token(config.get("eos_token")));
    }

    /** A template given as text, with the values of {@code bos_token} and {@code eos_token} (either may be null). */
    public static ChatTemplate of(String template, String bosToken, String eosToken) {
        if (template == null || template.isEmpty()) {
            throw new IllegalArgumentException("empty chat template");
        }
        return new ChatTemplate(template, bosToken, eosToken);
    }

    /** One user turn, add_generation_prompt=true, enable_thinking=false: the prompt the classifier feeds the model. */
    public String renderUserTurn(String content) {
        Map<String, Object> user = Map.of("role", "user", "content", content);
        return render(List.of(user), Map.of("add_generation_prompt", true, "enable_thinking", false));
    }

    /**
     * General form: {@code messages} as role/content maps, plus extra template variables
     * (add_generation_prompt, enable_thinking, tools, date_string, ...). Variables transformers does not
     * set are undefined, add_generation_prompt defaults to false, as in {@code apply_chat_template}.
     *
     * @throws IllegalArgumentException when the template rejects the input ({@code raise_exception}) or fails
     */
    public String render(List<Map<String, Object>> messages, Map<String, Object> variables) {
        Map<String, Object> context = new HashMap<>();
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);
        context.put("add_generation_prompt", false);
        context.put("raise_exception", PythonJinja.FUNCTION_MARKER);
        context.put("strftime_now", PythonJinja.FUNCTION_MARKER);
        context.putAll(variables);
        context.put("messages", new ArrayList<>(messages));
        RenderResult result = ENGINE.renderForResult(prepared, context);
        List<TemplateError> fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL)
                .collect(Collectors.toList());
        if (!fatal.isEmpty()) {
            throw new IllegalArgumentException("Chat template failed: " + fatal.stream()
                    .map(ChatTemplate::describe).collect(Collectors.joining("; ")));
        }
        return result.getOutput();
    }

    /** The template as published, before the rewrite. */
    public String source() {
        return source;
    }

    private static String describe(TemplateError error) {
        Throwable cause = error.getException();
        while (cause != null && !(cause instanceof PythonJinja.TemplateException)) {
            cause = cause.getCause();
        }
        String message = cause != null ? cause.getMessage() : error.getMessage();
        return message + " (line " + error.getLineno() + ")";
    }

    private static String templateOf(JsonNode node, Path file) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isArray()) {
            List<String> names = new ArrayList<>();
            for (JsonNode entry : node) {
                names.add(entry.path("name").asText());
                if ("default".equals(entry.path("name").asText())) {
                    return entry.path("template").asText();
                }
            }
            throw new IllegalArgumentException("No \"default\" chat template in " + file + " (has " + names + ")");
        }
        throw new IllegalArgumentException("Unexpected chat_template in " + file + ": " + node.getNodeType());
    }

    private static String token(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        return node.isObject() ? node.path("content").asText(null) : node.asText();
    }
}
