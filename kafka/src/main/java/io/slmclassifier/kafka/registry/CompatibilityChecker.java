package io.slmclassifier.kafka.registry;

import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.Incompatibility;
import org.apache.avro.SchemaCompatibility.SchemaPairCompatibility;

/**
 * The compatibility rules of the registry protocol, on top of Avro's {@link SchemaCompatibility}.
 *
 * <p>"Backward" means a reader with the new schema can read what the old schema wrote; "forward" the reverse.
 * Non-transitive levels check against the latest version only, transitive ones against every earlier version.
 */
public final class CompatibilityChecker {

    private CompatibilityChecker() {
    }

    /**
     * Checks a new schema against the earlier versions of a subject (oldest first).
     *
     * @return the incompatibilities found, empty when the new schema may be registered
     */
    public static List<String> check(CompatibilityLevel level, Schema newSchema, List<Schema> earlierVersions) {
        List<String> problems = new ArrayList<>();
        if (level == CompatibilityLevel.NONE || earlierVersions.isEmpty()) {
            return problems;
        }
        List<Schema> against = level.isTransitive()
                ? earlierVersions
                : List.of(earlierVersions.get(earlierVersions.size() - 1));
        for (Schema old : against) {
            if (level.checksBackward()) {
                problems.addAll(describe("backward", SchemaCompatibility.checkReaderWriterCompatibility(newSchema, old)));
            }
            if (level.checksForward()) {
                problems.addAll(describe("forward", SchemaCompatibility.checkReaderWriterCompatibility(old, newSchema)));
            }
        }
        return problems;
    }

    /** True when a reader with {@code reader} can decode everything written with {@code writer}. */
    public static boolean canRead(Schema reader, Schema writer) {
        return SchemaCompatibility.checkReaderWriterCompatibility(reader, writer).getType()
                == SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE;
    }

    private static List<String> describe(String direction, SchemaPairCompatibility result) {
        List<String> problems = new ArrayList<>();
        for (Incompatibility incompatibility : result.getResult().getIncompatibilities()) {
            problems.add(direction + ": " + incompatibility.getType() + " at " + incompatibility.getLocation()
                    + ": " + incompatibility.getMessage());
        }
        return problems;
    }
}
