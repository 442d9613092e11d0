package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

class ChatTemplateTest {

    private static final Path RESOURCES = Path.of("src/test/resources");
    private static final Path QWEN3 = RESOURCES.resolve("models/qwen3-tiny");
    private static final Map<String, Path> TEMPLATE_DIRS = Map.of(
            "qwen3", QWEN3,
            "llama3", RESOURCES.resolve("chat-templates/llama3"),
            "llama3_1", RESOURCES.resolve("chat-templates/llama3_1"),
            "features", RESOURCES.resolve("chat-templates/features"));
    private static final Map<String, Object> USER_TURN_VARIABLES =
            Map.of("add_generation_prompt", true, "enable_thinking", false);

    // ---- byte for byte against transformers (tools/render_chat_templates.py) ----

    @TestFactory
    Stream<DynamicTest> rendersEveryCaseLikeTransformers() throws IOException {
        Map<String, Object> document = new ObjectMapper().readValue(
                RESOURCES.resolve("chat-templates/expected.json").toFile(), new TypeReference<>() { });
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> cases = (List<Map<String, Object>>) document.get("cases");
        assertTrue(cases.size() >= 30, "expected.json holds " + cases.size() + " cases");
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.get("template") + "/" + c.get("name"), () -> {
            ChatTemplate template = ChatTemplate.load(TEMPLATE_DIRS.get((String) c.get("template")));
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> messages = (List<Map<String, Object>>) c.get("messages");
            @SuppressWarnings("unchecked")
            Map<String, Object> variables = (Map<String, Object>) c.get("variables");
            String expected = (String) c.get("expected");
            assertEquals(expected, template.render(messages, variables));
            if (messages.size() == 1 && "user".equals(messages.get(0).get("role"))
                    && variables.equals(USER_TURN_VARIABLES)) {
                assertEquals(expected, template.renderUserTurn((String) messages.get(0).get("content")));
            }
        }));
    }

    @Test
    void qwen3UserTurnHasTheEmptyThinkBlock() throws IOException {
        assertEquals("<|im_start|>user\nX<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
                ChatTemplate.load(QWEN3).renderUserTurn("X"));
    }

    @Test
    void seedPromptRendersByteForByte() throws IOException {
        Map<?, ?> task = new YAMLMapper().readValue(Path.of("tasks/radr-intents.yaml").toFile(), Map.class);
        String prompt = ((String) task.get("prompt")).replace("{text}", "Ja, hier ist Zugführer, kommen.");
        assertTrue(prompt.startsWith("\nYou classify") && prompt.endsWith("Answer:\n") && prompt.contains("—"));
        assertEquals("<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
                ChatTemplate.load(QWEN3).renderUserTurn(prompt));
        // Llama 3 trims the content: the prompt's leading and trailing newlines go
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n" + prompt.strip()
                        + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                ChatTemplate.load(TEMPLATE_DIRS.get("llama3")).renderUserTurn(prompt));
    }

    // ---- loading ----

    @Test
    void directoryWithoutTemplateIsAClearError(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().contains("No chat template in " + dir), e.getMessage());
        Files.delete(dir.resolve("tokenizer_config.json"));
        e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().contains("No chat template"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.load(dir.resolve("missing")));
        assertTrue(e.getMessage().contains("Not a model directory"), e.getMessage());
    }

    @Test
    void namedTemplateListTakesDefaultAndTokensMayBeObjects(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": {\"content\": \"<s>\"},"
                + " \"eos_token\": \"</s>\", \"chat_template\": ["
                + "{\"name\": \"tool_use\", \"template\": \"tools\"},"
                + "{\"name\": \"default\", \"template\": \"{{ bos_token }}{{ messages[0].content }}{{ eos_token }}\"}]}");
        assertEquals("<s>hi</s>", ChatTemplate.load(dir).renderUserTurn("hi"));

        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"}]}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().contains("No \"default\" chat template"), e.getMessage());
    }

    @Test
    void jinjaFileWinsOverTokenizerConfig(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"config\", \"eos_token\": \"E\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "jinja {{ eos_token }}\n");
        assertEquals("jinja E", ChatTemplate.load(dir).renderUserTurn("x"));
    }

    // ---- rewrite of the syntax jinjava cannot parse ----

    @Test
    void rewritesSlicesIntoSliceCalls() {
        assertEquals("{% for m in messages[__slice__(none, none, -1)] %}",
                JinjaRewriter.rewrite("{% for m in messages[::-1] %}"));
        assertEquals("{{ m[__slice__(1, none, none)] }}{{ m[__slice__(none, -1, none)] }}{{ m[__slice__(a+1, b, 2)] }}",
                JinjaRewriter.rewrite("{{ m[1:] }}{{ m[:-1] }}{{ m[a+1:b:2] }}"));
        // subscripts, dict literals and strings with colons are no slices
        assertEquals("{{ m[0]['a:b'] ~ {'k': [1, 2]}['k'][-1] ~ 'x[1:2]' }}",
                JinjaRewriter.rewrite("{{ m[0]['a:b'] ~ {'k': [1, 2]}['k'][-1] ~ 'x[1:2]' }}"));
        assertEquals("{{ m[__slice__(x[__slice__(1, none, none)]|length, none, none)] }}",
                JinjaRewriter.rewrite("{{ m[x[1:]|length:] }}"));
    }

    @Test
    void parenthesizesKeywordArgumentValues() {
        assertEquals("{% set ns = namespace(multi_step_tool=(true), last_query_index=(messages|length - 1)) %}",
                JinjaRewriter.rewrite(
                        "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}"));
        assertEquals("{{ t | tojson(indent=(4)) }}{{ f(a == b, c) }}{{ (x=1) }}",
                JinjaRewriter.rewrite("{{ t | tojson(indent=4) }}{{ f(a == b, c) }}{{ (x=1) }}"));
        assertEquals("{% macro h(role, extra='') %}{{ h('x', extra=('#' ~ 1)) }}",
                JinjaRewriter.rewrite("{% macro h(role, extra='') %}{{ h('x', extra='#' ~ 1) }}"));
    }

    @Test
    void keepsTextRawBlocksAndStringsUnchangedAndDropsComments() {
        assertEquals("a[::-1] f(x=1 - 2)  {% raw %}{{ m[::-1] }}{% endraw %}{{ 'm[::-1] f(a=1 - 2) }}' ~ \"%}\" }}",
                JinjaRewriter.rewrite("a[::-1] f(x=1 - 2) {# m[::-1] f(a=b-1) #} {% raw %}{{ m[::-1] }}{% endraw %}"
                        + "{{ 'm[::-1] f(a=1 - 2) }}' ~ \"%}\" }}"));
    }

    @Test
    void appliesJinjaWhitespaceControlToTheText() {
        // '-' markers strip all whitespace on their side, including newlines
        assertEquals("a{{ 1 }}b{% if x %}c{%endif%}",
                JinjaRewriter.rewrite("a \n {{- 1 -}} \n b \n\t{%- if x -%}\n c {%-endif-%}  "));
        // trim_blocks: one newline after a block or comment tag; lstrip_blocks: indentation before one
        assertEquals("x\n{% if a %}  y\n{% endif %}\nz", JinjaRewriter.rewrite("x\n  {% if a %}\n  y\n  {% endif %}\n\nz\n"));
        assertEquals("x\ny", JinjaRewriter.rewrite("x\n  {# note #}\ny"));
        // no lstrip after other text on the line, nor before an expression; trim_blocks only after blocks
        assertEquals("{{ a }}  {% set b = 1 %}  \n  {{ b }}\n", JinjaRewriter.rewrite("{{ a }}  {% set b = 1 %}  \n  {{ b }}\n\n"));
        // '+' keeps the indentation (left) or the newline (right)
        assertEquals("x\n  {% if a %}y{% endif %}\nz", JinjaRewriter.rewrite("x\n  {%+ if a %}y{% endif +%}\nz"));
        // newlines normalized, one trailing newline dropped (keep_trailing_newline=False)
        assertEquals("a\nb\nc\n", JinjaRewriter.rewrite("a\r\nb\rc\n\n"));
        assertEquals("A\n  xB", ChatTemplate.of("A\n  {%+ if true %}x{% endif %}\nB", null, null)
                .render(List.of(), Map.of()));
    }

    @Test
    void dropsTheGenerationTagOfTransformers() {
        assertEquals("<a>{{ m }}</a>\n", JinjaRewriter.rewrite("<a>\n  {%- generation %}{{ m }}{% endgeneration -%}\n</a>\n\n"));
        assertEquals("[hi]", ChatTemplate.of("[{% generation %}{{ messages[0].content }}{% endgeneration %}]", null, null)
                .renderUserTurn("hi"));
    }

    @Test
    void decodesPythonEscapesInStringLiterals() {
        assertEquals("{{ 'tab\there\u00e4A\\\\' ~ \"q\\\"\" ~ '\\\\d' }}",
                JinjaRewriter.rewrite("{{ 'tab\\there\\u00e4\\x41\\\\' ~ \"q\\\"\" ~ '\\d' }}"));
        assertEquals("\u00a0|\u0007|\ud83d\ude0a|it's", render("{{ '\\xa0' }}|{{ '\\a' }}|{{ '\\U0001F60A' }}|{{ 'it\\'s' }}"));
    }

    @Test
    void publishedQwen3TemplateNeedsTheRewrite() throws IOException {
        String source = ChatTemplate.load(QWEN3).source();
        assertTrue(source.contains("messages[::-1]") && source.contains("namespace(multi_step_tool=true"));
        // jinjava alone cannot render it
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new com.hubspot.jinjava.Jinjava().renderForResult(source, Map.of("messages", List.of()))
                        .getErrors().stream().findFirst().ifPresent(err -> {
                            throw new IllegalArgumentException(err.getMessage());
                        }));
        assertTrue(e.getMessage().length() > 0);
    }

    // ---- Python semantics the engine adds ----

    @Test
    void stringMethodsFollowPython() {
        assertEquals("['a', ''] ['', 'b', ''] ['x', 'y z'] ['x', 'y', 'z'] ['a.b', 'c']", render(
                "{{ 'a</think>'.split('</think>') }} {{ '.b.'.split('.') }} {{ 'x y z'.split(' ', 1) }}"
                        + " {{ ' x\\t y\\n z '.split() }} {{ 'a.b.c'.rsplit('.', 1) }}"));
        assertEquals("[x]|x\n\n|\n\nx|x\u00a0|True|False|True|Ab Cd|Abc|ABC|2|1|a-b",
                render("[{{ '\\n\\nx\\n\\n'.strip('\\n') }}]|{{ '\\n\\nx\\n\\n'.lstrip('\\n') }}|"
                        + "{{ '\\n\\nx\\n\\n'.rstrip('\\n') }}|{{ ' x\u00a0'.lstrip() }}|{{ 'abc'.startswith('ab') }}|"
                        + "{{ 'abc'.endswith('b') }}|{{ 'a?'.endswith(('!', '?')) }}|{{ 'ab cD'.title() }}|"
                        + "{{ 'aBC'.capitalize() }}|{{ 'abc'.upper() }}|{{ 'abab'.count('ab') }}|"
                        + "{{ '😊b'.find('b') }}|{{ '-'.join(['a', 'b']) }}"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> render("{{ 'a'.length() }}"));
        assertTrue(e.getMessage().contains("no supported method 'length'"), e.getMessage());
    }

    @Test
    void trimAndLengthUsePythonWhitespaceAndCodePoints() {
        assertEquals("[x]|3|2", render("[{{ '\\u00a0\\u2003\\x1f x \\x85' | trim }}]|{{ 'a😊b' | length }}|{{ [1, 2] | length }}"));
    }

    @Test
    void slicesFollowPython() {
        assertEquals("[3, 2, 1] [1, 3] [2] [] cba 😊b", render("{{ [1, 2, 3][::-1] }} {{ [1, 2, 3][::2] }}"
                + " {{ [1, 2, 3][1:-1] }} {{ [1, 2, 3][5:] }} {{ 'abc'[::-1] }} {{ 'a😊b'[1:] }}"));
    }

    @Test
    void printsValuesLikePython() {
        assertEquals("True False 2.5 1e+22 [1, 'a', True] {'k': 'v'} 2.0",
                render("{{ true }} {{ 1 > 2 }} {{ 2.5 }} {{ 1e22 }} {{ [1, 'a', true] }} {{ {'k': 'v'} }} {{ 4 / 2 }}"));
    }

    @Test
    void tojsonIsPythonJsonDumps() {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("b", "Köln „x“\n\"q\" 😊");
        value.put("a", List.of(1, 2.5, -3e-7, true));
        value.put("n", null);
        value.put("e", Map.of());
        Map<String, Object> vars = Map.of("v", value);
        assertEquals("{\"b\": \"Köln „x“\\n\\\"q\\\" 😊\", \"a\": [1, 2.5, -3e-07, true], \"n\": null, \"e\": {}}",
                render("{{ v | tojson }}", vars));
        assertEquals("{\"a\": [1, 2.5, -3e-07, true], \"b\": \"K\\u00f6ln \\u201ex\\u201c\\n\\\"q\\\" \\ud83d\\ude0a\","
                        + " \"e\": {}, \"n\": null}",
                render("{{ v | tojson(ensure_ascii=true, sort_keys=true) }}", vars));
        assertEquals("{\n  \"k\": [\n    1\n  ]\n}", render("{{ {'k': [1]} | tojson(indent=2) }}"));
        assertEquals("0.1 100.0 1e-05 0.0001 1234567890123456.0 1e+16 -0.0",
                String.join(" ", PyJson.floatRepr(0.1), PyJson.floatRepr(100), PyJson.floatRepr(1e-5),
                        PyJson.floatRepr(1e-4), PyJson.floatRepr(1234567890123456.0), PyJson.floatRepr(1e16),
                        PyJson.floatRepr(-0.0)));
    }

    @Test
    void literalJinjaInContentIsNeverRendered() {
        assertEquals("<{{ messages }} {% if x %}>", ChatTemplate.of("<{{ messages[0].content }}>", null, null)
                .renderUserTurn("{{ messages }} {% if x %}"));
    }

    @Test
    void raiseExceptionFailsWithTheTemplatesMessage() {
        ChatTemplate template = ChatTemplate.of(
                "{% if messages[0].role != 'user' %}{{ raise_exception('Roles must start with user!') }}{% endif %}ok",
                null, null);
        assertEquals("ok", template.renderUserTurn("x"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> template.render(List.of(Map.of("role", "assistant", "content", "x")), Map.of()));
        assertTrue(e.getMessage().contains("Roles must start with user!"), e.getMessage());
    }

    @Test
    void strftimeNowIsDefinedAndFormatsToday() {
        assertEquals("True " + LocalDate.now().getYear(),
                render("{{ strftime_now is defined }} {{ strftime_now('%Y') }}"));
        assertEquals("True", render("{{ raise_exception is defined }}"));
    }

    @Test
    void loopsOverNoneItemsAndMapKeysLikePython() {
        List<Object> items = new ArrayList<>();
        items.add(null);
        items.add(1);
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("x", 1);
        map.put("y", 2);
        assertEquals("2:x,y:x=1,y=2", render(
                "{% for i in items %}{% if loop.last %}{{ loop.length }}{% endif %}{% endfor %}:"
                        + "{% for k in m %}{{ k }}{{ ',' if not loop.last }}{% endfor %}:"
                        + "{% for k, v in m | items %}{{ k }}={{ v }}{{ ',' if not loop.last }}{% endfor %}",
                Map.of("items", items, "m", map)));
    }

    private static String render(String template) {
        return render(template, Map.of());
    }

    private static String render(String template, Map<String, Object> variables) {
        return ChatTemplate.of(template, null, null).render(List.of(), variables);
    }
}
