package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;

class InputDecoderTest {
    private static final String GRINNING = "\uD83D\uDE00"; // one character, two UTF-16 units

    private static InputDecoder.Decoded decode(String text, int maxChars) {
        return new InputDecoder(InputDecoder.Format.TEXT, null, maxChars, true)
                .decode(text.getBytes(StandardCharsets.UTF_8), new RecordHeaders(), "t-0-0");
    }

    @Test
    void aTextCutAtTheLimitKeepsAnEmojiWholeOrLeavesItOut() {
        // The emoji's first half is the 10th unit: cutting there would leave half a character.
        InputDecoder.Decoded split = decode("123456789" + GRINNING + "after", 10);
        assertEquals("123456789", split.text());
        assertTrue(split.truncated());
        assertEquals("123456789", new String(split.text().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8));

        InputDecoder.Decoded whole = decode("12345678" + GRINNING + "after", 10);
        assertEquals("12345678" + GRINNING, whole.text());
        assertEquals(GRINNING, new String(whole.text().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8)
                .substring(8), "the emoji survives encoding");

        InputDecoder.Decoded untouched = decode("123456789" + GRINNING, 11);
        assertEquals("123456789" + GRINNING, untouched.text());
        assertTrue(!untouched.truncated());
    }
}
