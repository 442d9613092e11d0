package io.slmclassifier.kafka.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.registry.SchemaRegistryClient.CompatibilityCheck;
import io.slmclassifier.kafka.registry.SchemaRegistryException.IncompatibleSchemaException;
import io.slmclassifier.kafka.registry.SchemaRegistryException.SchemaNotFoundException;
import io.slmclassifier.kafka.registry.SchemaRegistryException.SubjectNotFoundException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The client against the embedded registry over real HTTP on loopback, and against a scripted server where the
 * point is what goes over the wire (authentication, retries).
 */
class SchemaRegistryClientTest {

    static final Schema GREETING_V1 = parse("""
            {"type": "record", "name": "Greeting", "namespace": "test",
             "fields": [{"name": "name", "type": "string"}]}""");
    /** Adds a field with a default: backward compatible with v1. */
    static final Schema GREETING_V2 = parse("""
            {"type": "record", "name": "Greeting", "namespace": "test",
             "fields": [{"name": "name", "type": "string"},
                        {"name": "lang", "type": "string", "default": "en"}]}""");
    /** Adds a field without a default: a v3 reader cannot read v1 data. */
    static final Schema GREETING_INCOMPATIBLE = parse("""
            {"type": "record", "name": "Greeting", "namespace": "test",
             "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"}]}""");
    static final Schema FAREWELL = parse("""
            {"type": "record", "name": "Farewell", "namespace": "test",
             "fields": [{"name": "until", "type": "long"}]}""");

    // Served under a path prefix, as Apicurio serves the protocol, so that prefixes are exercised throughout.
    static EmbeddedSchemaRegistry registry;
    static SchemaRegistryClient client;

    @BeforeAll
    static void startRegistry() {
        registry = EmbeddedSchemaRegistry.builder().basePath("/apis/ccompat/v7").start();
        client = SchemaRegistryClient.builder(registry.url()).build();
    }

    @AfterAll
    static void stopRegistry() {
        registry.close();
    }

    @Test
    void registersAndFindsSchemasWithGlobalStableIds() {
        int id = client.register("greetings-value", GREETING_V1);
        // A fresh client, so nothing comes from a cache: the registry itself must answer the same.
        SchemaRegistryClient fresh = SchemaRegistryClient.builder(registry.url()).build();
        assertEquals(id, fresh.register("greetings-value", GREETING_V1), "same schema, same subject: same id");
        assertEquals(id, fresh.register("copies-value", GREETING_V1), "ids are global across subjects");

        RegisteredSchema found = fresh.lookup("greetings-value", GREETING_V1);
        assertEquals(new RegisteredSchema("greetings-value", 1, id, GREETING_V1), found);
        assertEquals(GREETING_V1, fresh.schemaById(id));

        int v2 = fresh.register("greetings-value", GREETING_V2);
        assertNotEquals(id, v2);
        RegisteredSchema latest = fresh.latest("greetings-value");
        assertEquals(2, latest.version());
        assertEquals(v2, latest.id());
        assertEquals(GREETING_V2, latest.schema());
        assertEquals(GREETING_V1, fresh.version("greetings-value", 1).schema());
        assertTrue(fresh.subjects().containsAll(List.of("greetings-value", "copies-value")));
    }

    @Test
    void schemaTextIsComparedAfterParsingNotByFormatting() {
        int id = client.register("formatting-value", FAREWELL);
        Schema reformatted = parse(FAREWELL.toString(true));
        SchemaRegistryClient fresh = SchemaRegistryClient.builder(registry.url()).build();
        assertEquals(id, fresh.register("formatting-value", reformatted));
    }

    @Test
    void unknownThingsAreNamedByTheirErrorCodes() {
        SchemaNotFoundException unknownId = assertThrows(SchemaNotFoundException.class,
                () -> client.schemaById(987654));
        assertEquals(SchemaRegistryException.SCHEMA_NOT_FOUND, unknownId.errorCode());
        assertEquals(404, unknownId.httpStatus());
        assertTrue(unknownId.getMessage().contains("987654"), unknownId.getMessage());

        SubjectNotFoundException noSubject = assertThrows(SubjectNotFoundException.class,
                () -> client.lookup("nobody-value", GREETING_V1));
        assertEquals(SchemaRegistryException.SUBJECT_NOT_FOUND, noSubject.errorCode());
        assertTrue(noSubject.getMessage().contains("nobody-value"), noSubject.getMessage());
        assertThrows(SubjectNotFoundException.class, () -> client.latest("nobody-value"));

        client.register("lookups-value", GREETING_V1);
        assertEquals(SchemaRegistryException.SCHEMA_NOT_FOUND,
                assertThrows(SchemaNotFoundException.class, () -> client.lookup("lookups-value", FAREWELL))
                        .errorCode());
    }

