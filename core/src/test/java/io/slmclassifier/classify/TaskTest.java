package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TaskTest {
    private static TextTokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        tokenizer = TextTokenizer.load(Fixtures.model("qwen3-tiny"));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void seedTaskKeepsThePromptByteForByte() throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents"));
        assertEquals(8, task.labels().size());
        assertTrue(task.prompt().startsWith("\nYou classify a sentence"));
        assertTrue(task.prompt().endsWith("Answer:\n"));
        assertTrue(task.prompt().contains("— deny") && task.prompt().contains("“Unit A to Unit B”"));
        assertTrue(task.useChatTemplate());
        assertEquals(Task.LabelTokens.FIRST_TOKEN, task.labelTokens());
        assertEquals(256, task.maxTextTokens());
        assertTrue(Task.load(Fixtures.task("emotion")).prompt().contains("- sadness \n"));
    }

    @Test
    void jsonIsAcceptedAndDefaultsApply() {
        Task task = Task.parse("{\"name\": \"t\", \"labels\": [\"yes\", \"no\"], \"prompt\": \"Q: {text}\\nA:\"}");
        assertTrue(task.useChatTemplate());
        assertEquals(List.of("yes", "no"), task.classTokenStrings());
    }

    @Test
    void badTasksAreRefusedWithReasons() {
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Task.parse("name: t\nlabels: [a, b]\nprompt: no slot")).getMessage().contains("{text}"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Task.parse("name: t\nlabels: [a]\nprompt: '{text}'")).getMessage().contains("two labels"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Task.parse("name: t\nlabels: [a, a]\nprompt: '{text}'")).getMessage().contains("twice"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Task.parse("name: t\nlabels: [a, b]\nprompt: '{text}'\ncolour: red")).getMessage().contains("colour"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Task.parse("name: t\nlabels: [a, b]\nprompt: '{text}'\nlabel_tokens: words")).getMessage()
                .contains("label_tokens"));
    }

    @Test
    void aMisspeltKeyIsNamedWithTheKeyItResembles() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Task.parse("name: t\nlabels: [a, b]\npromt: 'x {text}'"));
        assertEquals("invalid task: unknown key 'promt' (did you mean 'prompt'?); a task has name, labels, prompt, "
                + "chat_template, label_tokens, max_text_tokens", e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Task.parse("name: t\nlabels: [a, b]\nprompt: 'x {text}'\ncolour: red")).getMessage()
                .startsWith("invalid task: unknown key 'colour';"));
    }

    @Test
    void everyMisspeltKeyIsNamedInOneMessage() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Task.parse("name: t\nlables: [a, b]\npromt: 'x {text}'\ncolour: red"));
        assertEquals("invalid task: unknown keys 'lables' (did you mean 'labels'?), 'promt' (did you mean 'prompt'?), "
                + "'colour'; a task has name, labels, prompt, chat_template, label_tokens, max_text_tokens", e.getMessage());
    }

    @Test
    void labelsSharingAFirstTokenAreRefusedNamingBoth() {
        // "info_provide" and "info_request" both start with the token "info": the seed renamed them for this.
        Task task = Task.parse("name: t\nlabels: [call, info_provide, info_request]\nprompt: '{text}'");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SlicedHead.classTokenIds(task, tokenizer));
        assertTrue(e.getMessage().contains("'info_provide'") && e.getMessage().contains("'info_request'"), e.getMessage());
    }

    @Test
    void lettersAreProxyTokens() throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents-letters"));
        assertEquals(List.of("A", "B", "C", "D", "E", "F", "G", "H"), task.classTokenStrings());
        int[] ids = SlicedHead.classTokenIds(task, tokenizer);
        assertEquals(tokenizer.encode("A", false)[0], ids[0]);
    }

    @Test
    void hashChangesWithThePrompt() {
        Task a = Task.parse("name: t\nlabels: [a, b]\nprompt: 'x {text}'");
        Task b = Task.parse("name: t\nlabels: [a, b]\nprompt: 'y {text}'");
        assertNotEquals(a.hash(), b.hash());
        assertEquals(a.hash(), Task.parse("name: t\nlabels: [a, b]\nprompt: 'x {text}'").hash());
    }
}
