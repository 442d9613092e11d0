package io.slmclassifier.kafka;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.internal.AbstractRecords;
import org.apache.kafka.common.record.internal.CompressionType;
import org.junit.jupiter.api.Test;

/** Dead letters measured the way Kafka's producer measures a record before it refuses it. */
class DeadLettersTest {
    private static final int LIMIT = 1_048_576; // the producer's default max.request.size
    private static final byte MAGIC_V2 = 2;

    /** What {@code KafkaProducer.send} compares with {@code max.request.size}. */
    private static int producerEstimate(DeadLetters.Letter letter) {
        return AbstractRecords.estimateSizeInBytesUpperBound(MAGIC_V2, CompressionType.NONE, letter.key(),
                letter.value(), letter.headers().toArray());
    }

    private static String header(Headers headers, String key) {
        Header h = headers.lastHeader(key);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static byte[] filled(int size, int b) {
        byte[] bytes = new byte[size];
        Arrays.fill(bytes, (byte) b);
        return bytes;
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private static DeadLetters.Letter letter(byte[] key, byte[] value, Headers headers, int limit) {
        return DeadLetters.of(key, value, headers, "undecodable", "the value is not valid UTF-8 text",
                new IllegalArgumentException("Input length = 1"), "intents.in", 2, 41, limit);
    }

    /** An exception whose stack trace is {@code depth} frames deeper than the test's own. */
    private static RuntimeException thrownAtDepth(int depth, String message) {
        if (depth == 0) {
            return new IllegalStateException(message, new java.io.UncheckedIOException(new java.io.IOException("cause")));
        }
        return thrownAtDepth(depth - 1, message);
    }

    @Test
    void aLetterThatFitsIsTheRecordWithTheReasonAdded() {
        Headers headers = new RecordHeaders().add("trace", new byte[] {1, 2});
        byte[] value = "Ist negativ.".getBytes(StandardCharsets.UTF_8);
        DeadLetters.Letter letter = letter(new byte[] {7}, value, headers, LIMIT);
        assertFalse(letter.cut());
        assertArrayEquals(value, letter.value());
        assertArrayEquals(new byte[] {7}, letter.key());
        assertEquals("trace", letter.headers().toArray()[0].key());
        assertEquals("undecodable", header(letter.headers(), DeadLetterHeaders.ERROR_TYPE));
        assertEquals("41", header(letter.headers(), DeadLetterHeaders.SOURCE_OFFSET));
        assertNull(header(letter.headers(), DeadLetters.ORIGINAL_SIZE));
    }

    @Test
    void aLetterCarriesKafkaConnectsErrorHeadersBesideItsOwn() {
        RuntimeException error = new IllegalStateException("the model failed", new ArithmeticException("NaN logits"));
        DeadLetters.Letter letter = DeadLetters.of(null, new byte[] {1}, new RecordHeaders(), "model-failure",
                "the batch could not be classified", error, "intents.in", 3, 1234567890123L, LIMIT);
        Headers headers = letter.headers();
        assertEquals("intents.in", header(headers, DeadLetterHeaders.CONNECT_TOPIC));
        assertEquals("3", header(headers, DeadLetterHeaders.CONNECT_PARTITION));
        assertEquals("1234567890123", header(headers, DeadLetterHeaders.CONNECT_OFFSET));
        assertEquals("java.lang.IllegalStateException", header(headers, DeadLetterHeaders.CONNECT_EXCEPTION_CLASS));
        assertEquals("the model failed", header(headers, DeadLetterHeaders.CONNECT_EXCEPTION_MESSAGE));
        String trace = header(headers, DeadLetterHeaders.CONNECT_EXCEPTION_STACKTRACE);
        assertTrue(trace.startsWith("java.lang.IllegalStateException: the model failed"), trace);
        assertTrue(trace.contains("\tat " + DeadLettersTest.class.getName()), trace);
        assertTrue(trace.contains("Caused by: java.lang.ArithmeticException: NaN logits"), trace);
        assertEquals("the batch could not be classified", header(headers, DeadLetterHeaders.ERROR_MESSAGE),
                "the service's own message stays in slm.error.message");
    }

    @Test
    void anExceptionWithoutAStackTraceOrMessageLeavesThoseHeadersOut() {
        RuntimeException verdict = new RuntimeException(null, null, false, false) {};
        DeadLetters.Letter letter = DeadLetters.of(null, new byte[] {1}, null, "empty-text", "the text is empty",
                verdict, "intents.in", 0, 5, LIMIT);
        assertEquals(verdict.getClass().getName(), header(letter.headers(), DeadLetterHeaders.CONNECT_EXCEPTION_CLASS));
        assertNull(letter.headers().lastHeader(DeadLetterHeaders.CONNECT_EXCEPTION_MESSAGE));
        assertNull(letter.headers().lastHeader(DeadLetterHeaders.CONNECT_EXCEPTION_STACKTRACE));

        DeadLetters.Letter withoutError = DeadLetters.of(null, new byte[] {1}, null, "empty-text", "the text is empty",
                null, "intents.in", 0, 5, LIMIT);
        assertEquals("5", header(withoutError.headers(), DeadLetterHeaders.CONNECT_OFFSET));
        assertNull(withoutError.headers().lastHeader(DeadLetterHeaders.CONNECT_EXCEPTION_CLASS));
    }

    @Test
    void aDeepStackTraceIsCutAndCountsAgainstTheLimit() {
        RuntimeException deep = thrownAtDepth(500, "\u20ac".repeat(5000));
        byte[] value = filled(40_000, 'v');
        DeadLetters.Letter letter = DeadLetters.of(filled(40_000, 'k'), value, null, "model-failure",
                "\u20ac".repeat(5000), deep, "t".repeat(249), Integer.MAX_VALUE, Long.MAX_VALUE,
                DeadLetters.MIN_RECORD_BYTES);
        int size = producerEstimate(letter);
        assertTrue(size <= DeadLetters.MIN_RECORD_BYTES, size + " bytes");
        assertEquals("value,key", header(letter.headers(), DeadLetters.TRUNCATED));
        String trace = header(letter.headers(), DeadLetterHeaders.CONNECT_EXCEPTION_STACKTRACE);
        assertTrue(trace.length() <= DeadLetterHeaders.MAX_STACKTRACE_CHARS, trace);
        assertTrue(trace.contains("\t... " + (deep.getStackTrace().length - DeadLetterHeaders.TRACE_FRAMES) + " more"),
                trace);
        assertTrue(trace.contains("Caused by: java.io.UncheckedIOException: java.io.IOException: cause"), trace);
        assertEquals(DeadLetterHeaders.MAX_MESSAGE_CHARS,
                header(letter.headers(), DeadLetterHeaders.CONNECT_EXCEPTION_MESSAGE).length());

        // A value that just fits beside the headers without an exception must be cut once the exception's come.
        int limit = 50_000;
        Header[] plainHeaders = DeadLetters.of(null, null, null, "model-failure", "m", null, "intents.in", 0, 0, limit)
                .headers().toArray();
        byte[] fitting = filled(limit - (int) DeadLetters.recordBytes(null, null, plainHeaders), 'v');
        assertFalse(DeadLetters.of(null, fitting, null, "model-failure", "m", null, "intents.in", 0, 0, limit).cut());
        DeadLetters.Letter withTrace = DeadLetters.of(null, fitting, null, "model-failure", "m", deep, "intents.in", 0, 0,
                limit);
        assertEquals("value", header(withTrace.headers(), DeadLetters.TRUNCATED));
        assertTrue(producerEstimate(withTrace) <= limit);
    }

    @Test
    void aValueOfTheLargestSizeTheBrokerTakesIsCutToWhatTheProducerSends() throws Exception {
        // The record of the issue: 1,048,496 bytes of 0xFF and one header, whose letter came to 1,048,751 bytes.
        byte[] value = filled(1_048_496, 0xFF);
        Headers headers = new RecordHeaders().add("trace", "t-1".getBytes(StandardCharsets.UTF_8));
        DeadLetters.Letter letter = letter(null, value, headers, LIMIT);
        assertTrue(letter.cut());
        int size = producerEstimate(letter);
        assertTrue(size <= LIMIT, size + " bytes");
        assertTrue(size > LIMIT - 200, "no more is cut than needed: " + size + " bytes");
        assertArrayEquals(Arrays.copyOf(value, letter.value().length), letter.value());
        assertEquals("value", header(letter.headers(), DeadLetters.TRUNCATED));
        assertEquals("1048496", header(letter.headers(), DeadLetters.ORIGINAL_SIZE));
        assertEquals(sha256(value), header(letter.headers(), DeadLetters.ORIGINAL_SHA256));
        assertEquals("t-1", header(letter.headers(), "trace"));
        assertNull(header(letter.headers(), DeadLetters.ORIGINAL_HEADERS));
    }

    @Test
    void headersThatFillTheRecordAreLeftOutFromTheLastOn() {
        Headers headers = new RecordHeaders();
        for (int i = 0; i < 16; i++) {
            headers.add("h" + i, filled(65_530, 'a' + i));
        }
        DeadLetters.Letter letter = letter(null, "Einen Augenblick.".getBytes(StandardCharsets.UTF_8), headers, LIMIT);
        assertTrue(producerEstimate(letter) <= LIMIT);
        assertEquals("headers", header(letter.headers(), DeadLetters.TRUNCATED));
        assertEquals("16", header(letter.headers(), DeadLetters.ORIGINAL_HEADERS));
        Header[] kept = letter.headers().toArray();
        assertEquals("h0", kept[0].key());
        assertEquals("h14", kept[14].key());
        assertEquals(DeadLetterHeaders.ERROR_TYPE, kept[15].key(), "h15 is left out, the reason follows h14");
        assertArrayEquals("Einen Augenblick.".getBytes(StandardCharsets.UTF_8), letter.value(), "the small value stays");
    }

    @Test
    void aKeyThatFillsTheRecordIsCutLast() {
        byte[] key = filled(1_048_500, (int) 'k');
        DeadLetters.Letter letter = letter(key, filled(1000, 'v'), new RecordHeaders().add("h", new byte[100]), LIMIT);
        assertTrue(producerEstimate(letter) <= LIMIT);
        assertEquals("value,headers,key", header(letter.headers(), DeadLetters.TRUNCATED));
        assertEquals(0, letter.value().length);
        assertArrayEquals(Arrays.copyOf(key, letter.key().length), letter.key());
    }

    @Test
    void theErrorMessageIsBoundedWithoutBreakingACharacter() {
        String message = "x".repeat(DeadLetterHeaders.MAX_MESSAGE_CHARS - 1) + "\uD83D\uDE00 and much more";
        DeadLetters.Letter letter = DeadLetters.of(null, new byte[] {1}, new RecordHeaders(), "undecodable", message,
                new IllegalArgumentException(message), "intents.in", 0, 0, LIMIT);
        String cut = "x".repeat(DeadLetterHeaders.MAX_MESSAGE_CHARS - 1);
        assertEquals(cut, header(letter.headers(), DeadLetterHeaders.ERROR_MESSAGE));
        assertEquals(cut, header(letter.headers(), DeadLetterHeaders.CONNECT_EXCEPTION_MESSAGE));
    }

    @Test
    void everyShapeFitsWhateverTheLimit() {
        Random random = new Random(19);
        for (int round = 0; round < 300; round++) {
            int limit = DeadLetters.MIN_RECORD_BYTES + random.nextInt(LIMIT);
            Headers headers = new RecordHeaders();
            int count = random.nextInt(40);
            for (int i = 0; i < count; i++) {
                headers.add("h-" + "\u00e4".repeat(random.nextInt(50)) + i,
                        random.nextInt(10) == 0 ? null : new byte[random.nextInt(1 + random.nextInt(80_000))]);
            }
            byte[] key = random.nextInt(4) == 0 ? null : new byte[random.nextInt(1 + random.nextInt(2 * limit))];
            byte[] value = random.nextInt(10) == 0 ? null : new byte[random.nextInt(2 * limit)];
            String message = "\u00e4".repeat(random.nextInt(3000));
            RuntimeException error = random.nextInt(4) == 0 ? null : thrownAtDepth(random.nextInt(300), message);
            DeadLetters.Letter letter = DeadLetters.of(key, value, headers, "headers-too-large", message, error,
                    "t".repeat(1 + random.nextInt(249)), random.nextInt(1000),
                    random.nextLong(Long.MAX_VALUE), limit);
            int size = producerEstimate(letter);
            assertTrue(size <= limit, "round " + round + ": " + size + " bytes over " + limit);
        }
    }

    @Test
    void aLimitWithoutRoomForTheReasonIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> DeadLetters.checkLimit(1000, "dlq.record.max.bytes"));
    }
}
