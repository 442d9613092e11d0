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
    /**
     * The prompt before the text, cut where no text can change how the part before the cut tokenizes: the head's
     * tokens are computed once, only the tail + text + rest is tokenized per message. Null when not proven.
     */
    private final int[] headTokens;
    private final String tail;

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
        int cut = renderEachTime || addSpecialTokens ? -1 : lineStartBefore(before);
        String[] probes = {"Hallo Welt", " x\n", "\n\nneue Zeile", "  zwei Leerzeichen", "<|im_end|>", "Grüße 🙂 ünïcödé",
            "1234 5678", "'s it's", "\t\tTab", "Sentence:"};
        int[] headOfCut = cut > 0 ? tokenizer.encode(before.substring(0, cut), false) : null;
        boolean exact = headOfCut != null;
        for (int i = 0; exact && i < probes.length; i++) {
            exact = Arrays.equals(tokenizer.encode(render(probes[i]), false),
                    concat(headOfCut, tokenizer.encode(before.substring(cut) + probes[i] + after, false)));
        }
        this.headTokens = exact ? headOfCut : null;
        this.tail = exact ? before.substring(cut) : null;
    }

    /**
     * The start of the last line of the prompt before the text that begins with a non-space character: the
     * tokenizer's pre-tokenizer ends a chunk at such a line break whatever follows later, so the text cannot
     * reach across it. -1 when there is none.
     */
    private static int lineStartBefore(String before) {
        for (int i = before.length() - 1; i > 0; i--) {
            if (before.charAt(i - 1) == '\n' && !Character.isWhitespace(before.charAt(i))) {
                return i;
            }
        }
        return -1;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
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
        boolean truncated = false;
        // A token covers at least one UTF-8 byte (plus, at most, one word-start marker): a text of fewer bytes
        // than the limit cannot exceed it, and most texts are spared a second tokenization.
        if (text.length() * 3L >= task.maxTextTokens() && utf8Length(text) >= task.maxTextTokens()) {
            int[] textTokens = tokenizer.encode(text, false);
            truncated = textTokens.length > task.maxTextTokens();
            if (truncated) {
                text = headOfText(text, tokenizer.decode(Arrays.copyOf(textTokens, task.maxTextTokens())));
            }
        }
        if (headTokens != null) {
            return new Encoded(concat(headTokens, tokenizer.encode(tail + text + after, false)), truncated);
        }
        return new Encoded(tokenizer.encode(render(text), addSpecialTokens), truncated);
    }

    /**
     * The decoded first tokens of {@code text}, less the end of a character the cut went through: byte-level
     * tokens split a character of several UTF-8 bytes (an emoji), and its first bytes alone decode to U+FFFD,
     * which is not what the text says. A U+FFFD that is in the text itself stays.
     */
    static String headOfText(String text, String decodedHead) {
        String head = decodedHead;
        while (head.endsWith("\uFFFD") && !text.startsWith(head)) {
            head = head.substring(0, head.length() - 1);
        }
        return head;
    }

    private static int utf8Length(String s) {
        int bytes = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : Character.isSurrogate(c) ? 2 : 3;
        }
        return bytes;
    }

    /** Whether messages are encoded by tokenizing only the prompt's tail with the text (proven exact at start). */
    public boolean encodesTailOnly() {
        return headTokens != null;
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
