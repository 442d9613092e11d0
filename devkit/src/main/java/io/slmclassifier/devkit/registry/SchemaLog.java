package io.slmclassifier.devkit.registry;

import io.slmclassifier.kafka.registry.CompatibilityLevel;
import java.util.List;

/**
 * The ordered, durable log an {@link EmbeddedSchemaRegistry} keeps its state in: registry state is whatever
 * replaying the log from the start gives, so a restarted registry answers with the same ids.
 *
 * <p>Implementations need not be thread-safe: the registry calls them under its own lock.
 */
public interface SchemaLog extends AutoCloseable {

    /** One registration: {@code schema} (Avro JSON) got global {@code id} as {@code version} of {@code subject}. */
    record SchemaEntry(String subject, int version, int id, String schema) implements Entry {
    }

    /** A compatibility level set for a subject, or for the whole registry when {@code subject} is null. */
    record ConfigEntry(String subject, CompatibilityLevel level) implements Entry {
    }

    /** What the log holds. */
    sealed interface Entry permits SchemaEntry, ConfigEntry {
    }

    /** Appends an entry and returns once it is durable. */
    void append(Entry entry);

    /**
     * Returns the entries appended since the previous call (by this registry or any other writer of the same
     * log), in log order; the first call returns the whole log.
     */
    List<Entry> readNew();

    @Override
    void close();

    /** A log that lives as long as the JVM: for tests and throw-away registries. */
    static SchemaLog inMemory() {
        return new SchemaLog() {
            private final List<Entry> entries = new java.util.ArrayList<>();
            private int read;

            @Override
            public void append(Entry entry) {
                entries.add(entry);
            }

            @Override
            public List<Entry> readNew() {
                List<Entry> fresh = List.copyOf(entries.subList(read, entries.size()));
                read = entries.size();
                return fresh;
            }

            @Override
            public void close() {
            }
        };
    }
}
