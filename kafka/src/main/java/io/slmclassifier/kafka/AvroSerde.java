package io.slmclassifier.kafka;

import io.slmclassifier.kafka.AvroDecodingException.Reason;
import io.slmclassifier.kafka.registry.CompatibilityChecker;
import io.slmclassifier.kafka.registry.CompatibilityLevel;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.kafka.registry.SchemaRegistryException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DatumReader;
import org.apache.avro.io.DatumWriter;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka serde for Avro specific records in the Confluent wire format ({@link WireFormat}), with schemas in a
 * registry reached through {@link SchemaRegistryClient}.
 *
 * <p>The serializer finds the schema id under the subject of the topic (by {@link SubjectNameStrategy}),
 * registering the schema when {@code auto.register.schemas} is true (the default). The deserializer fetches the
 * writer's schema by the id in the payload and resolves it to the reader's schema (the configured record type),
 * so records written with an older or newer compatible schema decode into today's class.
 *
 * <p>Built in code with {@link #forType}, or by Kafka from configuration (no-argument constructor, then
 * {@link #configure}) with the keys below plus those of {@link SchemaRegistryClient#fromConfig}.
 */
public class AvroSerde<T extends SpecificRecord> implements Serde<T> {

    public static final String AUTO_REGISTER_SCHEMAS_CONFIG = "auto.register.schemas";
    public static final String KEY_SUBJECT_NAME_STRATEGY_CONFIG = "key.subject.name.strategy";
    public static final String VALUE_SUBJECT_NAME_STRATEGY_CONFIG = "value.subject.name.strategy";
    /** Class of the records; when absent, the class named by the writer's schema is used. */
    public static final String SPECIFIC_KEY_TYPE_CONFIG = "specific.avro.key.type";
    public static final String SPECIFIC_VALUE_TYPE_CONFIG = "specific.avro.value.type";

    private Class<T> type;
    private Schema readerSchema;
    private SchemaRegistryClient registry;
    private boolean autoRegister = true;
    private SubjectNameStrategy subjectNameStrategy = SubjectNameStrategy.TOPIC;
    private boolean isKey;

    private final Map<Schema, DatumWriter<T>> writers = new ConcurrentHashMap<>();
    private final Map<Integer, DatumReader<T>> readersByWriterId = new ConcurrentHashMap<>();

    /** For Kafka, which instantiates serdes from class names and then calls {@link #configure}. */
    public AvroSerde() {
    }

    /**
     * A value serde for records of {@code type}; {@code type} may be {@code SpecificRecord.class} to decode
     * whatever generated class the writer's schema names.
     */
    public static <T extends SpecificRecord> AvroSerde<T> forType(Class<T> type, SchemaRegistryClient registry) {
        AvroSerde<T> serde = new AvroSerde<>();
        serde.registry = registry;
        serde.setType(type);
        return serde;
    }

    /** Whether the serializer registers schemas it does not find (default true). */
    public AvroSerde<T> autoRegister(boolean autoRegister) {
        this.autoRegister = autoRegister;
        return this;
    }

    public AvroSerde<T> subjectNameStrategy(SubjectNameStrategy strategy) {
        this.subjectNameStrategy = strategy;
        return this;
    }

    /** Make this a key serde: subjects become {@code <topic>-key} and the key schema-id header is checked. */
    public AvroSerde<T> forKeys() {
        this.isKey = true;
        return this;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void configure(Map<String, ?> configs, boolean isKey) {
        this.isKey = isKey;
        if (registry == null) {
            registry = SchemaRegistryClient.fromConfig(configs);
        }
        Object register = configs.get(AUTO_REGISTER_SCHEMAS_CONFIG);
        if (register != null) {
            autoRegister = Boolean.parseBoolean(register.toString());
        }
        Object strategy = configs.get(isKey ? KEY_SUBJECT_NAME_STRATEGY_CONFIG : VALUE_SUBJECT_NAME_STRATEGY_CONFIG);
        if (strategy != null) {
            subjectNameStrategy = SubjectNameStrategy.parse(strategy instanceof Class<?> c ? c.getName()
                    : strategy.toString());
        }
        Object typeSetting = configs.get(isKey ? SPECIFIC_KEY_TYPE_CONFIG : SPECIFIC_VALUE_TYPE_CONFIG);
        if (typeSetting != null && type == null) {
            try {
                Class<?> configured = typeSetting instanceof Class<?> c ? c
                        : Class.forName(typeSetting.toString(), true, Thread.currentThread().getContextClassLoader());
                setType((Class<T>) configured.asSubclass(SpecificRecord.class));
            } catch (ClassNotFoundException e) {
                throw new IllegalArgumentException("record class not found: " + typeSetting, e);
            }
        }
        if (type == null) {
            setType((Class<T>) (Class<?>) SpecificRecord.class);
        }
    }

    private void setType(Class<T> type) {
        this.type = type;
        // SpecificRecord itself means "whatever the writer's schema names": no fixed reader schema then.
        this.readerSchema = type == SpecificRecord.class ? null : SpecificData.get().getSchema(type);
    }

    @Override
    public Serializer<T> serializer() {
        return new AvroSerializer();
    }

    @Override
    public Deserializer<T> deserializer() {
        return new AvroDeserializer();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Serializing

    /**
     * The id this serde's records go to {@code topic} under: looked up in the registry (registered when
     * {@code auto.register.schemas} is on) and cached, as the serializer's first record would. For a service that
     * would rather pay that round trip, and learn of a registry that refuses the schema, before its first record.
     *
     * @throws SerializationException as {@link #serialize} would
     * @throws IllegalStateException for a serde of {@code SpecificRecord}, which has no one schema
     */
    public int schemaId(String topic) {
        if (readerSchema == null) {
            throw new IllegalStateException("a serde of any SpecificRecord has no one schema to look up");
        }
        return idFor(topic, readerSchema);
    }

    /** Encodes a record: prefix with the schema id, then the binary datum. */
    public byte[] serialize(String topic, T record) {
        if (record == null) {
            return null; // tombstones stay tombstones
        }
        Schema schema = record.getSchema();
        int id = idFor(topic, schema);
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        out.writeBytes(WireFormat.prefix(id));
        try {
            BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
            writers.computeIfAbsent(schema, AvroSerde::writerFor).write(record, encoder);
            encoder.flush();
        } catch (IOException | AvroRuntimeException e) {
            throw new SerializationException("could not encode " + schema.getFullName() + " for topic " + topic
                    + ": " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    private int idFor(String topic, Schema schema) {
        String subject = subjectNameStrategy.subject(topic, isKey, schema);
        try {
            return registry.idFor(subject, schema, autoRegister);
        } catch (SchemaRegistryException e) {
            throw new SerializationException("could not get a schema id for " + schema.getFullName()
                    + " under subject " + subject + (autoRegister ? "" : " (auto.register.schemas=false)")
                    + ": " + e.getMessage(), e);
        }
    }

    private static <T> DatumWriter<T> writerFor(Schema schema) {
        // The model of the generated class knows its logical-type conversions (timestamps as Instant).
        return new SpecificDatumWriter<>(schema, SpecificData.getForSchema(schema));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Deserializing

    /**
     * Decodes a record in the wire format.
     *
     * @throws AvroDecodingException naming the reason when the bytes cannot be decoded
     */
    public T deserialize(String topic, Headers headers, byte[] data) {
        if (data == null) {
            return null;
        }
        if (!WireFormat.hasPrefix(data)) {
            throw notWireFormat(topic, headers, data);
        }
        int id = WireFormat.schemaId(data);
        DatumReader<T> reader = readersByWriterId.computeIfAbsent(id, writerId -> readerFor(topic, writerId));
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(
                data, WireFormat.PREFIX_LENGTH, data.length - WireFormat.PREFIX_LENGTH, null);
        try {
            T record = reader.read(null, decoder);
            if (!decoder.isEnd()) {
                throw new AvroDecodingException(Reason.MALFORMED_DATUM, "record on " + topic + " with schema id "
                        + id + " has bytes left after the datum: it was not written with that schema");
            }
            return record;
        } catch (IOException | AvroRuntimeException | IndexOutOfBoundsException | NegativeArraySizeException e) {
            throw new AvroDecodingException(Reason.MALFORMED_DATUM, "record on " + topic + " is not a valid datum of"
                    + " schema id " + id + ": " + e, e);
        }
    }

    private AvroDecodingException notWireFormat(String topic, Headers headers, byte[] data) {
        Header idHeader = WireFormat.schemaIdHeader(headers, isKey);
        if (idHeader != null && (data.length == 0 || data[0] != WireFormat.MAGIC_BYTE)) {
            return new AvroDecodingException(Reason.SCHEMA_ID_IN_HEADER, "record on " + topic + " carries its"
                    + " schema id in the " + idHeader.key() + " header (Confluent 8 header form), which this"
                    + " deserializer does not read: configure the producer's serializer to put the id in the"
                    + " payload (value.schema.id.serializer=io.confluent.kafka.serializers.schema.id"
                    + ".PrefixSchemaIdSerializer)");
        }
        String start = data.length == 0 ? "an empty payload" : String.format("first byte 0x%02x", data[0]);
        return new AvroDecodingException(Reason.NOT_WIRE_FORMAT, "record on " + topic + " is not in the schema"
                + " registry wire format (" + start + ", " + data.length + " bytes; expected magic byte 0x00 and"
                + " a 4-byte schema id)");
    }

    private DatumReader<T> readerFor(String topic, int writerId) {
        Schema writerSchema;
        try {
            writerSchema = registry.schemaById(writerId);
        } catch (SchemaRegistryException.SchemaNotFoundException e) {
            throw new AvroDecodingException(Reason.UNKNOWN_SCHEMA_ID, "record on " + topic + " has schema id "
                    + writerId + ", which the registry does not know: " + e.getMessage(), e);
        } catch (SchemaRegistryException e) {
            throw new AvroDecodingException(Reason.REGISTRY_FAILURE, "could not fetch schema id " + writerId
                    + " for a record on " + topic + ": " + e.getMessage(), e);
        }
        Schema reader = readerSchema != null ? readerSchema : generatedSchemaFor(writerSchema, topic, writerId);
        // Check once per writer schema, so an incompatible writer fails with the reason instead of garbage.
        if (!CompatibilityChecker.canRead(reader, writerSchema)) {
            throw new AvroDecodingException(Reason.INCOMPATIBLE_SCHEMA, "records on " + topic + " written with"
                    + " schema id " + writerId + " (" + writerSchema.getFullName() + ") cannot be read as "
                    + reader.getFullName() + ": "
                    + CompatibilityChecker.check(CompatibilityLevel.FORWARD, writerSchema, List.of(reader)));
        }
        return new SpecificDatumReader<>(writerSchema, reader, SpecificData.getForSchema(reader));
    }

    private static Schema generatedSchemaFor(Schema writerSchema, String topic, int writerId) {
        Class<?> generated = SpecificData.get().getClass(writerSchema);
        if (generated == null || !SpecificRecord.class.isAssignableFrom(generated)) {
            throw new AvroDecodingException(Reason.INCOMPATIBLE_SCHEMA, "no generated class for "
                    + writerSchema.getFullName() + " (schema id " + writerId + " on " + topic + ")");
        }
        return SpecificData.get().getSchema(generated);
    }

    private final class AvroSerializer implements Serializer<T> {
        @Override
        public void configure(Map<String, ?> configs, boolean isKey) {
            AvroSerde.this.configure(configs, isKey);
        }

        @Override
        public byte[] serialize(String topic, T data) {
            return AvroSerde.this.serialize(topic, data);
        }
    }

    private final class AvroDeserializer implements Deserializer<T> {
        @Override
        public void configure(Map<String, ?> configs, boolean isKey) {
            AvroSerde.this.configure(configs, isKey);
        }

        @Override
        public T deserialize(String topic, byte[] data) {
            return AvroSerde.this.deserialize(topic, null, data);
        }

        @Override
        public T deserialize(String topic, Headers headers, byte[] data) {
            return AvroSerde.this.deserialize(topic, headers, data);
        }
    }
}
