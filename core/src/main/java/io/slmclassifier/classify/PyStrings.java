package io.slmclassifier.classify;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Python {@code str} semantics that chat templates rely on: the methods they call on strings
 * ({@code content.startswith('<tool_response>')}, {@code content.split('</think>')[-1].lstrip('\n')}, ...),
 * Python's notion of whitespace, slicing by code point, and {@code str()}/{@code repr()} of values.
 */
final class PyStrings {

    private PyStrings() {
    }

    /** {@code str.isspace()} for one code point: exactly the characters Python's {@code str.strip()} removes. */
    static boolean isSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0
                || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029
                || cp == 0x202F || cp == 0x205F || cp == 0x3000;
    }

    /** {@code s.strip(chars)}, {@code s.lstrip(chars)} or {@code s.rstrip(chars)}; chars null means whitespace. */
    static String strip(String s, String chars, boolean left, boolean right) {
        int start = 0;
        int end = s.length();
        while (left && start < end) {
            int cp = s.codePointAt(start);
            if (!stripped(cp, chars)) {
                break;
            }
            start += Character.charCount(cp);
        }
        while (right && end > start) {
            int cp = s.codePointBefore(end);
            if (!stripped(cp, chars)) {
                break;
            }
            end -= Character.charCount(cp);
        }
        return s.substring(start, end);
    }

    private static boolean stripped(int cp, String chars) {
        return chars == null ? isSpace(cp) : chars.codePoints().anyMatch(c -> c == cp);
    }

    /** {@code s.split(sep, maxsplit)}; sep null splits on runs of whitespace and drops empty parts. */
    static List<String> split(String s, String sep, int maxsplit) {
        List<String> parts = new ArrayList<>();
        if (sep == null) {
            int i = 0;
            int n = s.length();
            while (true) {
                while (i < n && isSpace(s.codePointAt(i))) {
                    i += Character.charCount(s.codePointAt(i));
                }
                if (i >= n) {
                    return parts;
                }
                if (maxsplit >= 0 && parts.size() == maxsplit) {
                    parts.add(strip(s.substring(i), null, false, true));
                    return parts;
                }
                int start = i;
                while (i < n && !isSpace(s.codePointAt(i))) {
                    i += Character.charCount(s.codePointAt(i));
                }
                parts.add(s.substring(start, i));
            }
        }
        if (sep.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int from = 0;
        int at;
        while ((maxsplit < 0 || parts.size() < maxsplit) && (at = s.indexOf(sep, from)) >= 0) {
            parts.add(s.substring(from, at));
            from = at + sep.length();
        }
        parts.add(s.substring(from));
        return parts;
    }

    /** {@code s.rsplit(sep, maxsplit)} for an explicit separator. */
    static List<String> rsplit(String s, String sep, int maxsplit) {
        if (maxsplit < 0) {
            return split(s, sep, maxsplit);
        }
        if (sep == null) {
            throw new IllegalArgumentException("rsplit() with maxsplit needs an explicit separator here");
        }
        List<String> parts = new ArrayList<>();
        int to = s.length();
        while (parts.size() < maxsplit) {
            int at = s.lastIndexOf(sep, to - sep.length());
            if (at < 0) {
                break;
            }
            parts.add(0, s.substring(at + sep.length(), to));
            to = at;
        }
        parts.add(0, s.substring(0, to));
        return parts;
    }

    /** {@code len(s)}: code points, so an emoji counts once as in Python. */
    static int length(String s) {
        return s.codePointCount(0, s.length());
    }

    /** {@code str.title()}: upper-case the first letter of every run of letters, lower-case the rest. */
    static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            out.append(previousCased ? new String(Character.toChars(cp)).toLowerCase(Locale.ROOT)
                    : new String(Character.toChars(cp)).toUpperCase(Locale.ROOT));
            previousCased = Character.isLetter(cp);
        }
        return out.toString();
    }

    /** {@code str.capitalize()}: first character upper case, the rest lower case. */
    static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int first = Character.charCount(s.codePointAt(0));
        return s.substring(0, first).toUpperCase(Locale.ROOT) + s.substring(first).toLowerCase(Locale.ROOT);
    }

    /** {@code str(value)} as Jinja prints it: True/False, Python float repr, list and dict repr. */
    static String str(Object value) {
        if (value == null) {
            // jinjava cannot tell an undefined variable (printed as '') from None (printed as 'None'): print ''.
            return "";
        }
        if (value instanceof CharSequence) {
            return value.toString();
        }
        return repr(value);
    }

    /** {@code repr(value)} for the values templates see: strings, numbers, booleans, None, lists, dicts. */
    static String repr(Object value) {
        if (value == null) {
            return "None";
        }
        if (value instanceof Boolean) {
            return (Boolean) value ? "True" : "False";
        }
        if (value instanceof Double || value instanceof Float) {
            return PyJson.floatRepr(((Number) value).doubleValue());
        }
        if (value instanceof Number) {
            return value.toString();
        }
        if (value instanceof Map) {
            StringBuilder out = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                if (out.length() > 1) {
                    out.append(", ");
                }
                out.append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
            }
            return out.append('}').toString();
        }
        if (value instanceof Collection) {
            StringBuilder out = new StringBuilder("[");
            for (Object item : (Collection<?>) value) {
                if (out.length() > 1) {
                    out.append(", ");
                }
                out.append(repr(item));
            }
            return out.append(']').toString();
        }
        if (value instanceof CharSequence) {
            return quote(value.toString());
        }
        return value.toString();
    }

    private static String quote(String s) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder out = new StringBuilder().append(q);
        s.codePoints().forEach(cp -> {
            if (cp == q || cp == '\\') {
                out.append('\\').appendCodePoint(cp);
            } else if (cp == '\n') {
                out.append("\\n");
            } else if (cp == '\r') {
                out.append("\\r");
            } else if (cp == '\t') {
                out.append("\\t");
            } else if (cp < 0x20 || cp == 0x7F) {
                out.append(String.format("\\x%02x", cp));
            } else {
                out.appendCodePoint(cp);
            }
        });
        return out.append(q).toString();
    }
}
