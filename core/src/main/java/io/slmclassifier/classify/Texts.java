package io.slmclassifier.classify;

/** Cutting texts to a length without breaking a character. */
public final class Texts {

    private Texts() {}

    /**
     * The first {@code maxChars} UTF-16 units of {@code text}, one fewer where the last of them would be the
     * first half of a surrogate pair: a lone half is no character at all, and comes out as {@code ?} or U+FFFD
     * once encoded (an emoji at the limit would become garbage instead of being left out).
     */
    public static String cut(String text, int maxChars) {
        if (text.length() <= maxChars) {
            return text;
        }
        int end = maxChars > 0 && Character.isHighSurrogate(text.charAt(maxChars - 1))
                && Character.isLowSurrogate(text.charAt(maxChars)) ? maxChars - 1 : maxChars;
        return text.substring(0, end);
    }
}
