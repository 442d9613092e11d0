package io.slmclassifier.kafka;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.TextMessage;
import io.slmclassifier.kafka.AvroDecodingException.Reason;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AvroSerdeTest {

    static EmbeddedSchemaRegistry registry;
    static SchemaRegistryClient client;

    @BeforeAll
    static void startRegistry() {
        registry = EmbeddedSchemaRegistry.startInMemory();
        client = SchemaRegistryClient.builder(registry.url()).build();
    }

    @AfterAll
    static void stopRegistry() {
        registry.close();
    }

    @Test
    void roundTripsAClassificationAndRegistersUnderTheTopicSubject() {
        AvroSerde<Classification> serde = AvroSerde.forType(Classification.class, client);
        Classification original = TestRecords.classification("c-1");

        byte[] bytes = serde.serializer().serialize("intents.classified", original);

        int id = client.latest("intents.classified-value").id();
        assertEquals(WireFormat.MAGIC_BYTE, bytes[0]);
        assertEquals(id, WireFormat.schemaId(bytes));
        assertEquals(original, serde.deserializer().deserialize("intents.classified", new RecordHeaders(), bytes));
        assertNull(serde.serializer().serialize("intents.classified", null), "tombstones stay null");
        assertNull(serde.deserializer().deserialize("intents.classified", null));
    }

    @Test
    void readsRecordsWrittenWithAnOlderSchemaUsingTheReaderDefaults() throws Exception {
        // The first TextMessage had no attributes; today's reader fills in the default, an empty map.
        Schema withoutAttributes = new Schema.Parser().parse("""
                {"type": "record", "name": "TextMessage", "namespace": "io.slmclassifier.avro",
                 "fields": [{"name": "id", "type": "string"}, {"name": "text", "type": "string"}]}""");
        int oldId = client.register("old-texts-value", withoutAttributes);
        GenericRecord old = new GenericData.Record(withoutAttributes);
        old.put("id", "m-1");
        old.put("text", "hello");

        TextMessage read = AvroSerde.forType(TextMessage.class, client).deserializer()
                .deserialize("old-texts", encode(oldId, withoutAttributes, old));

        assertEquals(new TextMessage("m-1", "hello", Map.of()), read);
    }

    @Test
    void readsRecordsWrittenWithANewerSchemaIgnoringFieldsItDoesNotKnow() throws Exception {
        Schema newer = new Schema.Parser().parse("""
                {"type": "record", "name": "TextMessage", "namespace": "io.slmclassifier.avro",
                 "fields": [{"name": "id", "type": "string"}, {"name": "text", "type": "string"},
                            {"name": "attributes", "type": {"type": "map", "values": "string"}, "default": {}},
                            {"name": "language", "type": ["null", "string"], "default": null}]}""");
        int newId = client.register("new-texts-value", newer);
        GenericRecord record = new GenericData.Record(newer);
        record.put("id", "m-2");
        record.put("text", "bonjour");
        record.put("attributes", Map.of("channel", "chat"));
        record.put("language", "fr");

        TextMessage read = AvroSerde.forType(TextMessage.class, client).deserializer()
                .deserialize("new-texts", encode(newId, newer, record));

        assertEquals(new TextMessage("m-2", "bonjour", Map.of("channel", "chat")), read);
    }

    @Test
    void refusesTheHeaderFormOfTheSchemaIdWithAnExplanation() {
        byte[] rawAvro = {0x02, 0x61, 0x04, 0x68, 0x69, 0x00}; // TextMessage{a, hi, {}} without a prefix
        RecordHeaders headers = new RecordHeaders();
        headers.add(WireFormat.VALUE_SCHEMA_ID_HEADER, new byte[17]);

        AvroDecodingException error = assertThrows(AvroDecodingException.class,
                () -> AvroSerde.forType(TextMessage.class, client).deserializer()
                        .deserialize("intents.in", headers, rawAvro));

        assertEquals(Reason.SCHEMA_ID_IN_HEADER, error.reason());
        assertTrue(error.getMessage().contains("__value_schema_id"), error.getMessage());
    }

    @Test
    void namesEveryReasonADecodeFails() {
        Deserializer<TextMessage> deserializer = AvroSerde.forType(TextMessage.class, client).deserializer();

        byte[] plainText = "just some text".getBytes(StandardCharsets.UTF_8);
        assertEquals(Reason.NOT_WIRE_FORMAT, reasonOf(() -> deserializer.deserialize("t", plainText)));
        assertEquals(Reason.NOT_WIRE_FORMAT, reasonOf(() -> deserializer.deserialize("t", new byte[] {0, 0, 1})));

        byte[] unknownId = {0, 0x7f, 0, 0, 0, 0x02, 0x61, 0x02, 0x62, 0x00};
        AvroDecodingException unknown = assertThrows(AvroDecodingException.class,
                () -> deserializer.deserialize("t", unknownId));
        assertEquals(Reason.UNKNOWN_SCHEMA_ID, unknown.reason());
        assertTrue(unknown.getMessage().contains(Integer.toString(0x7f000000)), unknown.getMessage());

        int classificationId = client.register("mixed-value", Classification.getClassSchema());
        byte[] classificationBytes = AvroSerde.forType(Classification.class, client).serializer()
                .serialize("mixed", TestRecords.classification("x"));
        assertEquals(classificationId, WireFormat.schemaId(classificationBytes));
        assertEquals(Reason.INCOMPATIBLE_SCHEMA, reasonOf(() -> deserializer.deserialize("mixed",
                classificationBytes)));

        byte[] textBytes = AvroSerde.forType(TextMessage.class, client).serializer()
                .serialize("texts", new TextMessage("id", "text", Map.of()));
        byte[] cut = java.util.Arrays.copyOf(textBytes, textBytes.length - 3);
        assertEquals(Reason.MALFORMED_DATUM, reasonOf(() -> deserializer.deserialize("texts", cut)));
        byte[] padded = java.util.Arrays.copyOf(textBytes, textBytes.length + 2);
        assertEquals(Reason.MALFORMED_DATUM, reasonOf(() -> deserializer.deserialize("texts", padded)));
    }

    @Test
    void withoutAutoRegistrationAnUnregisteredSchemaIsAnError() {
        Serializer<TextMessage> serializer = AvroSerde.forType(TextMessage.class, client).autoRegister(false)
                .serializer();
        SerializationException error = assertThrows(SerializationException.class,
                () -> serializer.serialize("unregistered", new TextMessage("i", "t", Map.of())));
        assertTrue(error.getMessage().contains("unregistered-value"), error.getMessage());

        client.register("unregistered-value", TextMessage.getClassSchema());
        assertEquals(TextMessage.getClassSchema(), client.schemaById(WireFormat.schemaId(
                serializer.serialize("unregistered", new TextMessage("i", "t", Map.of())))));
    }

    @Test
    void aSchemaIdResolvedAheadServesTheFirstRecordWithoutTheRegistry() {
        EmbeddedSchemaRegistry own = EmbeddedSchemaRegistry.startInMemory();
        AvroSerde<Classification> serde = AvroSerde.forType(Classification.class,
                SchemaRegistryClient.builder(own.url()).build());
        int id;
        try (own) {
            id = serde.schemaId("ahead.classified");
            assertEquals(id, SchemaRegistryClient.builder(own.url()).build().latest("ahead.classified-value").id());
        }
        // The registry is gone: the first record can only have its id from what schemaId learnt.
        byte[] bytes = serde.serializer().serialize("ahead.classified", TestRecords.classification("c-1"));
        assertEquals(id, WireFormat.schemaId(bytes));

        SerializationException refused = assertThrows(SerializationException.class,
                () -> AvroSerde.forType(TextMessage.class, client).autoRegister(false).schemaId("never-registered"));
        assertTrue(refused.getMessage().contains("never-registered-value"), refused.getMessage());
        assertThrows(IllegalStateException.class, () -> AvroSerde.forType(SpecificRecord.class, client).schemaId("t"));
    }

    @Test
    void configuredByKafkaCarriesSeveralRecordTypesOnTheControlTopic() {
        Map<String, Object> config = Map.of(
                SchemaRegistryClient.URL_CONFIG, registry.url(),
                AvroSerde.VALUE_SUBJECT_NAME_STRATEGY_CONFIG,
                "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy");
        AvroSerde<SpecificRecord> serde = new AvroSerde<>();
        serde.configure(config, false);
        AdapterEvent event = AdapterEvent.newBuilder().setVersion(4).setParentVersion(3L)
                .setBaseModelId("Qwen/Qwen3-0.6B").setBaseModelSha256("ab").setTaskName("emotion")
                .setTaskHash("cd").setSha256("ef").setSizeBytes(40_000_000L).setMetrics(Map.of("macro_f1", 0.88))
                .setCreatedAt(Instant.ofEpochMilli(1_700_000_000_000L)).setStatus(AdapterStatus.CANDIDATE).build();
        AdapterCommand command = new AdapterCommand(AdapterCommandType.PIN, 4L, "ops",
                Instant.ofEpochMilli(1_700_000_001_000L), "ops", 1_700_000_001_000L, "nonce-1", "intents");

        byte[] eventBytes = serde.serializer().serialize("intents.control", event);
        byte[] commandBytes = serde.serializer().serialize("intents.control", command);

        assertEquals(event, serde.deserializer().deserialize("intents.control", eventBytes));
        assertEquals(command, serde.deserializer().deserialize("intents.control", commandBytes));
        assertTrue(client.subjects().containsAll(java.util.List.of(
                "intents.control-io.slmclassifier.avro.AdapterEvent",
                "intents.control-io.slmclassifier.avro.AdapterCommand")));
    }

    @Test
    void keySerdeUsesTheKeySubject() {
        AvroSerde<TextMessage> keys = AvroSerde.forType(TextMessage.class, client).forKeys();
        byte[] bytes = keys.serializer().serialize("keyed", new TextMessage("k", "", Map.of()));
        assertEquals(client.latest("keyed-key").id(), WireFormat.schemaId(bytes));
    }

    private static AvroDecodingException.Reason reasonOf(org.junit.jupiter.api.function.Executable decode) {
        return assertThrows(AvroDecodingException.class, decode).reason();
    }

    static byte[] encode(int schemaId, Schema schema, GenericRecord record) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(WireFormat.prefix(schemaId));
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
        encoder.flush();
        return out.toByteArray();
    }

    @Test
    void prefixIsMagicByteThenBigEndianId() {
        assertArrayEquals(new byte[] {0, 0x01, 0x02, 0x03, 0x04}, WireFormat.prefix(0x01020304));
        assertArrayEquals(new byte[] {0, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xfe}, WireFormat.prefix(-2));
    }
}
