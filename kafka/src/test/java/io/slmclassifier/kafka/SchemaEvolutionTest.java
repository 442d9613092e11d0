package io.slmclassifier.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.kafka.registry.CompatibilityChecker;
import io.slmclassifier.kafka.registry.CompatibilityLevel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificData;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The rules of schemas/README.md, checked on every schema in schemas/: namespaced, every field documented, and
 * compatible both ways with every released version kept in src/test/resources/schema-history/ (with no history
 * yet, with itself, so that the check is in place for the first change).
 */
class SchemaEvolutionTest {

    private static final Path SCHEMAS = Path.of("schemas");
    private static final Path HISTORY = Path.of("src/test/resources/schema-history");
    /** Adding optional fields with defaults, the only change the rule allows, keeps this level. */
    private static final CompatibilityLevel RULE = CompatibilityLevel.FULL_TRANSITIVE;

    @TestFactory
    Stream<DynamicTest> everySchemaFollowsTheRules() throws IOException {
        List<Path> files = schemaFiles();
        assertEquals(5, files.size(), "TextMessage, Classification, LabeledExample, AdapterEvent, AdapterCommand");
        return files.stream().map(file -> DynamicTest.dynamicTest(file.getFileName().toString(), () -> {
            Schema current = new Schema.Parser().parse(file.toFile());
            assertEquals("io.slmclassifier.avro", current.getNamespace());
            assertDocumented(current, current.getName());

            List<Schema> released = releasedVersions(current.getName());
            List<Schema> baselines = released.isEmpty() ? List.of(current) : released;
            List<String> problems = CompatibilityChecker.check(RULE, current, baselines);
            assertTrue(problems.isEmpty(), file + " breaks compatibility with a released version: " + problems);

            // What the build compiled is this file (the generated class reads what the file writes and back).
            Schema compiled = SpecificData.get().getSchema(Class.forName(current.getFullName()));
            assertTrue(CompatibilityChecker.check(CompatibilityLevel.FULL, compiled, List.of(current)).isEmpty());
        }));
    }

    @Test
    void theCheckCatchesAFieldAddedWithoutDefault() throws IOException {
        Schema current = new Schema.Parser().parse(SCHEMAS.resolve("TextMessage.avsc").toFile());
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field field : current.getFields()) {
            fields.add(new Schema.Field(field, field.schema()));
        }
        fields.add(new Schema.Field("language", Schema.create(Schema.Type.STRING), "no default", (Object) null));
        Schema broken = Schema.createRecord(current.getName(), current.getDoc(), current.getNamespace(), false,
                fields);

        List<String> problems = CompatibilityChecker.check(RULE, broken, List.of(current));
        assertFalse(problems.isEmpty());
        assertTrue(problems.toString().contains("language"), problems.toString());
    }

    private static void assertDocumented(Schema schema, String path) {
        switch (schema.getType()) {
            case RECORD -> {
                assertHasDoc(schema.getDoc(), path);
                for (Schema.Field field : schema.getFields()) {
                    assertHasDoc(field.doc(), path + "." + field.name());
                    assertDocumented(field.schema(), path + "." + field.name());
                }
            }
            case ENUM -> assertHasDoc(schema.getDoc(), path);
            case ARRAY -> assertDocumented(schema.getElementType(), path + "[]");
            case MAP -> assertDocumented(schema.getValueType(), path + "{}");
            case UNION -> schema.getTypes().forEach(branch -> assertDocumented(branch, path));
            default -> {
            }
        }
    }

    private static void assertHasDoc(String doc, String path) {
        assertTrue(doc != null && !doc.isBlank(), path + " has no \"doc\"");
    }

    private static List<Path> schemaFiles() throws IOException {
        try (Stream<Path> files = Files.list(SCHEMAS)) {
            return files.filter(file -> file.toString().endsWith(".avsc")).sorted().toList();
        }
    }

    private static List<Schema> releasedVersions(String recordName) throws IOException {
        Path folder = HISTORY.resolve(recordName);
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        List<Schema> versions = new ArrayList<>();
        try (Stream<Path> files = Files.list(folder)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".avsc")).sorted().toList()) {
                versions.add(new Schema.Parser().parse(file.toFile()));
            }
        }
        return versions;
    }
}
