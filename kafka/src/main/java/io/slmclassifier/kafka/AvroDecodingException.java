package io.slmclassifier.kafka;

import org.apache.kafka.common.errors.SerializationException;

/**
 * A record that could not be decoded, with the reason as a value so that the dead-letter path can name it in a
 * header without parsing messages.
 */
public class AvroDecodingException extends SerializationException {

    /** Why decoding failed. */
    public enum Reason {
        /** The payload does not start with the magic byte 0x00 or is shorter than the 5-byte prefix. */
        NOT_WIRE_FORMAT,
        /** The schema id came in a {@code __value_schema_id}/{@code __key_schema_id} header, which is not read. */
        SCHEMA_ID_IN_HEADER,
        /** The registry knows no schema with the payload's id. */
        UNKNOWN_SCHEMA_ID,
        /** The writer's schema cannot be resolved to the reader's schema. */
        INCOMPATIBLE_SCHEMA,
        /** The bytes after the prefix are not a valid datum of the writer's schema. */
        MALFORMED_DATUM,
        /** The registry could not be asked (unreachable, server errors after retries). */
        REGISTRY_FAILURE
    }

    private final Reason reason;

    public AvroDecodingException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public AvroDecodingException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
