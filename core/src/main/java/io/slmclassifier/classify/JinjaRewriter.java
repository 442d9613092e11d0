package io.slmclassifier.classify;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a chat template as published (Python Jinja) into a jinjava template that renders the same bytes.
 * Runs once, before parsing.
 *
 * <p><b>Whitespace.</b> Jinja applies its whitespace control while lexing, so it is applied here to the text
 * itself, exactly as Jinja's lexer does with transformers' settings: newlines normalized to {@code \n}, one
 * trailing newline dropped (keep_trailing_newline=False), {@code -} markers strip whitespace next to a tag,
 * trim_blocks drops the newline after a block or comment tag, lstrip_blocks drops the indentation before one,
 * {@code +} markers turn both off. The tags handed on carry no markers, comments are dropped, and jinjava runs
 * with its own trim/lstrip off: its versions differ from Jinja's ({@code {{- x }}} is not trimmed, a tag after
 * an expression on the same line is lstripped, the trailing newline is kept, {@code {%+} is unknown).
 *
 * <p><b>Tags</b> jinjava does not know: transformers' {@code {% generation %}}...{@code {% endgeneration %}}
 * (it marks the assistant's tokens and renders its body unchanged) is dropped, its body kept.
 *
 * <p><b>Expressions</b> (inside {@code {{ }}} and {@code {% %}}; the text between tags stays byte for byte,
 * string literals keep their value):
 * <ul>
 *   <li>Slices: {@code x[a:b:c]} becomes {@code x[__slice__(a, b, c)]} (an empty part becomes {@code none}).
 *       jinjava has no step ({@code messages[::-1]}); the slice object is resolved with Python's rules.</li>
 *   <li>Keyword arguments: {@code f(a=x - 1)} becomes {@code f(a=(x - 1))}. jinjava binds {@code a=x} before
 *       the arithmetic ({@code namespace(last_query_index=messages|length - 1)} fails otherwise). Macro
 *       definitions keep their defaults as written.</li>
 *   <li>String literals: Python's escapes ({@code \\u00e4}, {@code \\x41}, ...) are decoded, since jinjava
 *       knows few of them; nested braces get a space ({@code } }}) since jinjava ends a tag at the first
 *       {@code }}}.</li>
 * </ul>
 */
final class JinjaRewriter {

    static final String SLICE_FUNCTION = "__slice__";