    @Test
    void incompatibleSchemasAreReportedAndRefused() {
        client.register("compat-value", GREETING_V1);
        assertTrue(client.testCompatibility("compat-value", GREETING_V2).compatible());

        CompatibilityCheck check = client.testCompatibility("compat-value", GREETING_INCOMPATIBLE);
        assertFalse(check.compatible());
        assertTrue(check.messages().toString().contains("age"), check.messages().toString());

        IncompatibleSchemaException refused = assertThrows(IncompatibleSchemaException.class,
                () -> client.register("compat-value", GREETING_INCOMPATIBLE));
        assertEquals(409, refused.httpStatus());
        assertTrue(refused.getMessage().contains("incompatible"), refused.getMessage());

        // NONE lets anything through; the level is per subject and falls back to the global one.
        assertEquals(CompatibilityLevel.BACKWARD, client.compatibility());
        client.setCompatibility("compat-value", CompatibilityLevel.NONE);
        assertEquals(CompatibilityLevel.NONE, client.compatibility("compat-value"));
        assertEquals(CompatibilityLevel.BACKWARD, client.compatibility("other-value"));
        client.register("compat-value", GREETING_INCOMPATIBLE);
    }

    @Test
    void globalCompatibilityLevelCanBeChanged() {
        client.setCompatibility(CompatibilityLevel.FULL);
        try {
            assertEquals(CompatibilityLevel.FULL, client.compatibility());
        } finally {
            client.setCompatibility(CompatibilityLevel.BACKWARD);
        }
    }

    @Test
    void sendsBasicAuthAndTheRegistryContentType() {
        try (ScriptedHttpServer server = new ScriptedHttpServer("").answer(200, "{\"id\": 7}")) {
            SchemaRegistryClient basic = SchemaRegistryClient.fromConfig(Map.of(
                    SchemaRegistryClient.URL_CONFIG, server.url(),
                    SchemaRegistryClient.BASIC_AUTH_USER_INFO_CONFIG, "alice:s3cret:with-colon"));
            assertEquals(7, basic.register("auth-value", GREETING_V1));
            ScriptedHttpServer.Request request = server.requests().get(0);
            // base64("alice:s3cret:with-colon")
            assertEquals("Basic YWxpY2U6czNjcmV0OndpdGgtY29sb24=", request.authorization());
            assertEquals("POST", request.method());
            assertEquals("/subjects/auth-value/versions", request.path());
            assertEquals(SchemaRegistryClient.CONTENT_TYPE, request.contentType());
            assertTrue(request.body().contains("\"schema\""), request.body());
        }
    }

    /** Credentials in the URL (percent-encoded, as URLs carry them) go to the header and never into messages. */
    @Test
    void credentialsInTheUrlBecomeBasicAuthAndNeverReachMessages() {
        try (ScriptedHttpServer server = new ScriptedHttpServer("").answer(200, "{\"id\": 7}")) {
            String withCredentials = server.url().replace("http://", "http://alice:p%40ss@");
            SchemaRegistryClient basic = SchemaRegistryClient.builder(withCredentials).build();
            assertEquals(7, basic.register("auth-value", GREETING_V1));
            // base64("alice:p@ss")
            assertEquals("Basic YWxpY2U6cEBzcw==", server.requests().get(0).authorization());
        }
        SchemaRegistryClient unreachable = SchemaRegistryClient.builder("http://alice:p%40ss@127.0.0.1:1")
                .maxRetries(0).build();
        SchemaRegistryException failed = assertThrows(SchemaRegistryException.class,
                () -> unreachable.register("auth-value", GREETING_V1));
        assertFalse(failed.getMessage().contains("p%40ss") || failed.getMessage().contains("p@ss"), failed.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> SchemaRegistryClient.builder("http://alice:p%40ss@/no host"));
        assertFalse(bad.getMessage().contains("p%40ss"), bad.getMessage());
    }

