package io.slmclassifier.console;

import io.slmclassifier.console.ConsoleExchange.Refused;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;

/**
 * Who may write: a request that carries {@code Authorization: Bearer <console.token>}. Without a configured token
 * the console is read-only and every write is refused (403). An address that gave {@link TokenAttempts#MAX_FAILURES}
 * wrong tokens within a minute is refused (429) without a look at the one it gives now, until its minute is over.
 */
final class ConsoleAuthenticator {
    private final boolean writable;
    private final byte[] tokenDigest;
    private final TokenAttempts attempts = new TokenAttempts();

    /** @param token the console's token; blank: read-only */
    ConsoleAuthenticator(String token) {
        this.writable = token != null && !token.isBlank();
        this.tokenDigest = sha256(token == null ? "" : token);
    }

    /**
     * Lets a write through, or refuses it with the answer it gets.
     *
     * @param authorization the request's {@code Authorization} header; null when it has none
     * @param address the client's address, which wrong tokens are counted against
     */
    void authorize(String authorization, String address, long nowMillis) throws Refused {
        if (!writable) {
            throw new Refused(403, "read-only console: no console.token is configured, so nothing can be written");
        }
        long retryAfter = attempts.retryAfterSeconds(address, nowMillis);
        if (retryAfter > 0) {
            throw new Refused(429, "too many wrong console tokens from " + address + "; try again in " + retryAfter
                    + " s", Map.of("Retry-After", Long.toString(retryAfter)));
        }
        String given = authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
                ? authorization.substring(7).trim() : "";
        // Compare digests: equal length, and a comparison that takes the same time wherever they differ.
        if (given.isEmpty() || !MessageDigest.isEqual(sha256(given), tokenDigest)) {
            if (!given.isEmpty()) {
                attempts.failed(address, nowMillis);
            }
            throw new Refused(401, given.isEmpty() ? "this needs the console token" : "wrong console token",
                    Map.of("WWW-Authenticate", "Bearer realm=\"slm-console\""));
        }
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
