package io.slmclassifier.classify;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import java.beans.FeatureDescriptor;
import java.lang.reflect.Method;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * A jinjava engine that behaves like the Jinja environment transformers renders chat templates with:
 * {@code ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])}
 * (whitespace control is applied beforehand by {@link JinjaRewriter}), its
 * {@code tojson} filter (json.dumps, non-ASCII kept), and the globals {@code raise_exception} and
 * {@code strftime_now}. jinjava itself lacks, and this class adds:
 * <ul>
 *   <li>Python string methods with Python semantics ({@code startswith}, {@code split} without regex and
 *       keeping empty parts, {@code strip('\n')}, ...): jinjava would call Java's methods or fail.</li>
 *   <li>Python slices, step included (through {@link JinjaRewriter}'s {@code __slice__}).</li>
 *   <li>Filters with Python semantics: {@code tojson}, {@code trim} (Python whitespace), {@code length} and
 *       {@code count} (code points), {@code items}.</li>
 *   <li>Python's str() of values in output: {@code True}, {@code 2.5}, {@code ['a', 1]}.</li>
 *   <li>No nested interpretation: a message containing {@code {{ x }}} is printed, never rendered again.</li>
 * </ul>
 */
final class PythonJinja {

    /** Value of the variables that stand for the global functions, so that {@code strftime_now is defined}. */
    static final String FUNCTION_MARKER = "<built-in function>";

    private PythonJinja() {
    }

    static Jinjava create() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PyResolver());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        JinjavaConfig config = JinjavaConfig.newBuilder()
                // JinjaRewriter has applied Jinja's trim_blocks / lstrip_blocks / '-' markers to the text
                .withTrimBlocks(false)
                .withLstripBlocks(false)
                .withNestedInterpretationEnabled(false)
                .withFailOnUnknownTokens(false)
                .withElResolver(resolver)
                .withInterperterFactory(new PyInterpreterFactory())
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.registerFunction(function("raise_exception", "raiseException", String.class));
        jinjava.registerFunction(function("strftime_now", "strftimeNow", String.class));
        jinjava.registerFunction(function(JinjaRewriter.SLICE_FUNCTION, "slice", Object.class, Object.class,
                Object.class));
        for (Filter filter : List.of(new ToJson(), new Trim(), new Length("length"), new Length("count"),
                new Items())) {
            jinjava.registerFilter(filter);
        }
        return jinjava;
    }

    private static ELFunctionDefinition function(String name, String method, Class<?>... parameters) {
        try {
            Method m = Functions.class.getDeclaredMethod(method, parameters);
            m.setAccessible(true);
            return new ELFunctionDefinition("", name, m);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The global functions transformers registers, plus the slice constructor the rewriter emits. */
    static final class Functions {
        private Functions() {
        }

        static Object raiseException(String message) {
            throw new TemplateException(message);
        }

        static String strftimeNow(String format) {
            return StrftimeFormatter.format(ZonedDateTime.now(), format, Locale.US);
        }

        static Slice slice(Object start, Object stop, Object step) {
            return new Slice(index(start), index(stop), index(step));
        }

        private static Long index(Object value) {
            if (value == null) {
                return null;
            }
            if (value instanceof Number) {
                return ((Number) value).longValue();
            }
            throw new IllegalArgumentException("slice indices must be integers or None, not " + value);
        }
    }

    /**
     * Thrown by {@code raise_exception(message)} (the template refused its input) and by Python semantics
     * that do not apply. Not an IllegalArgumentException: jinjava turns those into a silent null.
     */
    static final class TemplateException extends RuntimeException {
        TemplateException(String message) {
            super(message);
        }
    }

    /**
     * A Python slice. jinjava hands subscripts to resolvers as strings, so the slice travels as its
     * {@link #toString()} and {@link #parse} turns it back.
     */
    record Slice(Long start, Long stop, Long step) {
        private static final String PREFIX = "\u0000slice:";

        @Override
        public String toString() {
            return PREFIX + start + ":" + stop + ":" + step;
        }

        static Slice parse(Object property) {
            String s = String.valueOf(property);
            if (!s.startsWith(PREFIX)) {
                return null;
            }
            String[] parts = s.substring(PREFIX.length()).split(":", -1);
            return new Slice(parseLong(parts[0]), parseLong(parts[1]), parseLong(parts[2]));
        }

        private static Long parseLong(String s) {
            return "null".equals(s) ? null : Long.valueOf(s);
        }

        /** The indices Python's {@code seq[start:stop:step]} picks from a sequence of {@code length}. */
        List<Integer> indices(int length) {
            long st = step == null ? 1 : step;
            if (st == 0) {
                throw new IllegalArgumentException("slice step cannot be zero");
            }
            long lower = st > 0 ? 0 : -1;
            long upper = st > 0 ? length : length - 1;
            long from = adjust(start, st < 0 ? upper : lower, lower, upper, length);
            long to = adjust(stop, st < 0 ? lower : upper, lower, upper, length);
            List<Integer> picked = new ArrayList<>();
            for (long i = from; st > 0 ? i < to : i > to; i += st) {
                picked.add((int) i);
            }
            return picked;
        }

        private static long adjust(Long index, long dflt, long lower, long upper, int length) {
            if (index == null) {
                return dflt;
            }
            long i = index < 0 ? index + length : index;
            return Math.max(lower, Math.min(upper, i));
        }
    }

    /** Python's str methods on strings, and slices of strings and lists; everything else goes to jinjava. */
    static final class PyResolver extends ELResolver {

        @Override
        public Object getValue(ELContext context, Object base, Object property) {
            Slice slice = base == null ? null : Slice.parse(property);
            if (slice == null) {
                return null;
            }
            context.setPropertyResolved(true);
            if (base instanceof List) {
                List<?> list = (List<?>) base;
                List<Object> out = new ArrayList<>();
                for (int i : slice.indices(list.size())) {
                    out.add(list.get(i));
                }
                return out;
            }
            if (base instanceof String || base instanceof SafeString) {
                int[] codePoints = base.toString().codePoints().toArray();
                StringBuilder out = new StringBuilder();
                for (int i : slice.indices(codePoints.length)) {
                    out.appendCodePoint(codePoints[i]);
                }
                return out.toString();
            }
            throw new TemplateException("cannot slice " + base.getClass().getSimpleName());
        }

        @Override
        public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
            if (!(base instanceof String || base instanceof SafeString) || method == null) {
                return null;
            }
            context.setPropertyResolved(true);
            return stringMethod(base.toString(), method.toString(), params == null ? new Object[0] : params);
        }

        static Object stringMethod(String s, String method, Object[] args) {
            switch (method) {
                case "startswith":
                    return affixes(arg(args, 0)).stream().anyMatch(s::startsWith);
                case "endswith":
                    return affixes(arg(args, 0)).stream().anyMatch(s::endsWith);
                case "strip":
                    return PyStrings.strip(s, string(arg(args, 0)), true, true);
                case "lstrip":
                    return PyStrings.strip(s, string(arg(args, 0)), true, false);
                case "rstrip":
                    return PyStrings.strip(s, string(arg(args, 0)), false, true);
                case "split":
                    return PyStrings.split(s, string(arg(args, 0)), integer(arg(args, 1), -1));
                case "rsplit":
                    return PyStrings.rsplit(s, string(arg(args, 0)), integer(arg(args, 1), -1));
                case "replace": {
                    int count = integer(arg(args, 2), -1);
                    String old = string(arg(args, 0));
                    String replacement = string(arg(args, 1));
                    if (count < 0) {
                        return s.replace(old, replacement);
                    }
                    List<String> parts = PyStrings.split(s, old, count);
                    return String.join(replacement, parts);
                }
                case "upper":
                    return s.toUpperCase(Locale.ROOT);
                case "lower":
                    return s.toLowerCase(Locale.ROOT);
                case "title":
                    return PyStrings.title(s);
                case "capitalize":
                    return PyStrings.capitalize(s);
                case "find": {
                    int at = s.indexOf(string(arg(args, 0)));
                    return at < 0 ? -1 : s.codePointCount(0, at);
                }
                case "count": {
                    String sub = string(arg(args, 0));
                    return sub.isEmpty() ? PyStrings.length(s) + 1 : PyStrings.split(s, sub, -1).size() - 1;
                }
                case "join": {
                    List<String> items = new ArrayList<>();
                    for (Object item : iterable(arg(args, 0))) {
                        items.add(String.valueOf(item));
                    }
                    return String.join(s, items);
                }
                case "isspace":
                    return !s.isEmpty() && s.codePoints().allMatch(PyStrings::isSpace);
                case "isdigit":
                    return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
                default:
                    throw new TemplateException("'str' object has no supported method '" + method + "'");
            }
        }

        private static Object arg(Object[] args, int i) {
            return i < args.length ? args[i] : null;
        }

        private static String string(Object value) {
            return value == null ? null : value.toString();
        }

        private static int integer(Object value, int dflt) {
            return value == null ? dflt : ((Number) value).intValue();
        }

        private static List<String> affixes(Object value) {
            List<String> out = new ArrayList<>();
            if (value instanceof Collection) {
                for (Object item : (Collection<?>) value) {
                    out.add(String.valueOf(item));
                }
            } else {
                out.add(String.valueOf(value));
            }
            return out;
        }

        private static Iterable<?> iterable(Object value) {
            if (value instanceof Iterable) {
                return (Iterable<?>) value;
            }
            if (value instanceof Object[]) {
                return List.of((Object[]) value);
            }
            throw new IllegalArgumentException("can only join an iterable");
        }

        @Override
        public Class<?> getType(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public void setValue(ELContext context, Object base, Object property, Object value) {
        }

        @Override
        public boolean isReadOnly(ELContext context, Object base, Object property) {
            return true;
        }

        @Override
        public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
            return null;
        }

        @Override
        public Class<?> getCommonPropertyType(ELContext context, Object base) {
            return Object.class;
        }
    }

    /** Prints values the way Jinja does ({@code str()}): True/False, Python floats and reprs. */
    static final class PyInterpreter extends JinjavaInterpreter {
        PyInterpreter(Jinjava application, Context context, JinjavaConfig config) {
            super(application, context, config);
        }

        PyInterpreter(JinjavaInterpreter parent) {
            super(parent);
        }

        @Override
        public String getAsString(Object object) {
            return PyStrings.str(object);
        }
    }

    static final class PyInterpreterFactory implements InterpreterFactory {
        @Override
        public JinjavaInterpreter newInstance(JinjavaInterpreter orig) {
            return new PyInterpreter(orig);
        }

        @Override
        public JinjavaInterpreter newInstance(Jinjava application, Context context, JinjavaConfig config) {
            return new PyInterpreter(application, context, config);
        }
    }

    /** transformers' tojson: {@code json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)}. */
    static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return PyJson.dumps(var);
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object ensureAscii = kwargs.getOrDefault("ensure_ascii", args.length > 0 ? args[0] : false);
            Object indent = kwargs.getOrDefault("indent", args.length > 1 ? args[1] : null);
            Object separators = kwargs.getOrDefault("separators", args.length > 2 ? args[2] : null);
            Object sortKeys = kwargs.getOrDefault("sort_keys", args.length > 3 ? args[3] : false);
            String indentString = indent == null ? null
                    : indent instanceof Number ? " ".repeat(((Number) indent).intValue()) : indent.toString();
            String itemSeparator = null;
            String keySeparator = null;
            if (separators instanceof List && ((List<?>) separators).size() == 2) {
                itemSeparator = String.valueOf(((List<?>) separators).get(0));
                keySeparator = String.valueOf(((List<?>) separators).get(1));
            }
            return new PyJson(Boolean.TRUE.equals(ensureAscii), indentString, itemSeparator, keySeparator,
                    Boolean.TRUE.equals(sortKeys)).write(var);
        }
    }

    /** Jinja's trim: {@code str(value).strip(chars)} with Python's whitespace. */
    static final class Trim implements Filter {
        @Override
        public String getName() {
            return "trim";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return PyStrings.strip(PyStrings.str(var), args.length > 0 ? args[0] : null, true, true);
        }
    }

    /** Jinja's length and count: {@code len(value)}, counting code points in strings. */
    static final class Length implements Filter {
        private final String name;

        Length(String name) {
            this.name = name;
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            if (var instanceof String || var instanceof SafeString) {
                return PyStrings.length(var.toString());
            }
            if (var instanceof Collection) {
                return ((Collection<?>) var).size();
            }
            if (var instanceof Map) {
                return ((Map<?, ?>) var).size();
            }
            if (var instanceof Object[]) {
                return ((Object[]) var).length;
            }
            throw new IllegalArgumentException("object of type '" + (var == null ? "NoneType"
                    : var.getClass().getSimpleName()) + "' has no len()");
        }
    }

    /** Jinja's items: the (key, value) pairs of a mapping, for {@code for k, v in d | items}. */
    static final class Items implements Filter {
        @Override
        public String getName() {
            return "items";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            if (var == null) {
                return List.of();
            }
            if (!(var instanceof Map)) {
                throw new IllegalArgumentException("items filter needs a mapping");
            }
            return new ArrayList<>(((Map<?, ?>) var).entrySet());
        }
    }
}
