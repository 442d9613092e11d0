package io.slmclassifier.stream;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * A decoded input waiting in the changelogged store for its batch: everything needed to emit its result as if
 * it had never waited (key, timestamp, headers, source coordinates). JSON through Jackson; byte arrays as base64.
 */
public record PendingRecord(byte[] key, String id, String text, boolean truncated, long timestamp,
        List<HeaderValue> headers, String topic, int partition, long offset) {

    public record HeaderValue(String key, byte[] value) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    public static List<HeaderValue> copy(Headers headers) {
        List<HeaderValue> out = new ArrayList<>();
        for (Header h : headers) {
            out.add(new HeaderValue(h.key(), h.value()));
        }
        return out;
    }

    public Headers kafkaHeaders() {
        RecordHeaders out = new RecordHeaders();
        headers.forEach(h -> out.add(h.key(), h.value()));
        return out;
    }

    /** Store key: partition and zero-padded offset, so the store iterates in input order. */
    public static String storeKey(int partition, long offset) {
        return String.format("%05d-%019d", partition, offset);
    }

    public byte[] toBytes() {
        try {
            return JSON.writeValueAsBytes(this);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static PendingRecord fromBytes(byte[] bytes) {
        try {
            return JSON.readValue(bytes, PendingRecord.class);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
