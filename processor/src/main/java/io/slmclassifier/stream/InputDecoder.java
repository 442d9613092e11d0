package io.slmclassifier.stream;

import io.slmclassifier.avro.TextMessage;
import io.slmclassifier.classify.Texts;
import io.slmclassifier.kafka.WireFormat;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * Turns an input value into a text: plain UTF-8, or an Avro {@code TextMessage} in the registry's wire format
 * (magic byte 0, 4-byte schema id, datum). {@code auto} takes a value starting with the magic byte and at least
 * five bytes long for Avro, anything else for text.
 */
public final class InputDecoder {

    public enum Format { AUTO, TEXT, AVRO }

    /** What the processor keeps of an input value. */
    public record Decoded(String id, String text, boolean truncated) {}

    /**
     * Bounds on what a record may bring besides its text, so a waiting record always fits the store's changelog.
     *
     * @param maxIdChars longest message id
     * @param maxHeaders most headers
     * @param maxHeaderBytes most bytes of header keys and values together
     */
    public record Limits(int maxIdChars, int maxHeaders, int maxHeaderBytes) {
        public static Limits defaults() {
            return new Limits(1000, 64, 65_536);
        }
    }

    private final Format format;
    private final Function<byte[], TextMessage> avro;
    private final int maxChars;
    private final boolean truncate;
    private final Limits limits;

    /**
     * @param avro decodes the wire format (throws {@link BadInput}); null when no registry is configured
     * @param truncate true: cut texts over {@code maxChars} and flag them; false: reject them
     */
    public InputDecoder(Format format, Function<byte[], TextMessage> avro, int maxChars, boolean truncate) {
        this(format, avro, maxChars, truncate, Limits.defaults());
    }

    public InputDecoder(Format format, Function<byte[], TextMessage> avro, int maxChars, boolean truncate, Limits limits) {
        if (format == Format.AVRO && avro == null) {
            throw new IllegalArgumentException("input.format=avro needs schema.registry.url");
        }
        this.format = format;
        this.avro = avro;
        this.maxChars = maxChars;
        this.truncate = truncate;
        this.limits = limits;
    }

    public static Format format(String name) {
        try {
            return Format.valueOf(name.trim().toUpperCase());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("input.format must be auto, text or avro, not '" + name + "'");
        }
    }

    /** @param fallbackId the id when the value carries none (topic-partition-offset) */
    public Decoded decode(byte[] value, Headers headers, String fallbackId) {
        if (value == null || value.length == 0) {
            throw new BadInput(BadInput.Reason.EMPTY_TEXT, "the record has no value");
        }
        checkHeaders(headers);
        if (WireFormat.schemaIdHeader(headers, false) != null && !WireFormat.hasPrefix(value)) {
            throw new BadInput(BadInput.Reason.HEADER_SCHEMA_ID, "the schema id comes in the __value_schema_id header; "
                    + "only the wire format with the id in the payload (magic byte 0) is supported");
        }
        boolean isAvro = format == Format.AVRO || (format == Format.AUTO && avro != null && WireFormat.hasPrefix(value));
        String id = fallbackId;
        String text;
        if (isAvro) {
            if (!WireFormat.hasPrefix(value)) {
                throw new BadInput(BadInput.Reason.UNDECODABLE, "not in the registry wire format (no magic byte 0)");
            }
            TextMessage message;
            try {
                message = avro.apply(value);
            } catch (OutOfMemoryError e) {
                // A length field that announces gigabytes: the allocation fails, the record is bad, the heap is fine.
                throw new BadInput(BadInput.Reason.UNDECODABLE, "the Avro datum announces more data than fits in memory");
            }
            text = message.getText();
            if (message.getId() != null && !message.getId().isBlank()) {
                id = message.getId();
                if (id.length() > limits.maxIdChars()) {
                    throw new BadInput(BadInput.Reason.ID_TOO_LONG, "the message id has " + id.length()
                            + " characters, more than id.max.chars=" + limits.maxIdChars());
                }
            }
        } else {
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(value)).toString();
            } catch (CharacterCodingException e) {
                throw new BadInput(BadInput.Reason.UNDECODABLE, "the value is not valid UTF-8 text");
            }
        }
        if (text == null || text.isBlank()) {
            throw new BadInput(BadInput.Reason.EMPTY_TEXT, "the text is empty");
        }
        if (text.length() > maxChars) {
            if (!truncate) {
                throw new BadInput(BadInput.Reason.TEXT_TOO_LONG, "the text has " + text.length()
                        + " characters, more than text.max.chars=" + maxChars);
            }
            return new Decoded(id, Texts.cut(text, maxChars), true);
        }
        return new Decoded(id, text, false);
    }

    private void checkHeaders(Headers headers) {
        Header[] all = headers.toArray();
        if (all.length > limits.maxHeaders()) {
            throw new BadInput(BadInput.Reason.HEADERS_TOO_LARGE, "the record has " + all.length
                    + " headers, more than headers.max.count=" + limits.maxHeaders());
        }
        long bytes = 0;
        for (Header h : all) {
            bytes += h.key().getBytes(StandardCharsets.UTF_8).length + (h.value() == null ? 0 : h.value().length);
        }
        if (bytes > limits.maxHeaderBytes()) {
            throw new BadInput(BadInput.Reason.HEADERS_TOO_LARGE, "the record's headers take " + bytes
                    + " bytes, more than headers.max.bytes=" + limits.maxHeaderBytes());
        }
    }
}
