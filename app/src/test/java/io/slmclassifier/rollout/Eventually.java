package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertFalse;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waits in the rollout tests: what the processors and the trainer do happens on their own threads, later. */
final class Eventually {
    private Eventually() {}

    /** Polls {@code condition} every 100 ms until it holds; fails naming {@code what} after {@code timeout}. */
    static void awaitTrue(BooleanSupplier condition, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            assertFalse(System.nanoTime() > deadline, "timed out waiting: " + what);
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
