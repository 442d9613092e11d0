package io.slmclassifier.kafka;

import io.slmclassifier.config.ServiceConfig;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Dead letters that always fit in one Kafka record. A dead letter is the refused record with
 * {@link DeadLetterHeaders} added, so a record of the largest size the broker accepts becomes a dead letter that
 * is a few hundred bytes too large: the producer refuses it, and under exactly-once the transaction that should
 * have carried it aborts, the record comes back, and its partition never moves again. So whatever does not fit is
 * cut, in this order: the value (its first bytes are kept, so an Avro value keeps its schema id), then the
 * original headers (the first ones are kept), then the key. A cut letter says so, and carries the original
 * value's size and SHA-256 so that the original can be found and checked again at its source.
 */
public final class DeadLetters {
    /** What was cut, comma-separated: {@code value}, {@code headers}, {@code key}. Absent on a letter left whole. */
    public static final String TRUNCATED = "slm.truncated";
    /** Bytes of the original value. */
    public static final String ORIGINAL_SIZE = "slm.original.size";
    /** SHA-256 of the original value, lower-case hex. */
    public static final String ORIGINAL_SHA256 = "slm.original.sha256";
    /** How many headers the original record had, when some of them were left out. */
    public static final String ORIGINAL_HEADERS = "slm.original.headers";

    /**
     * The smallest bound accepted: the error headers at their longest (messages, class name and stack trace at
     * their bounds in {@link DeadLetterHeaders}, the source topic at Kafka's longest name, about 14 KB) and the
     * facts of a cut, so that a letter can always be built.
     */
    public static final int MIN_RECORD_BYTES = 16_384;

    /**
     * An upper bound on the bytes of a record batch that holds one record besides its key, value and headers:
     * the batch header (61 bytes) and the record's own fields, each variable-length integer at its longest.
     * Kafka's producer refuses a record whose estimate, figured the same way, exceeds {@code max.request.size}.
     */
    static final int RECORD_OVERHEAD = 61 + 5 + 1 + 10 + 5 + 5 + 5 + 5;

    /** Per header besides its key and value: two lengths, each variable-length integer at its longest. */
    private static final int HEADER_OVERHEAD = 5 + 5;

    /** The record to send to the dead-letter topic: timestamp and topic are the caller's. */
    public record Letter(byte[] key, byte[] value, Headers headers) {
        /** True when something of the original was left out. */
        public boolean cut() {
            return headers.lastHeader(TRUNCATED) != null;
        }
    }

    private DeadLetters() {}

    /** @throws IllegalArgumentException where {@code maxRecordBytes} leaves too little room for a letter */
    public static int checkLimit(int maxRecordBytes, String what) {
        if (maxRecordBytes < MIN_RECORD_BYTES) {
            throw new IllegalArgumentException(what + " must be at least " + MIN_RECORD_BYTES + ", not " + maxRecordBytes);
        }
        return maxRecordBytes;
    }

    /**
     * The configured most bytes of a dead letter ({@code dlq.record.max.bytes}, or the producer's
     * {@code max.request.size} where lower), checked: services call it before anything slow starts.
     */
    public static int configuredLimit(ServiceConfig config) {
        return checkLimit(config.deadLetterMaxBytes(),
                "configuration 'dlq.record.max.bytes' (and the producer's max.request.size)");
    }

    /**
     * The dead letter of a refused record: its key, value and headers (left as they are) with the reason and
     * origin added ({@link DeadLetterHeaders}: the service's {@code message}, and the class, message and stack
     * trace of {@code error} where there is one), cut to at most {@code maxRecordBytes} as Kafka's producer counts
     * them.
     */
    public static Letter of(byte[] key, byte[] value, Headers original, String errorType, String message,
            Throwable error, String topic, int partition, long offset, int maxRecordBytes) {
        checkLimit(maxRecordBytes, "the most bytes of a dead letter");
        Headers reason = new RecordHeaders();
        DeadLetterHeaders.add(reason, errorType, message, error, topic, partition, offset);
        Header[] originalHeaders = original == null ? new Header[0] : original.toArray();
        long whole = recordBytes(key, value, originalHeaders) + headerBytes(reason.toArray());
        if (whole <= maxRecordBytes) {
            return new Letter(key, value, join(Arrays.asList(originalHeaders), reason, null));
        }

        byte[] fullValue = value == null ? new byte[0] : value;
        Headers facts = new RecordHeaders();
        facts.add(ORIGINAL_SIZE, utf8(String.valueOf(fullValue.length)));
        facts.add(ORIGINAL_SHA256, utf8(sha256(fullValue)));
        facts.add(ORIGINAL_HEADERS, utf8(String.valueOf(originalHeaders.length)));
        // The longest value TRUNCATED can take, so the room left below holds whatever it ends up saying.
        long room = maxRecordBytes - RECORD_OVERHEAD - headerBytes(reason.toArray()) - headerBytes(facts.toArray())
                - HEADER_OVERHEAD - TRUNCATED.length() - "value,headers,key".length();
        List<String> cut = new ArrayList<>();
        byte[] keptKey = key;
        if (bytes(key) > room) {
            keptKey = Arrays.copyOf(key, (int) room);
            cut.add("key");
        }
        room -= bytes(keptKey);
        List<Header> keptHeaders = new ArrayList<>();
        for (Header h : originalHeaders) {
            long size = headerBytes(h);
            if (size > room) {
                cut.add(0, "headers");
                break;
            }
            keptHeaders.add(h);
            room -= size;
        }
        byte[] keptValue = value;
        if (bytes(value) > room) {
            keptValue = Arrays.copyOf(value, (int) Math.max(0, room));
            cut.add(0, "value");
        }
        if (keptHeaders.size() == originalHeaders.length) {
            facts.remove(ORIGINAL_HEADERS);
        }
        facts.add(TRUNCATED, utf8(String.join(",", cut)));
        return new Letter(keptKey, keptValue, join(keptHeaders, reason, facts));
    }

    /**
     * An upper bound on the bytes of a record as the producer counts them against {@code max.request.size} (and
     * the broker against {@code max.message.bytes}, for a batch of this record alone, uncompressed).
     */
    public static long recordBytes(byte[] key, byte[] value, Header[] headers) {
        return RECORD_OVERHEAD + bytes(key) + bytes(value) + headerBytes(headers);
    }

    /** Bytes of a record's headers as they count against its size. */
    public static long headerBytes(Header[] headers) {
        long sum = 0;
        for (Header h : headers) {
            sum += headerBytes(h);
        }
        return sum;
    }

    private static long headerBytes(Header h) {
        return HEADER_OVERHEAD + h.key().getBytes(StandardCharsets.UTF_8).length + bytes(h.value());
    }

    private static int bytes(byte[] b) {
        return b == null ? 0 : b.length;
    }

    private static Headers join(List<Header> original, Headers reason, Headers facts) {
        RecordHeaders out = new RecordHeaders();
        original.forEach(out::add);
        reason.forEach(out::add);
        if (facts != null) {
            facts.forEach(out::add);
        }
        return out;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
