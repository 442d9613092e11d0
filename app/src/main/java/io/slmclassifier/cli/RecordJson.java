package io.slmclassifier.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.kafka.WireFormat;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collection;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.IndexedRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * A consumed record as one JSON object, for a person or for {@code jq}: where it was, its key, its headers and its
 * value. Bytes become what they are: an Avro value in the registry's wire format is decoded by its writer
 * schema (the one its schema id names), UTF-8 text stays text, and anything else, a dead letter's cut or
 * undecodable value say, is base64 so that not a byte is lost.
 *
 * <pre>{"topic": "intents.dlq", "partition": 0, "offset": 7, "timestamp": 1733, "key": "k1",
 *  "headers": {"slm.error.type": "empty-text", "trace": {"base64": "AQI="}},
 *  "value_base64": "AAAAAAE...", "value_error": "..."}</pre>
 */
final class RecordJson {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    /** Null where no registry was given: then a wire-format value is shown as its bytes. */
    private final SchemaRegistryClient registry;

    RecordJson(SchemaRegistryClient registry) {
        this.registry = registry;
    }

    ObjectNode of(ConsumerRecord<byte[], byte[]> record) {
        ObjectNode node = JSON.objectNode();
        node.put("topic", record.topic());
        node.put("partition", record.partition());
        node.put("offset", record.offset());
        node.put("timestamp", record.timestamp());
        putBytes(node, "key", record.key());
        ObjectNode headers = node.putObject("headers");
        for (Header h : record.headers()) {
            JsonNode value = h.value() == null ? JSON.nullNode() : textOrBase64(h.value());
            JsonNode earlier = headers.get(h.key());
            // A name may repeat (a dead letter keeps the original's headers as they were): then all its values, in order.
            if (earlier == null) {
                headers.set(h.key(), value);
            } else if (earlier instanceof ArrayNode repeated) {
                repeated.add(value);
            } else {
                headers.putArray(h.key()).add(earlier).add(value);
            }
        }
        putValue(node, record.value());
        return node;
    }

    private void putValue(ObjectNode node, byte[] value) {
        if (value != null && registry != null && WireFormat.hasPrefix(value)) {
            int schemaId = WireFormat.schemaId(value);
            try {
                Schema writer = registry.schemaById(schemaId);
                node.set("value", avro(writer, value));
                node.put("schema_id", schemaId);
                return;
            } catch (IOException | RuntimeException e) {
                // A cut dead letter keeps the prefix but not the whole datum; an id may be unknown to this registry.
                node.put("value_error", "not an Avro value of schema " + schemaId + ": " + e.getMessage());
                node.put("value_base64", Base64.getEncoder().encodeToString(value));
                return;
            }
        }
        putBytes(node, "value", value);
    }

    /** {@code name} as text where the bytes are UTF-8, else {@code name_base64}; null stays null. */
    private static void putBytes(ObjectNode node, String name, byte[] bytes) {
        if (bytes == null) {
            node.putNull(name);
            return;
        }
        String text = utf8(bytes);
        if (text != null) {
            node.put(name, text);
        } else {
            node.put(name + "_base64", Base64.getEncoder().encodeToString(bytes));
        }
    }

    private static JsonNode textOrBase64(byte[] bytes) {
        String text = utf8(bytes);
        return text != null ? JSON.textNode(text)
                : JSON.objectNode().put("base64", Base64.getEncoder().encodeToString(bytes));
    }

    /** The text, or null where the bytes are not UTF-8. */
    private static String utf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** The datum after the wire-format prefix, read by its writer schema; all of it, or it is no such datum. */
    static JsonNode avro(Schema writer, byte[] value) throws IOException {
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(value, WireFormat.PREFIX_LENGTH,
                value.length - WireFormat.PREFIX_LENGTH, null);
        Object datum = new GenericDatumReader<>(writer).read(null, decoder);
        if (!decoder.isEnd()) {
            throw new IOException("bytes are left after the datum");
        }
        return json(writer, datum);
    }

    /**
     * Plain JSON, as a person reads it: a union's value without the branch's name around it (Avro's own JSON
     * encoding writes {@code {"long": 3}}), bytes as base64, numbers JSON cannot hold (NaN, infinities) as text.
     */
    static JsonNode json(Schema schema, Object datum) {
        return switch (schema.getType()) {
            case NULL -> JSON.nullNode();
            case BOOLEAN -> JSON.booleanNode((Boolean) datum);
            case INT -> JSON.numberNode((Integer) datum);
            case LONG -> JSON.numberNode((Long) datum);
            case FLOAT, DOUBLE -> {
                double d = ((Number) datum).doubleValue();
                yield Double.isFinite(d) ? JSON.numberNode(d) : JSON.textNode(String.valueOf(d));
            }
            case STRING, ENUM -> JSON.textNode(datum.toString());
            case BYTES -> {
                ByteBuffer buffer = ((ByteBuffer) datum).duplicate();
                byte[] bytes = new byte[buffer.remaining()];
                buffer.get(bytes);
                yield JSON.textNode(Base64.getEncoder().encodeToString(bytes));
            }
            case FIXED -> JSON.textNode(Base64.getEncoder().encodeToString(((GenericFixed) datum).bytes()));
            case UNION -> json(schema.getTypes().get(GenericData.get().resolveUnion(schema, datum)), datum);
            case ARRAY -> {
                ArrayNode array = JSON.arrayNode();
                for (Object element : (Collection<?>) datum) {
                    array.add(json(schema.getElementType(), element));
                }
                yield array;
            }
            case MAP -> {
                ObjectNode map = JSON.objectNode();
                for (Map.Entry<?, ?> e : ((Map<?, ?>) datum).entrySet()) {
                    map.set(e.getKey().toString(), json(schema.getValueType(), e.getValue()));
                }
                yield map;
            }
            case RECORD -> {
                ObjectNode record = JSON.objectNode();
                IndexedRecord r = (IndexedRecord) datum;
                for (Schema.Field field : schema.getFields()) {
                    record.set(field.name(), json(field.schema(), r.get(field.pos())));
                }
                yield record;
            }
        };
    }
}
