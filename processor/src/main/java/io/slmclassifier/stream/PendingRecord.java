package io.slmclassifier.stream;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * A decoded input waiting in the changelogged store for its batch: everything needed to emit its result as if
 * it had never waited (key, timestamp, headers, source coordinates). A compact binary layout with a format byte:
 * every input record is written to the store's changelog and deleted again, so this is on the hot path. The
 * original value is kept only where it differs from the text (Avro input, a truncated text), so a record the
 * model fails on reaches the dead-letter topic exactly as it came.
 */
public record PendingRecord(byte[] key, String id, String text, boolean truncated, long timestamp,
        List<HeaderValue> headers, String topic, int partition, long offset, byte[] originalValue) {

    public record HeaderValue(String key, byte[] value) {}

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

    /** The input value as it came: the text's own bytes unless a different original was kept. */
    public byte[] value() {
        return originalValue != null ? originalValue : text.getBytes(StandardCharsets.UTF_8);
    }

    /** Only when it is not the text's own UTF-8 bytes; null otherwise. */
    public static byte[] keepIfDifferent(byte[] value, String text) {
        return java.util.Arrays.equals(value, text.getBytes(StandardCharsets.UTF_8)) ? null : value;
    }

    /**
     * Format version of the stored bytes, first byte of every value, so a later layout can still read these:
     * 1 without the original value, 2 with it (strings as {@code writeUTF}, at most 65,535 bytes), 3 with every
     * string length-prefixed like the byte fields, so no field has a limit of the layout's own.
     */
    private static final byte FORMAT = 3;

    public byte[] toBytes() {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + text.length() * 2);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeByte(FORMAT);
            writeBytes(out, key);
            writeString(out, id);
            writeString(out, text);
            out.writeBoolean(truncated);
            out.writeLong(timestamp);
            out.writeInt(headers.size());
            for (HeaderValue h : headers) {
                writeString(out, h.key());
                writeBytes(out, h.value());
            }
            writeString(out, topic);
            out.writeInt(partition);
            out.writeLong(offset);
            writeBytes(out, originalValue);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The same record without its original value (the dead-letter topic then gets the text). */
    public PendingRecord withoutOriginal() {
        return new PendingRecord(key, id, text, truncated, timestamp, headers, topic, partition, offset, null);
    }

    public static PendingRecord fromBytes(byte[] bytes) {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
            byte format = in.readByte();
            if (format < 1 || format > FORMAT) {
                throw new IllegalStateException("stored record has format " + format + ", this version reads 1 to " + FORMAT);
            }
            byte[] key = readBytes(in);
            String id = readString(in, format);
            String text = format >= 3 ? readString(in, format) : new String(readBytes(in), StandardCharsets.UTF_8);
            boolean truncated = in.readBoolean();
            long timestamp = in.readLong();
            int count = in.readInt();
            List<HeaderValue> headers = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                headers.add(new HeaderValue(readString(in, format), readBytes(in)));
            }
            String topic = readString(in, format);
            int partition = in.readInt();
            long offset = in.readLong();
            byte[] original = format >= 2 ? readBytes(in) : null;
            return new PendingRecord(key, id, text, truncated, timestamp, headers, topic, partition, offset, original);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void writeString(DataOutputStream out, String value) throws IOException {
        writeBytes(out, value.getBytes(StandardCharsets.UTF_8));
    }

    private static String readString(DataInputStream in, byte format) throws IOException {
        return format >= 3 ? new String(readBytes(in), StandardCharsets.UTF_8) : in.readUTF();
    }

    /** Length-prefixed; -1 for null (a record without key, a header without value). */
    private static void writeBytes(DataOutputStream out, byte[] value) throws IOException {
        out.writeInt(value == null ? -1 : value.length);
        if (value != null) {
            out.write(value);
        }
    }

    private static byte[] readBytes(DataInputStream in) throws IOException {
        int length = in.readInt();
        return length < 0 ? null : in.readNBytes(length);
    }
}
