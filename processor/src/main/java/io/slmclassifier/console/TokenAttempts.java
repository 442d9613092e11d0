package io.slmclassifier.console;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Wrong console tokens per client address: after {@link #MAX_FAILURES} within {@link #WINDOW} the address is refused
 * until its window ends, with no token checked at all, so guessing goes at ten tries a minute. Addresses that never
 * failed are not tracked, so nobody else is slowed down by a guesser.
 */
final class TokenAttempts {
    static final int MAX_FAILURES = 10;
    static final Duration WINDOW = Duration.ofMinutes(1);
    /**
     * Addresses tracked at once. Past it, windows that ended are dropped; if that is not enough (a guesser with a great
     * many addresses), the failures of untracked addresses share one window, which then limits all of them together:
     * the token stays as hard to guess, at the price of writes from new addresses that also give a wrong token.
     */
    static final int MAX_ADDRESSES = 10_000;
    private static final String OVERFLOW = "";

    /** Failures of one address within the window that started at {@code startMillis}. */
    private record Window(long startMillis, int failures) {}

    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    /** Seconds until {@code address} may try again; 0 when it may try now. */
    long retryAfterSeconds(String address, long nowMillis) {
        Window w = windows.get(address);
        if (w == null) {
            w = windows.get(OVERFLOW);
        }
        if (w == null || w.failures() < MAX_FAILURES || nowMillis - w.startMillis() >= WINDOW.toMillis()) {
            return 0;
        }
        return Math.max(1, (w.startMillis() + WINDOW.toMillis() - nowMillis + 999) / 1000);
    }

    /** Counts a wrong token from {@code address}. */
    void failed(String address, long nowMillis) {
        if (!windows.containsKey(address) && windows.size() >= MAX_ADDRESSES) {
            windows.values().removeIf(w -> nowMillis - w.startMillis() >= WINDOW.toMillis());
            if (windows.size() >= MAX_ADDRESSES) {
                address = OVERFLOW;
            }
        }
        windows.merge(address, new Window(nowMillis, 1), (old, first) -> nowMillis - old.startMillis() >= WINDOW.toMillis()
                ? first : new Window(old.startMillis(), old.failures() + 1));
    }
}
