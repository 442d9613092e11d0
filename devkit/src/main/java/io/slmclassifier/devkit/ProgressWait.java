package io.slmclassifier.devkit;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * Waiting for work that is slow on a busy machine but visibly moving: a child JVM writing its log as it starts, ids
 * coming back from the output topic. It gives up when the measure of progress has not changed for {@code stall},
 * or at {@code cap} however much it still moves, instead of at one fixed time: on a loaded machine (2 cores, load
 * average 12) a fixed time passes while everything is fine, only slow.
 */
public final class ProgressWait {
    private static final long POLL_MILLIS = 200;

    /** How a wait ended: the condition held, nothing moved for the stall time, or the cap passed while it moved. */
    public enum Outcome { DONE, STALLED, CAPPED }

    /** @param waited from the start of the wait to its end */
    public record Result(Outcome outcome, Duration waited, Duration stall, Duration cap) {
        public boolean done() {
            return outcome == Outcome.DONE;
        }

        /** Why it ended, for a message: "nothing moved for 60 s (after 95 s)". */
        public String describe() {
            return switch (outcome) {
                case DONE -> "done after " + seconds(waited);
                case STALLED -> "nothing moved for " + seconds(stall) + " (after " + seconds(waited) + ")";
                case CAPPED -> "still moving when the cap of " + seconds(cap) + " passed";
            };
        }

        private static String seconds(Duration d) {
            return String.format(java.util.Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
        }
    }

    private ProgressWait() {}

    /**
     * A child process's CPU time in whole seconds: it grows while the child works (a JVM starting, a model loading,
     * a store restoring) even when it prints nothing, and hardly at all while it is stuck waiting.
     */
    public static long cpuSeconds(Process child) {
        return child.info().totalCpuDuration().map(Duration::toSeconds).orElse(0L);
    }

    /**
     * Waits until {@code done} holds, while {@code progress} (any count that only grows as the work advances: bytes
     * of a log, records read) changes at least once every {@code stall}, and at most {@code cap} in all.
     */
    public static Result await(BooleanSupplier done, LongSupplier progress, Duration stall, Duration cap)
            throws InterruptedException {
        long started = System.nanoTime();
        long lastMoved = started;
        long last = progress.getAsLong();
        while (true) {
            long now = System.nanoTime();
            Duration waited = Duration.ofNanos(now - started);
            if (done.getAsBoolean()) {
                return new Result(Outcome.DONE, waited, stall, cap);
            }
            long current = progress.getAsLong();
            if (current != last) {
                last = current;
                lastMoved = now;
            } else if (now - lastMoved > stall.toNanos()) {
                return new Result(Outcome.STALLED, waited, stall, cap);
            }
            if (now - started > cap.toNanos()) {
                return new Result(Outcome.CAPPED, waited, stall, cap);
            }
            Thread.sleep(POLL_MILLIS);
        }
    }
}
