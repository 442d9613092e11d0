package io.slmclassifier.classify;

import java.util.Arrays;

/**
 * How one task's messages become token ids: the prompt with the text in its slot, wrapped as one user turn by
 * the model's chat template; the text cut to {@code max_text_tokens} (never the instructions); and the prefix
 * of tokens that every message shares, which the {@link PrefixCache} computes once.
 */
public final class TaskPrompt {
    /** Private-use characters: no template or tokenizer treats them specially. */
    private static final String SLOT = "\uE000slm-text\uE001";

    /** One message ready for the model. */
    public record Encoded(int[] tokens, boolean truncated) {}

    private final Task task;
    private final TextTokenizer tokenizer;
    private final ChatTemplate template;
    private final String before;
    private final String after;
    private final boolean renderEachTime;
    private final boolean addSpecialTokens;
    private final int[] prefixTokens;

    public TaskPrompt(Task task, TextTokenizer tokenizer, ChatTemplate template) {
        this.task = task;
        this.tokenizer = tokenizer;
        this.template = task.useChatTemplate() ? template : null;
        if (task.useChatTemplate() && template == null) {
            throw new IllegalArgumentException("task " + task.name()
                    + " sets chat_template: true but the model has no chat template");
        }
        // The chat template adds the BOS token itself where the model wants one; a bare prompt gets the
        // tokenizer's own special tokens, as transformers' tokenizer(prompt) does.
        this.addSpecialTokens = !task.useChatTemplate();
        String rendered = renderWhole(SLOT);
        int at = rendered.indexOf(SLOT);
        if (at < 0) {
            throw new IllegalArgumentException("the chat template dropped the message text of task " + task.name());
        }
        this.before = rendered.substring(0, at);
        this.after = rendered.substring(at + SLOT.length());
        // Rendering once and splicing the text in is exact only if the template treats the text as opaque.
        boolean opaque = true;
        for (String probe : new String[] {"Hallo Welt", " x\n", "<think>a</think>"}) {
            opaque &= renderWhole(probe).equals(before + probe + after);
        }
        this.renderEachTime = !opaque;
        // BPE can merge the last prefix token with the text's first one (" " + "Ist" -> " Ist"): leave it out,
        // and check every message at run time.
        int[] head = tokenizer.encode(before, addSpecialTokens);
        this.prefixTokens = Arrays.copyOf(head, Math.max(0, head.length - 1));
    }

    public Task task() {
        return task;
    }

    /** The tokens every message starts with (checked per message by {@link #startsWithPrefix}). */
    public int[] prefixTokens() {
        return prefixTokens.clone();
    }

    public int prefixLength() {
        return prefixTokens.length;
    }

    public String render(String text) {
        return renderEachTime ? renderWhole(text) : before + text + after;
    }

    public Encoded encode(String text) {
        int[] textTokens = tokenizer.encode(text, false);
        boolean truncated = textTokens.length > task.maxTextTokens();
        if (truncated) {
            text = tokenizer.decode(Arrays.copyOf(textTokens, task.maxTextTokens()));
        }
        return new Encoded(tokenizer.encode(render(text), addSpecialTokens), truncated);
    }

    public boolean startsWithPrefix(int[] tokens) {
        if (tokens.length <= prefixTokens.length) {
            return false;
        }
        return Arrays.equals(tokens, 0, prefixTokens.length, prefixTokens, 0, prefixTokens.length);
    }

    private String renderWhole(String text) {
        String content = task.fill(text);
        return template == null ? content : template.renderUserTurn(content);
    }
}
