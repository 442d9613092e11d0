package io.slmclassifier.config;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.commons.text.similarity.LevenshteinDistance;

/**
 * The keys a command understands, each defined once: name, type, default, what values it allows, its group and its
 * documentation (docs/configuration.md is checked against these). Modelled on Kafka's {@code ConfigDef}, which the
 * processor and trainer have on their class path, but kept here because the layered configuration, the task views
 * and the tools that read the definitions live in this module, which has no Kafka; and because several keys take a
 * word in place of a number ({@code batch.max.size=auto}) or are optional numbers ({@code gate.max.ece}), and the
 * error lines keep this project's wording ({@code configuration 'k' must be a whole number, not 'x'}).
 *
 * <pre>{@code
 * static final ConfigDefinitions DEFINITIONS = new ConfigDefinitions()
 *     .define("batch.linger.ms", Type.INT, "10", Validator.atLeast(0), "batching", "how long a record may wait ...")
 * }</pre>
 */
public final class ConfigDefinitions {

    /** What a value is read as. A key whose default is empty may be left empty: it is then unset (null). */
    public enum Type {
        STRING("text"), INT("a whole number"), LONG("a whole number"), DOUBLE("a number"),
        BOOLEAN("true or false"), LIST("a comma-separated list");

        private final String described;

        Type(String described) {
            this.described = described;
        }
    }

    /** What a value must be beyond its type: ranges, a closed set of words, a form. */
    @FunctionalInterface
    public interface Validator {
        /** Null when {@code value} (already of the key's type) is allowed; else what is allowed ("at least 1"). */
        String refusal(Object value);

        static Validator atLeast(long min) {
            return value -> ((Number) value).doubleValue() >= min ? null : "at least " + min;
        }

        /** Within {@code [min, max]}; NaN never is. */
        static Validator between(double min, double max) {
            return value -> {
                double v = ((Number) value).doubleValue();
                return v >= min && v <= max ? null : "a number in [" + plain(min) + ", " + plain(max) + "]";
            };
        }

        /** At least {@code min} and below {@code below}; NaN never is. */
        static Validator atLeastAndBelow(double min, double below) {
            return value -> {
                double v = ((Number) value).doubleValue();
                return v >= min && v < below ? null : "at least " + plain(min) + " and below " + plain(below);
            };
        }

        /** One of {@code allowed}, as written (the services compare these values as they are). */
        /** Above {@code min}; NaN never is. */
        static Validator above(double min) {
            return value -> ((Number) value).doubleValue() > min ? null : "above " + plain(min);
        }

        static Validator oneOf(String... allowed) {
            List<String> words = List.of(allowed);
            return value -> words.contains(value) ? null : "one of " + String.join(", ", words);
        }

        private static String plain(double d) {
            return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
        }
    }

    /**
     * One key.
     *
     * @param words values taken as they are in place of one of the type ({@code auto}), compared without case
     * @param group the part of the service the key belongs to, as docs/configuration.md sorts them
     */
    public record Key(String name, Type type, String defaultValue, Set<String> words, Validator validator,
            String group, String documentation) {

        /**
         * The typed value of {@code raw}: an Integer, Long, Double, Boolean, {@code List<String>}, String, one of
         * {@link #words} as written there, or null for an empty value where the default is empty too.
         *
         * @throws IllegalArgumentException one line naming the key, the value and what is allowed
         */
        public Object parse(String raw) {
            String value = raw == null ? "" : raw.strip();
            for (String word : words) {
                if (word.equalsIgnoreCase(value)) {
                    return word;
                }
            }
            if (value.isEmpty() && defaultValue.isEmpty() && type != Type.STRING && type != Type.LIST) {
                return null;
            }
            Object typed = switch (type) {
                case STRING -> value;
                case LIST -> list(value);
                case INT -> parseOrNull(() -> Integer.valueOf(value));
                case LONG -> parseOrNull(() -> Long.valueOf(value));
                case DOUBLE -> parseOrNull(() -> Double.valueOf(value));
                case BOOLEAN -> value.equalsIgnoreCase("true") ? Boolean.TRUE
                        : value.equalsIgnoreCase("false") ? Boolean.FALSE : null;
            };
            if (typed == null) {
                throw refused(raw, allowedWords() + type.described);
            }
            String refusal = validator == null || (typed instanceof String s && s.isEmpty() && defaultValue.isEmpty())
                    ? null : validator.refusal(typed);
            if (refusal != null) {
                throw refused(raw, allowedWords() + refusal);
            }
            return typed;
        }

        private String allowedWords() {
            return words.isEmpty() ? "" : String.join(", ", words) + " or ";
        }

        /** This definition under the name a user wrote it as ({@code task.<name>.<key>}), for error lines. */
        public Key writtenAs(String written) {
            return new Key(written, type, defaultValue, words, validator, group, documentation);
        }

        private IllegalArgumentException refused(String raw, String allowed) {
            return new IllegalArgumentException("configuration '" + name + "' must be " + allowed + ", not '" + raw + "'");
        }

        private static Object parseOrNull(java.util.function.Supplier<Object> parse) {
            try {
                return parse.get();
            } catch (NumberFormatException e) {
                return null;
            }
        }

        private static List<String> list(String value) {
            List<String> out = new ArrayList<>();
            for (String part : value.split(",")) {
                if (!part.isBlank()) {
                    out.add(part.strip());
                }
            }
            return List.copyOf(out);
        }
    }

