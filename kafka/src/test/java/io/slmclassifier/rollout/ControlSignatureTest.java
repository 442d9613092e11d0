package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;

class ControlSignatureTest {
    private static final String KEY = "0123456789abcdef0123456789abcdef";

    @Test
    void aSignedRecordVerifiesAndAnyChangeOrOtherKeyBreaksIt() {
        ControlSignature signature = ControlSignature.of(KEY);
        byte[] value = "event".getBytes(StandardCharsets.UTF_8);
        RecordHeaders headers = new RecordHeaders();
        signature.sign("adapter-3", value, headers);
        assertTrue(signature.verify("adapter-3", value, headers));
        assertFalse(signature.verify("adapter-4", value, headers), "moved to another key");
        assertFalse(signature.verify("adapter-3", "evenT".getBytes(StandardCharsets.UTF_8), headers), "value changed");
        assertFalse(ControlSignature.of(KEY.replace('0', 'x')).verify("adapter-3", value, headers), "another key");
        assertFalse(signature.verify("adapter-3", value, new RecordHeaders()), "unsigned");
        RecordHeaders garbage = new RecordHeaders();
        garbage.add(ControlSignature.HEADER, "not hex".getBytes(StandardCharsets.US_ASCII));
        assertFalse(signature.verify("adapter-3", value, garbage));
    }

    @Test
    void withoutAKeyNothingIsSignedOrCheckedAndShortKeysAreRefused() {
        RecordHeaders headers = new RecordHeaders();
        ControlSignature.none().sign("k", new byte[] {1}, headers);
        assertFalse(headers.iterator().hasNext());
        assertTrue(ControlSignature.of("").verify("k", new byte[] {1}, headers));
        assertThrows(IllegalArgumentException.class, () -> ControlSignature.of("short"));
    }
}
