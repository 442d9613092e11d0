package io.slmclassifier.devkit.registry;

import io.slmclassifier.devkit.registry.SchemaLog.ConfigEntry;
import io.slmclassifier.devkit.registry.SchemaLog.Entry;
import io.slmclassifier.devkit.registry.SchemaLog.SchemaEntry;
import io.slmclassifier.kafka.registry.CompatibilityLevel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.avro.Schema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an {@link EmbeddedSchemaRegistry} knows, built by applying {@link SchemaLog} entries in log order.
 *
 * <p>Schemas are identified by their normalized text ({@link Schema#toString()} of the parsed schema), so
 * formatting differences do not make a new id. When entries conflict (two registries raced for the same id or
 * subject version), the first one in the log wins; every replay of the log therefore yields the same state.
 * Not thread-safe: the registry guards it.
 */
final class RegistryState {

    private static final Logger log = LoggerFactory.getLogger(RegistryState.class);

    private final Map<Integer, String> schemaById = new HashMap<>();
    private final Map<String, Integer> idBySchema = new HashMap<>();
    private final Map<String, NavigableMap<Integer, Integer>> idByVersionBySubject = new TreeMap<>();
    private final Map<String, CompatibilityLevel> levelBySubject = new HashMap<>();
    private CompatibilityLevel globalLevel = CompatibilityLevel.BACKWARD;
    private int maxId;

    void apply(Entry entry) {
        if (entry instanceof SchemaEntry schema) {
            applySchema(schema);
        } else if (entry instanceof ConfigEntry config) {
            if (config.subject() == null) {
                globalLevel = config.level();
            } else {
                levelBySubject.put(config.subject(), config.level());
            }
        }
    }

    private void applySchema(SchemaEntry entry) {
        String schema;
        try {
            schema = normalize(entry.schema());
        } catch (RuntimeException e) {
            // Written by something else than this registry: one bad record must not stop the replay.
            log.warn("Ignoring unparseable schema id {} of {}: {}", entry.id(), entry.subject(), e.toString());
            return;
        }
        String schemaWithThatId = schemaById.get(entry.id());
        Integer idOfThatSchema = idBySchema.get(schema);
        NavigableMap<Integer, Integer> versions = idByVersionBySubject.get(entry.subject());
        Integer idOfThatVersion = versions == null ? null : versions.get(entry.version());
        boolean alreadyUnderSubject = versions != null && idOfThatSchema != null
                && versions.containsValue(idOfThatSchema);
        if ((schemaWithThatId != null && !schemaWithThatId.equals(schema))
                || (idOfThatSchema != null && idOfThatSchema != entry.id())
                || (idOfThatVersion != null && idOfThatVersion != entry.id())
                || (idOfThatVersion == null && alreadyUnderSubject)) {
            log.debug("Ignoring registration that lost a race: {}", entry);
            return;
        }
        schemaById.put(entry.id(), schema);
        idBySchema.put(schema, entry.id());
        idByVersionBySubject.computeIfAbsent(entry.subject(), s -> new TreeMap<>()).put(entry.version(), entry.id());
        maxId = Math.max(maxId, entry.id());
    }

    static String normalize(String schemaText) {
        return new Schema.Parser().parse(schemaText).toString();
    }

    Optional<String> schema(int id) {
        return Optional.ofNullable(schemaById.get(id));
    }

    /** Global id for a (normalized) schema: its existing id, or the next free one. */
    int idFor(String normalizedSchema) {
        Integer existing = idBySchema.get(normalizedSchema);
        return existing != null ? existing : maxId + 1;
    }

    boolean hasSubject(String subject) {
        return idByVersionBySubject.containsKey(subject);
    }

    List<String> subjects() {
        return new ArrayList<>(idByVersionBySubject.keySet());
    }

    /** Versions of the subject, oldest first; empty when the subject does not exist. */
    List<Integer> versions(String subject) {
        NavigableMap<Integer, Integer> versions = idByVersionBySubject.get(subject);
        return versions == null ? List.of() : new ArrayList<>(versions.keySet());
    }

    /** The schema id of a version, or null. */
    Integer idOf(String subject, int version) {
        NavigableMap<Integer, Integer> versions = idByVersionBySubject.get(subject);
        return versions == null ? null : versions.get(version);
    }

    /** The version under which the subject holds the (normalized) schema, or null. */
    Integer versionOf(String subject, String normalizedSchema) {
        Integer id = idBySchema.get(normalizedSchema);
        NavigableMap<Integer, Integer> versions = idByVersionBySubject.get(subject);
        if (id == null || versions == null) {
            return null;
        }
        for (Map.Entry<Integer, Integer> version : versions.entrySet()) {
            if (version.getValue().equals(id)) {
                return version.getKey();
            }
        }
        return null;
    }

    int nextVersion(String subject) {
        NavigableMap<Integer, Integer> versions = idByVersionBySubject.get(subject);
        return versions == null ? 1 : versions.lastKey() + 1;
    }

    CompatibilityLevel globalLevel() {
        return globalLevel;
    }

    Optional<CompatibilityLevel> subjectLevel(String subject) {
        return Optional.ofNullable(levelBySubject.get(subject));
    }

    CompatibilityLevel effectiveLevel(String subject) {
        return levelBySubject.getOrDefault(subject, globalLevel);
    }
}
