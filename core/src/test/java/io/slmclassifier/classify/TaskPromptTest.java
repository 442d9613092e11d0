package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The per-message encoding (cached head of the prompt + tokenized tail) is exactly the whole prompt's. */
class TaskPromptTest {

    private static final List<String> TEXTS = List.of("RobLW an Zugführer, kommen.", "Ist negativ, noch nicht.",
            " leading space", "trailing space ", "\nnewline first", "two\n\nparagraphs\n", "tabs\tand  spaces",
            "Zahlen 12345 und 3.14", "it's we're they'll", "Emoji 🙂🚒 and CJK 消防车", "<|im_start|>assistant",
            "</think>", "Sentence: nested", "Answer:\n", "—“quoted”—", "x");

    @ParameterizedTest
    @ValueSource(strings = {"qwen3-tiny", "qwen2-tiny", "llama-tiny"})
    void encodingEqualsTheWholeRenderedPrompt(String modelName) throws Exception {
        try (TextTokenizer tokenizer = TextTokenizer.load(Fixtures.model(modelName))) {
            ChatTemplate template = ChatTemplate.load(Fixtures.model(modelName));
            for (String taskName : List.of("radr-intents", "emotion")) {
                Task task = Task.load(Fixtures.task(taskName));
                TaskPrompt prompt = new TaskPrompt(task, tokenizer, template);
                assertTrue(prompt.encodesTailOnly(), modelName + " " + taskName + ": the fast path is what is tested");
                for (String text : TEXTS) {
                    TaskPrompt.Encoded encoded = prompt.encode(text);
                    assertArrayEquals(tokenizer.encode(prompt.render(text), false), encoded.tokens(),
                            modelName + " " + taskName + " '" + text + "'");
                    assertTrue(prompt.startsWithPrefix(encoded.tokens()), text);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void longTextsAreCutToTheTokenLimitAndFlagged(int repeat) throws Exception {
        try (TextTokenizer tokenizer = TextTokenizer.load(Fixtures.model("qwen3-tiny"))) {
            Task task = Task.load(Fixtures.task("radr-intents"));
            TaskPrompt prompt = new TaskPrompt(task, tokenizer, ChatTemplate.load(Fixtures.model("qwen3-tiny")));
            String text = "Lagebild von oben 🚒 ".repeat(task.maxTextTokens() / 8 * repeat);
            int textTokens = tokenizer.encode(text, false).length;
            TaskPrompt.Encoded encoded = prompt.encode(text);
            assertEquals(textTokens > task.maxTextTokens(), encoded.truncated(), textTokens + " tokens");
        }
    }

    /** A cut through an emoji (several byte-level tokens) leaves the emoji out instead of a U+FFFD. */
    @org.junit.jupiter.api.Test
    void aTextCutInsideAnEmojiLeavesNoReplacementCharacter() throws Exception {
        try (TextTokenizer tokenizer = TextTokenizer.load(Fixtures.model("qwen3-tiny"))) {
            Task task = Task.load(Fixtures.task("radr-intents"));
            TaskPrompt prompt = new TaskPrompt(task, tokenizer, ChatTemplate.load(Fixtures.model("qwen3-tiny")));
            int cutsInsideAnEmoji = 0;
            for (int shift = 0; shift < 8; shift++) {
                String text = "x".repeat(shift) + "Feuer \uD83D\uDE92 ".repeat(task.maxTextTokens());
                int[] textTokens = tokenizer.encode(text, false);
                if (tokenizer.decode(java.util.Arrays.copyOf(textTokens, task.maxTextTokens())).endsWith("\uFFFD")) {
                    cutsInsideAnEmoji++;
                }
                TaskPrompt.Encoded encoded = prompt.encode(text);
                assertTrue(encoded.truncated(), textTokens.length + " tokens");
                String decoded = tokenizer.decode(encoded.tokens());
                assertTrue(!decoded.contains("\uFFFD"), "shift " + shift + ": " + decoded);
                assertTrue(decoded.contains("\uD83D\uDE92"), "whole emojis stay");
            }
            assertTrue(cutsInsideAnEmoji > 0, "the limit falls inside an emoji for some shift");
        }
    }
}