    private static final Pattern RAW_BEGIN = Pattern.compile("\\{%([-+]?)\\s*raw\\s*(?:-%}|%})");
    private static final Pattern RAW_END = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*([-+]?)%}");
    private static final Pattern MACRO = Pattern.compile("^\\s*macro\\b");
    private static final Pattern GENERATION = Pattern.compile("^\\s*(end)?generation\\s*$");
    private static final Pattern KEYWORD = Pattern.compile("^(\\s*[A-Za-z_][A-Za-z0-9_]*\\s*=)(?!=)(.*)$", Pattern.DOTALL);

    private JinjaRewriter() {
    }

    static String rewrite(String template) {
        String src = template.replace("\r\n", "\n").replace('\r', '\n');
        if (src.endsWith("\n")) {
            src = src.substring(0, src.length() - 1);
        }
        StringBuilder out = new StringBuilder(src.length() + 64);
        int pos = 0;
        boolean lineStarting = true;
        while (pos < src.length()) {
            int open = nextTag(src, pos);
            if (open < 0) {
                out.append(src, pos, src.length());
                break;
            }
            char kind = src.charAt(open + 1);
            char sign = open + 2 < src.length() ? src.charAt(open + 2) : 0;
            Matcher raw = RAW_BEGIN.matcher(src).region(open, src.length());
            boolean isRaw = kind == '%' && raw.lookingAt();
            out.append(leftStrip(src.substring(pos, open), sign, kind != '{', lineStarting));
            if (isRaw) {
                // {% raw %}: the begin tag has no trim_blocks; the content is lstripped before {% endraw %}
                int contentStart = raw.group().endsWith("-%}") ? skipSpace(src, raw.end()) : raw.end();
                Matcher rawEnd = RAW_END.matcher(src);
                if (!rawEnd.find(contentStart)) {
                    throw new IllegalArgumentException("Missing end of raw directive");
                }
                String content = src.substring(contentStart, rawEnd.start());
                boolean contentLineStarting = contentStart > 0 && src.charAt(contentStart - 1) == '\n';
                String endSign = rawEnd.group(1);
                out.append("{% raw %}")
                        .append(leftStrip(content, endSign.isEmpty() ? 0 : endSign.charAt(0), true, contentLineStarting))
                        .append("{% endraw %}");
                pos = afterTag(src, rawEnd.end(), rawEnd.group(2), true);
            } else if (kind == '#') {
                int close = src.indexOf("#}", open + 2 + (sign == '-' || sign == '+' ? 1 : 0));
                if (close < 0) {
                    throw new IllegalArgumentException("Missing end of comment tag");
                }
                pos = afterTag(src, close + 2, String.valueOf(src.charAt(close - 1)), true);
            } else {
                int innerStart = open + 2 + (sign == '-' || sign == '+' ? 1 : 0);
                String delimiter = kind == '{' ? "}}" : "%}";
                int close = closingDelimiter(src, innerStart, delimiter);
                if (close < 0) {
                    throw new IllegalArgumentException("Missing end of tag " + src.substring(open, Math.min(src.length(), open + 40)));
                }
                char endSign = src.charAt(close - 1);
                boolean marked = close - 1 >= innerStart && (endSign == '-' || (endSign == '+' && kind == '%'));
                String inner = src.substring(innerStart, marked ? close - 1 : close);
                String rewritten = kind == '%' && MACRO.matcher(inner).lookingAt() ? inner : expression(inner);
                // jinjava does not balance braces when it looks for the end of a tag: keep them apart
                rewritten = (rewritten.startsWith("{") ? " " : "") + separateBraces(rewritten)
                        + (rewritten.endsWith("}") ? " " : "");
                if (!(kind == '%' && GENERATION.matcher(inner).matches())) {
                    out.append('{').append(kind).append(rewritten).append(delimiter);
                }
                pos = afterTag(src, close + 2, marked ? String.valueOf(endSign) : "", kind == '%');
            }
            lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
        }
        return out.toString();
    }

    /** Start of the next {@code {{}, {@code {%} or {@code {#} at or after {@code from}, or -1. */
    private static int nextTag(String s, int from) {
        for (int i = s.indexOf('{', from); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
            char c = s.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') {
                return i;
            }
        }
        return -1;
    }

    /**
     * The text before a tag after Jinja's left-side whitespace control: a {@code -} strips all trailing
     * whitespace; otherwise, for block and comment tags unless marked {@code +}, lstrip_blocks drops the
     * whitespace between the last newline (or a line start) and the tag.
     */
    private static String leftStrip(String text, char sign, boolean lstripBlocks, boolean lineStarting) {
        if (sign == '-') {
            return PyStrings.strip(text, null, false, true);
        }
        if (sign != '+' && lstripBlocks) {
            int lineStart = text.lastIndexOf('\n') + 1;
            if ((lineStart > 0 || lineStarting) && lineStart < text.length() && allSpace(text, lineStart)) {
                return text.substring(0, lineStart);
            }
        }
        return text;
    }

    private static boolean allSpace(String s, int from) {
        return s.substring(from).codePoints().allMatch(PyStrings::isSpace);
    }

    private static int skipSpace(String s, int from) {
        int i = from;
        while (i < s.length() && PyStrings.isSpace(s.codePointAt(i))) {
            i += Character.charCount(s.codePointAt(i));
        }
        return i;
    }

    /**
     * Where the text after a tag starts: a {@code -} before the delimiter strips all whitespace, trim_blocks
     * drops one newline after block and comment tags, a {@code +} keeps it.
     */
    private static int afterTag(String src, int end, String sign, boolean trimBlocks) {
        if ("-".equals(sign)) {
            return skipSpace(src, end);
        }
        if (trimBlocks && !"+".equals(sign) && end < src.length() && src.charAt(end) == '\n') {
            return end + 1;
        }
        return end;
    }

    /** Position of the closing delimiter outside strings and brackets (as Jinja's lexer balances them), or -1. */
    private static int closingDelimiter(String s, int from, String delimiter) {
        int depth = 0;
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\'' || c == '"') {
                i = stringEnd(s, i) - 1;
            } else if (depth == 0 && s.startsWith(delimiter, i)) {
                return i;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
                depth--;
            }
        }
        return -1;
    }

    /** Puts a space into {@code }}}, {@code {{}, {@code {%} and {@code {#} outside strings (nested dict literals). */
    private static String separateBraces(String e) {
        StringBuilder out = new StringBuilder(e.length() + 4);
        for (int i = 0; i < e.length(); i++) {
            char c = e.charAt(i);
            if (c == '\'' || c == '"') {
                int end = stringEnd(e, i);
                out.append(e, i, end);
                i = end - 1;
                continue;
            }
            out.append(c);
            char next = i + 1 < e.length() ? e.charAt(i + 1) : 0;
            if ((c == '}' && next == '}') || (c == '{' && (next == '{' || next == '%' || next == '#'))) {
                out.append(' ');
            }
        }
        return out.toString();
    }

    /** Index after the string literal that starts at {@code start}. */
    private static int stringEnd(String s, int start) {
        char quote = s.charAt(start);
        for (int i = start + 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == quote) {
                return i + 1;
            }
        }
        return s.length();
    }

    /** Index of the bracket that closes the one at {@code start}, skipping strings; the end if unbalanced. */
    private static int matching(String s, int start) {
        int depth = 0;
        for (int i = start; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\'' || c == '"') {
                i = stringEnd(s, i) - 1;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                if (--depth == 0) {
                    return i;
                }
            }
        }
        return s.length();
    }

    /** Splits at {@code separator} where it is outside strings and brackets. */
    private static List<String> splitTopLevel(String s, char separator) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\'' || c == '"') {
                i = stringEnd(s, i) - 1;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                depth--;
            } else if (c == separator && depth == 0) {
                parts.add(s.substring(start, i));
                start = i + 1;
            }
        }
        parts.add(s.substring(start));
        return parts;
    }

    /** Rewrites one expression (the inside of a tag), recursing into brackets. */
    static String expression(String e) {
        StringBuilder out = new StringBuilder(e.length());
        int i = 0;
        while (i < e.length()) {
            char c = e.charAt(i);
            if (c == '\'' || c == '"') {
                int end = stringEnd(e, i);
                out.append(stringLiteral(e.substring(i, end)));
                i = end;
            } else if (c == '[' || c == '(' || c == '{') {
                int close = matching(e, i);
                String inner = expression(e.substring(i + 1, Math.min(close, e.length())));
                String closing = close < e.length() ? String.valueOf(e.charAt(close)) : "";
                if (c == '[') {
                    out.append('[').append(slice(inner)).append(closing);
                } else if (c == '(' && isCall(out)) {
                    out.append('(').append(keywordArguments(inner)).append(closing);
                } else {
                    out.append(c).append(inner).append(closing);
                }
                i = close + 1;
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }

    /**
     * A Python string literal as a jinjava one with the same value. Jinja decodes Python's escapes
     * ({@code \\n}, {@code \\x1f}, {@code \\u00a0}, ...); jinjava knows only a few, so the characters go in as
     * they are, with just the backslash and the quote escaped.
     */
    static String stringLiteral(String literal) {
        char quote = literal.charAt(0);
        int end = literal.length() > 1 && literal.charAt(literal.length() - 1) == quote ? literal.length() - 1
                : literal.length();
        String value = unescape(literal.substring(1, end));
        return quote + value.replace("\\", "\\\\").replace(String.valueOf(quote), "\\" + quote) + quote;
    }

    /** Python's unicode-escape decoding, as Jinja applies it to string literals. */
    private static String unescape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 >= s.length()) {
                out.append(c);
                continue;
            }
            char n = s.charAt(++i);
            switch (n) {
                case '\n': break; // line continuation
                case '\\': case '\'': case '"': out.append(n); break;
                case 'a': out.append('\u0007'); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'n': out.append('\n'); break;
                case 'r': out.append('\r'); break;
                case 't': out.append('\t'); break;
                case 'v': out.append('\u000b'); break;
                case 'x': i = hex(s, i, 2, out); break;
                case 'u': i = hex(s, i, 4, out); break;
                case 'U': i = hex(s, i, 8, out); break;
                default:
                    if (n >= '0' && n <= '7') {
                        int j = i;
                        while (j < s.length() && j < i + 3 && s.charAt(j) >= '0' && s.charAt(j) <= '7') {
                            j++;
                        }
                        out.appendCodePoint(Integer.parseInt(s.substring(i, j), 8));
                        i = j - 1;
                    } else {
                        out.append('\\').append(n); // unknown escapes stay as written
                    }
            }
        }
        return out.toString();
    }

    private static int hex(String s, int at, int digits, StringBuilder out) {
        if (at + 1 + digits > s.length()) {
            throw new IllegalArgumentException("truncated \\" + s.charAt(at) + " escape in string literal");
        }
        out.appendCodePoint(Integer.parseInt(s.substring(at + 1, at + 1 + digits), 16));
        return at + digits;
    }

    /** A parenthesis right after a name, a closing bracket or a string opens an argument list. */
    private static boolean isCall(CharSequence before) {
        for (int i = before.length() - 1; i >= 0; i--) {
            char c = before.charAt(i);
            if (!Character.isWhitespace(c)) {
                return Character.isLetterOrDigit(c) || c == '_' || c == ')' || c == ']' || c == '\'' || c == '"';
            }
        }
        return false;
    }

    private static String slice(String inner) {
        List<String> parts = splitTopLevel(inner, ':');
        if (parts.size() == 1) {
            return inner;
        }
        if (parts.size() > 3) {
            throw new IllegalArgumentException("invalid slice [" + inner + "]");
        }
        List<String> args = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            String part = k < parts.size() ? parts.get(k).strip() : "";
            args.add(part.isEmpty() ? "none" : part);
        }
        return SLICE_FUNCTION + "(" + String.join(", ", args) + ")";
    }

    private static String keywordArguments(String inner) {
        List<String> args = splitTopLevel(inner, ',');
        List<String> out = new ArrayList<>(args.size());
        for (String arg : args) {
            Matcher m = KEYWORD.matcher(arg);
            String value = m.matches() ? m.group(2).strip() : "";
            out.add(m.matches() && !value.isEmpty() ? m.group(1) + "(" + value + ")" : arg);
        }
        return String.join(",", out);
    }
}
