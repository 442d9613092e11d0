package io.slmclassifier.rollout;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * Authenticity of the control topic: with a signing key configured ({@code control.signing.key}, best read from a
 * mounted Secret as {@code control.signing.key.file}), every adapter event and command carries an HMAC-SHA256 of
 * its key and value in the header {@code slm.signature}, and readers ignore records without a valid one. Kafka's
 * ACLs decide who may write the topic; the signature keeps a writer without the key (a misconfigured client, a
 * stolen producer credential) from steering the processors. Without a key, nothing is signed or checked.
 */
public final class ControlSignature {
    public static final String HEADER = "slm.signature";
    /** 32 characters: the key is a shared secret and must not be guessable. */
    static final int MIN_KEY_CHARS = 32;
    private static final String ALGORITHM = "HmacSHA256";

    private final SecretKeySpec key;

    private ControlSignature(SecretKeySpec key) {
        this.key = key;
    }

    /** Signing off: records are neither signed nor checked. */
    public static ControlSignature none() {
        return new ControlSignature(null);
    }

    /** From the configured secret; blank means signing off. */
    public static ControlSignature of(String secret) {
        if (secret == null || secret.isBlank()) {
            return none();
        }
        if (secret.strip().length() < MIN_KEY_CHARS) {
            throw new IllegalArgumentException("control.signing.key must have at least " + MIN_KEY_CHARS
                    + " characters (e.g. openssl rand -hex 32)");
        }
        return new ControlSignature(new SecretKeySpec(secret.strip().getBytes(StandardCharsets.UTF_8), ALGORITHM));
    }

    public boolean enabled() {
        return key != null;
    }

    /** Adds the signature of this record key and value to the headers (when signing is on). */
    public void sign(String recordKey, byte[] value, Headers headers) {
        if (enabled()) {
            headers.remove(HEADER);
            headers.add(HEADER, HexFormat.of().formatHex(mac(recordKey, value)).getBytes(StandardCharsets.US_ASCII));
        }
    }

    /** True when signing is off, or the record carries a valid signature of its key and value. */
    public boolean verify(String recordKey, byte[] value, Headers headers) {
        if (!enabled()) {
            return true;
        }
        Header header = headers.lastHeader(HEADER);
        if (header == null || header.value() == null) {
            return false;
        }
        byte[] given;
        try {
            given = HexFormat.of().parseHex(new String(header.value(), StandardCharsets.US_ASCII));
        } catch (IllegalArgumentException e) {
            return false;
        }
        return MessageDigest.isEqual(given, mac(recordKey, value));
    }

    /** Over the key's length, the key and the value, so no two (key, value) pairs sign the same bytes. */
    private byte[] mac(String recordKey, byte[] value) {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(key);
            byte[] k = recordKey == null ? new byte[0] : recordKey.getBytes(StandardCharsets.UTF_8);
            mac.update(ByteBuffer.allocate(4).putInt(recordKey == null ? -1 : k.length).array());
            mac.update(k);
            mac.update(value == null ? new byte[0] : value);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is missing from this JVM", e);
        }
    }
}