    /** Edit distance up to 3: a slip of a few characters, not another key. */
    private static final int NEAREST_DISTANCE = 3;

    private final Map<String, Key> keys = new LinkedHashMap<>();
    private final List<ConfigDefinitions> tolerated = new ArrayList<>();

    /** Defines {@code name}; a second definition of one name is a programming error. */
    public ConfigDefinitions define(String name, Type type, String defaultValue, Validator validator, String group,
            String documentation) {
        return define(new Key(name, type, defaultValue, Set.of(), validator, group, documentation));
    }

    public ConfigDefinitions define(String name, Type type, String defaultValue, String group, String documentation) {
        return define(name, type, defaultValue, null, group, documentation);
    }

    /** Defines {@code name}, which also takes the {@code words} ({@code auto}, {@code none}) in place of a value. */
    public ConfigDefinitions define(String name, Type type, String defaultValue, Set<String> words, Validator validator,
            String group, String documentation) {
        return define(new Key(name, type, defaultValue, Set.copyOf(words), validator, group, documentation));
    }

    /** Defines a key defined elsewhere once for several services ({@code bootstrap.servers}, say). */
    public ConfigDefinitions define(Key key) {
        key.parse(key.defaultValue()); // a default its own key refuses is a programming error
        if (keys.putIfAbsent(key.name(), key) != null) {
            throw new IllegalStateException("configuration '" + key.name() + "' is defined twice");
        }
        return this;
    }

    /** The keys in the order they were defined (the order of docs/configuration.md). */
    public Collection<Key> keys() {
        return keys.values();
    }

    public Set<String> names() {
        return keys.keySet();
    }

    public Optional<Key> key(String name) {
        return Optional.ofNullable(keys.get(name));
    }

    /**
     * The definition a key a user wrote stands for: the key itself, {@code <key>.file} (the value read from that
     * file) or, for one task of several, {@code task.<name>.<key>}; empty for {@code kafka.*} (passed through to the
     * clients) and for unknown keys.
     */
    public Optional<Key> definitionOf(String written) {
        Optional<Key> direct = ownKey(written);
        if (direct.isPresent() || !written.startsWith("task.")) {
            return direct;
        }
        // A task's name may hold dots itself: any split where the rest is a key will do.
        for (int dot = written.indexOf('.', "task.".length()); dot > 0; dot = written.indexOf('.', dot + 1)) {
            Key perTask = keys.get(written.substring(dot + 1));
            if (perTask != null) {
                return Optional.of(perTask);
            }
        }
        return Optional.empty();
    }

    private Optional<Key> ownKey(String written) {
        Key key = keys.get(written);
        if (key == null && written.endsWith(".file")) {
            key = keys.get(written.substring(0, written.length() - ".file".length()));
        }
        return Optional.ofNullable(key);
    }

    /**
     * Names this command accepts in a file or flag without defining them: those of the services whose files it reads
     * as they are ({@code adapter --config processor.properties}). They are kept as written, never checked.
     */
    public ConfigDefinitions alsoAccepting(ConfigDefinitions... services) {
        tolerated.addAll(List.of(services));
        return this;
    }

    /**
     * Whether a user may write {@code written}: a defined key in one of its forms, a {@code kafka.*} one, or one
     * {@link #alsoAccepting} names.
     */
    public boolean accepts(String written) {
        return isPassThrough(written) || definitionOf(written).isPresent()
                || tolerated.stream().anyMatch(service -> service.accepts(written));
    }

    private static boolean isPassThrough(String written) {
        if (written.startsWith("kafka.")) {
            return true;
        }
        // task.<name>.kafka.<client key>: a client setting for one task's clients.
        return written.startsWith("task.") && written.indexOf(".kafka.", "task.".length()) > 0;
    }

    /**
     * The one line refusing an unknown key: {@code unknown configuration 'batch.max.sise': did you mean
     * 'batch.max.size'?}, without the question where no key is near.
     */
    public String unknown(String written) {
        return "unknown configuration '" + written + "'" + nearest(written).map(k -> ": did you mean '" + k + "'?").orElse("");
    }

    /** The defined key nearest to {@code written} (in the same form: {@code task.<name>.} kept), if one is near. */
    public Optional<String> nearest(String written) {
        String prefix = "";
        String rest = written;
        if (written.startsWith("task.") && written.indexOf('.', "task.".length()) > 0) {
            prefix = written.substring(0, written.indexOf('.', "task.".length()) + 1);
            rest = written.substring(prefix.length());
        }
        LevenshteinDistance near = new LevenshteinDistance(NEAREST_DISTANCE);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        List<String> names = new ArrayList<>(keys.keySet());
        tolerated.forEach(service -> names.addAll(service.names()));
        for (String name : names) {
            for (String form : List.of(name, name + ".file")) {
                int distance = near.apply(form, rest.toLowerCase(Locale.ROOT));
                if (distance >= 0 && distance < bestDistance) {
                    bestDistance = distance;
                    best = form;
                }
            }
        }
        return Optional.ofNullable(best).map(prefix::concat);
    }
}