    @Test
    void sendsBearerTokenUnderAPathPrefix() {
        try (ScriptedHttpServer server = new ScriptedHttpServer("/apis/ccompat/v7")
                .answer(200, "{\"schema\": \"\\\"string\\\"\"}")) {
            SchemaRegistryClient bearer = SchemaRegistryClient.fromConfig(Map.of(
                    SchemaRegistryClient.URL_CONFIG, server.url() + "/apis/ccompat/v7/",
                    SchemaRegistryClient.BEARER_AUTH_TOKEN_CONFIG, "token-123"));
            assertEquals(Schema.create(Schema.Type.STRING), bearer.schemaById(3));
            assertEquals(Schema.create(Schema.Type.STRING), bearer.schemaById(3));
            assertEquals(1, server.requests().size(), "a schema by id is fetched once, then cached");
            assertEquals("Bearer token-123", server.requests().get(0).authorization());
            assertEquals("/apis/ccompat/v7/schemas/ids/3", server.requests().get(0).path());
        }
    }

    @Test
    void retriesServerErrorsWithBackoffThenSucceeds() {
        try (ScriptedHttpServer server = new ScriptedHttpServer("")
                .answer(503, "{\"error_code\": 50003, \"message\": \"leader election in progress\"}")
                .answer(503, "<html>Service Unavailable</html>")
                .answer(200, "{\"id\": 42}")) {
            SchemaRegistryClient retrying = SchemaRegistryClient.builder(server.url()).maxRetries(3)
                    .backoff(Duration.ofMillis(20), Duration.ofMillis(100)).build();
            long start = System.nanoTime();
            assertEquals(42, retrying.register("flaky-value", GREETING_V1));
            long elapsedMs = (System.nanoTime() - start) / 1_000_000;
            assertEquals(3, server.requests().size());
            assertTrue(elapsedMs >= 60, "waited 20 then 40 ms between attempts, took " + elapsedMs + " ms");
        }
    }

    @Test
    void givesUpAfterTheLastRetryWithTheRegistrysMessage() {
        try (ScriptedHttpServer server = new ScriptedHttpServer("")
                .answer(500, "{\"error_code\": 50001, \"message\": \"store is broken\"}")) {
            SchemaRegistryClient retrying = SchemaRegistryClient.builder(server.url()).maxRetries(2)
                    .backoff(Duration.ofMillis(1), Duration.ofMillis(1)).build();
            SchemaRegistryException error = assertThrows(SchemaRegistryException.class,
                    () -> retrying.register("broken-value", GREETING_V1));
            assertEquals(3, server.requests().size());
            assertEquals(50001, error.errorCode());
            assertTrue(error.getMessage().contains("store is broken"), error.getMessage());
        }
    }

    @Test
    void doesNotRetryClientErrors() {
        try (ScriptedHttpServer server = new ScriptedHttpServer("")
                .answer(401, "{\"error_code\": 401, \"message\": \"Unauthorized\"}")) {
            SchemaRegistryClient retrying = SchemaRegistryClient.builder(server.url()).maxRetries(3)
                    .backoff(Duration.ofMillis(1), Duration.ofMillis(1)).build();
            SchemaRegistryException error = assertThrows(SchemaRegistryException.class,
                    () -> retrying.schemaById(1));
            assertEquals(401, error.httpStatus());
            assertTrue(error.getMessage().contains("Unauthorized"));
            assertEquals(1, server.requests().size());
        }
    }

    @Test
    void retriesConnectionFailuresOnTheNextUrl() {
        try (ScriptedHttpServer server = new ScriptedHttpServer("").answer(200, "{\"id\": 5}")) {
            // Port 1 on loopback refuses connections; the second URL answers.
            SchemaRegistryClient failover = SchemaRegistryClient.builder("http://127.0.0.1:1," + server.url())
                    .backoff(Duration.ofMillis(1), Duration.ofMillis(1)).build();
            assertEquals(5, failover.register("failover-value", GREETING_V1));
            assertEquals(1, server.requests().size());
        }
    }

    static Schema parse(String schema) {
        return new Schema.Parser().parse(schema);
    }
}
