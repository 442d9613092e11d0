package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class PendingRecordTest {

    @Test
    void roundTripsEveryFieldIncludingNulls() {
        PendingRecord original = new PendingRecord(null, "id-ä", "Zugführer 🚒\tkommen", true, 1_700_000_000_123L,
                List.of(new PendingRecord.HeaderValue("trace", "t1".getBytes(StandardCharsets.UTF_8)),
                        new PendingRecord.HeaderValue("empty", null)), "intents.in", 7, 1L << 40, new byte[] {0, 1, 2});
        PendingRecord back = PendingRecord.fromBytes(original.toBytes());
        assertNull(back.key());
        assertEquals(original.id(), back.id());
        assertEquals(original.text(), back.text());
        assertEquals(original.truncated(), back.truncated());
        assertEquals(original.timestamp(), back.timestamp());
        assertEquals("trace", back.headers().get(0).key());
        assertArrayEquals("t1".getBytes(StandardCharsets.UTF_8), back.headers().get(0).value());
        assertNull(back.headers().get(1).value());
        assertEquals("intents.in", back.topic());
        assertEquals(7, back.partition());
        assertEquals(1L << 40, back.offset());
        assertArrayEquals(new byte[] {0, 1, 2}, back.value(), "the original value, not the text");
        assertEquals("00007-0000000000000000042", PendingRecord.storeKey(7, 42));
        assertNull(PendingRecord.keepIfDifferent("kommen".getBytes(StandardCharsets.UTF_8), "kommen"));
    }

    /** Stores of an earlier version hold formats 1 and 2 (strings as writeUTF): they are still read. */
    @Test
    void readsTheEarlierFormats() throws Exception {
        for (int format = 1; format <= 2; format++) {
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            java.io.DataOutputStream out = new java.io.DataOutputStream(bytes);
            out.writeByte(format);
            out.writeInt(1);
            out.write('k');
            out.writeUTF("id-1");
            byte[] text = "Nein.".getBytes(StandardCharsets.UTF_8);
            out.writeInt(text.length);
            out.write(text);
            out.writeBoolean(false);
            out.writeLong(5L);
            out.writeInt(1);
            out.writeUTF("trace");
            out.writeInt(2);
            out.write(new byte[] {'t', '1'});
            out.writeUTF("intents.in");
            out.writeInt(3);
            out.writeLong(9L);
            if (format == 2) {
                out.writeInt(-1);
            }
            PendingRecord back = PendingRecord.fromBytes(bytes.toByteArray());
            assertEquals("id-1", back.id(), "format " + format);
            assertEquals("Nein.", back.text());
            assertEquals("trace", back.headers().get(0).key());
            assertEquals("intents.in", back.topic());
            assertEquals(9L, back.offset());
            assertArrayEquals(text, back.value());
        }
    }

    /** writeUTF stops at 65,535 bytes: ids and header keys beyond that once killed the stream thread. */
    @Test
    void fieldsLongerThan64KiBRoundTrip() {
        String longId = "i".repeat(70_000);
        String longKey = "h".repeat(70_000);
        PendingRecord record = new PendingRecord("k".getBytes(), longId, "Nein.", false, 5L,
                List.of(new PendingRecord.HeaderValue(longKey, new byte[] {1})), "t".repeat(70_000), 0, 1L, null);
        PendingRecord back = PendingRecord.fromBytes(record.toBytes());
        assertEquals(longId, back.id());
        assertEquals(longKey, back.headers().get(0).key());
        assertEquals(70_000, back.topic().length());
        assertNull(record.withoutOriginal().originalValue());
    }
}
