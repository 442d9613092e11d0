package io.slmclassifier.kafka;

import java.nio.ByteBuffer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * The Confluent wire format of a registry-encoded record: byte 0x00, the schema id as a 4-byte big-endian
 * integer, then the Avro binary datum. Every registry-aware client (Confluent, Apicurio in ccompat mode,
 * Karapace, Redpanda) reads and writes this form.
 */
public final class WireFormat {

    public static final byte MAGIC_BYTE = 0x00;
    /** Magic byte plus schema id. */
    public static final int PREFIX_LENGTH = 5;
    /** Headers in which Confluent 8 serializers may put the schema id instead of the payload prefix. */
    public static final String VALUE_SCHEMA_ID_HEADER = "__value_schema_id";
    public static final String KEY_SCHEMA_ID_HEADER = "__key_schema_id";

    private WireFormat() {
    }

    /** Writes the 5-byte prefix for a schema id. */
    public static byte[] prefix(int schemaId) {
        return ByteBuffer.allocate(PREFIX_LENGTH).put(MAGIC_BYTE).putInt(schemaId).array();
    }

    /** True when the payload is long enough and starts with the magic byte: it may be in the wire format. */
    public static boolean hasPrefix(byte[] payload) {
        return payload != null && payload.length >= PREFIX_LENGTH && payload[0] == MAGIC_BYTE;
    }

    /** The schema id of a payload that {@link #hasPrefix has the prefix}. */
    public static int schemaId(byte[] payload) {
        return ByteBuffer.wrap(payload, 1, 4).getInt();
    }

    /** The header that would carry the schema id of a key or value, when a Confluent 8 serializer put it there. */
    public static Header schemaIdHeader(Headers headers, boolean isKey) {
        return headers == null ? null : headers.lastHeader(isKey ? KEY_SCHEMA_ID_HEADER : VALUE_SCHEMA_ID_HEADER);
    }
}
