package io.slmclassifier.console;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.slmclassifier.console.ConsoleExchange.Refused;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Who may write: the right bearer token, from an address that has not guessed too often lately. */
class ConsoleAuthenticatorTest {
    private static final String TOKEN = "s3cret-console-token";
    private static final long NOW = 1_000_000;

    @Test
    void theRightTokenWrites() {
        ConsoleAuthenticator auth = new ConsoleAuthenticator(TOKEN);
        assertDoesNotThrow(() -> auth.authorize("Bearer " + TOKEN, "10.0.0.1", NOW));
        // The scheme's case does not matter (RFC 9110); spaces around the token do not either.
        assertDoesNotThrow(() -> auth.authorize("bearer  " + TOKEN + " ", "10.0.0.1", NOW));
    }

    @Test
    void withoutATokenConfiguredNothingIsWritableWhateverIsGiven() {
        ConsoleAuthenticator auth = new ConsoleAuthenticator("");
        Refused refused = assertThrows(Refused.class, () -> auth.authorize("Bearer ", "10.0.0.1", NOW));
        assertEquals(403, refused.status);
        assertEquals(403, assertThrows(Refused.class, () -> auth.authorize(null, "10.0.0.1", NOW)).status);
    }

    @Test
    void aMissingTokenIsAskedForAndAWrongOneRefused() {
        ConsoleAuthenticator auth = new ConsoleAuthenticator(TOKEN);
        Refused missing = assertThrows(Refused.class, () -> auth.authorize(null, "10.0.0.1", NOW));
        assertEquals(401, missing.status);
        assertEquals("this needs the console token", missing.getMessage());
        assertEquals(Map.of("WWW-Authenticate", "Bearer realm=\"slm-console\""), missing.headers);
        assertEquals(401, assertThrows(Refused.class, () -> auth.authorize("Basic " + TOKEN, "10.0.0.1", NOW)).status);
        Refused wrong = assertThrows(Refused.class, () -> auth.authorize("Bearer " + TOKEN + "x", "10.0.0.1", NOW));
        assertEquals(401, wrong.status);
        assertEquals("wrong console token", wrong.getMessage());
    }

    @Test
    void anAddressThatGuessesTooOftenWaitsOutItsMinuteEvenWithTheRightToken() {
        ConsoleAuthenticator auth = new ConsoleAuthenticator(TOKEN);
        for (int i = 0; i < TokenAttempts.MAX_FAILURES; i++) {
            assertEquals(401, assertThrows(Refused.class,
                    () -> auth.authorize("Bearer guess", "10.0.0.1", NOW)).status);
        }
        Refused limited = assertThrows(Refused.class, () -> auth.authorize("Bearer " + TOKEN, "10.0.0.1", NOW + 1_000));
        assertEquals(429, limited.status);
        assertEquals(Map.of("Retry-After", "59"), limited.headers);
        // Another address is not slowed down by the guesser; the guesser may try again once its minute is over.
        assertDoesNotThrow(() -> auth.authorize("Bearer " + TOKEN, "10.0.0.2", NOW + 1_000));
        assertDoesNotThrow(() -> auth.authorize("Bearer " + TOKEN, "10.0.0.1",
                NOW + TokenAttempts.WINDOW.toMillis()));
    }

    @Test
    void aMissingTokenIsNotCountedAsAGuess() {
        ConsoleAuthenticator auth = new ConsoleAuthenticator(TOKEN);
        for (int i = 0; i < 2 * TokenAttempts.MAX_FAILURES; i++) {
            assertEquals(401, assertThrows(Refused.class, () -> auth.authorize(null, "10.0.0.1", NOW)).status);
        }
        assertDoesNotThrow(() -> auth.authorize("Bearer " + TOKEN, "10.0.0.1", NOW));
    }
}
