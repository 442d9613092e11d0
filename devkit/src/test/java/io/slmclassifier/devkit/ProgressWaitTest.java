package io.slmclassifier.devkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** A wait that follows progress outlasts its stall time while things move, and ends soon after they stop. */
class ProgressWaitTest {

    @Test
    void slowButMovingWorkIsWaitedForPastTheStallTime() throws Exception {
        long started = System.nanoTime();
        AtomicLong ticks = new AtomicLong();
        // One step per call, done after 2 s: four times the stall time of 0.5 s.
        ProgressWait.Result r = ProgressWait.await(() -> System.nanoTime() - started > 2_000_000_000L,
                ticks::incrementAndGet, Duration.ofMillis(500), Duration.ofSeconds(30));
        assertEquals(ProgressWait.Outcome.DONE, r.outcome(), r.describe());
        assertTrue(r.waited().toMillis() >= 2000, r.describe());
    }

    @Test
    void workThatStopsMovingEndsAfterTheStallTime() throws Exception {
        long started = System.nanoTime();
        // Moves for 1 s, then never again, and is never done.
        ProgressWait.Result r = ProgressWait.await(() -> false,
                () -> Math.min(System.nanoTime() - started, 1_000_000_000L) / 100_000_000L, Duration.ofMillis(700),
                Duration.ofSeconds(30));
        assertEquals(ProgressWait.Outcome.STALLED, r.outcome(), r.describe());
        assertTrue(r.waited().toMillis() >= 1700 && r.waited().toMillis() < 10_000, r.describe());
        assertTrue(r.describe().startsWith("nothing moved for 0.7 s (after "), r.describe());
    }

    @Test
    void workThatMovesForeverEndsAtTheCap() throws Exception {
        AtomicLong ticks = new AtomicLong();
        ProgressWait.Result r = ProgressWait.await(() -> false, ticks::incrementAndGet, Duration.ofMillis(500),
                Duration.ofSeconds(2));
        assertEquals(ProgressWait.Outcome.CAPPED, r.outcome(), r.describe());
        assertTrue(r.waited().toMillis() >= 2000 && r.waited().toMillis() < 10_000, r.describe());
    }
}
