package io.slmclassifier.kafka;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.TextMessage;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.kafka.registry.ScriptedHttpServer;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Byte-exact checks of what goes on the wire, against bytes worked out by hand from the Avro specification
 * (zig-zag varints, length-prefixed strings, block-encoded maps, union branch indexes), with a registry stub
 * that hands out an id whose four bytes all differ so that byte order shows.
 */
class WireFormatGoldenTest {

    private static final int SCHEMA_ID = 0x01020304;

    @Test
    void textMessageWithoutAttributes() {
        byte[] expected = {
            0x00, 0x01, 0x02, 0x03, 0x04, // magic byte, schema id big-endian
            0x02, 'a',                    // id: length 1 (zig-zag 2), "a"
            0x04, 'h', 'i',               // text: length 2 (zig-zag 4), "hi"
            0x00,                         // attributes: no blocks
        };
        assertGolden(expected, TextMessage.class, new TextMessage("a", "hi", Map.of()));
    }

    @Test
    void textMessageWithOneAttribute() {
        byte[] expected = {
            0x00, 0x01, 0x02, 0x03, 0x04,
            0x02, 'a',
            0x04, 'h', 'i',
            0x02,                         // attributes: a block of 1 entry (zig-zag 2)
            0x02, 'k', 0x02, 'v',         // "k" -> "v"
            0x00,                         // end of blocks
        };
        Map<String, String> attributes = new LinkedHashMap<>();
        attributes.put("k", "v");
        assertGolden(expected, TextMessage.class, new TextMessage("a", "hi", attributes));
    }

    @Test
    void adapterCommandWithEnumUnionAndTimestamp() {
        byte[] expected = {
            0x00, 0x01, 0x02, 0x03, 0x04,
            0x02,                         // command: enum index 1 = PIN (zig-zag 2)
            0x02, 0x0e,                   // version: union branch 1 (long), 7 (zig-zag 14)
            0x06, 'o', 'p', 's',          // requested_by: "ops"
            (byte) 0xd0, 0x0f,            // requested_at: 1000 ms, zig-zag 2000 = varint d0 0f
            0x02, 0x06, 'o', 'p', 's',    // issuer: union branch 1 (string), "ops"
            0x02, 0x10,                   // sequence: union branch 1 (long), 8 (zig-zag 16)
            0x00,                         // nonce: union branch 0 (null)
            0x00,                         // task: union branch 0 (null)
        };
        assertGolden(expected, AdapterCommand.class,
                new AdapterCommand(AdapterCommandType.PIN, 7L, "ops", Instant.ofEpochMilli(1000), "ops", 8L, null, null));
    }

    private static <T extends org.apache.avro.specific.SpecificRecord> void assertGolden(
            byte[] expected, Class<T> type, T record) {
        String schemaAnswer = "{\"schema\": " + quote(org.apache.avro.specific.SpecificData.get().getSchema(type)
                .toString()) + "}";
        // Writing: the registry hands out the id. Reading, with a fresh client: it hands out the schema.
        try (ScriptedHttpServer writerRegistry = new ScriptedHttpServer("").answer(200, "{\"id\": " + SCHEMA_ID + "}");
             ScriptedHttpServer readerRegistry = new ScriptedHttpServer("").answer(200, schemaAnswer)) {
            AvroSerde<T> writer = AvroSerde.forType(type, SchemaRegistryClient.builder(writerRegistry.url()).build());
            AvroSerde<T> reader = AvroSerde.forType(type, SchemaRegistryClient.builder(readerRegistry.url()).build());

            assertArrayEquals(expected, writer.serializer().serialize("golden", record));
            assertEquals(record, reader.deserializer().deserialize("golden", expected));
            assertEquals("/schemas/ids/" + SCHEMA_ID, readerRegistry.requests().get(0).path());
        }
    }

    private static String quote(String text) {
        return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
