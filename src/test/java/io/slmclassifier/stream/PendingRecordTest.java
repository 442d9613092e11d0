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

    @Test
    void readsTheFirstFormatWithoutAnOriginalValue() {
        PendingRecord record = new PendingRecord("k".getBytes(), "id", "Nein.", false, 5L, List.of(), "t", 0, 1L, null);
        byte[] bytes = record.toBytes();
        // Format 1 is format 2 without the trailing original value (here: a -1 length).
        byte[] first = java.util.Arrays.copyOf(bytes, bytes.length - 4);
        first[0] = 1;
        PendingRecord back = PendingRecord.fromBytes(first);
        assertEquals("Nein.", back.text());
        assertArrayEquals("Nein.".getBytes(StandardCharsets.UTF_8), back.value());
    }
}
