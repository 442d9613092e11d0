package io.slmclassifier.train;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.rollout.ControlLog;
import java.io.IOException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes again (signed, with a new sequence) each of the trainer's adapter events that the control topic no longer
 * holds: a tombstone or an unsigned record of the same key lets compaction delete the genuine one, and readers
 * without a journal (a new processor, {@code adapter list}) would forget the version. The trainer's journal of
 * what it published is the reference; ERROR events are the processors', not the trainer's.
 */
public final class ControlHistoryRestore {
    private static final Logger log = LoggerFactory.getLogger(ControlHistoryRestore.class);
    /** How often the trainer compares what it published with what the control topic holds. */
    public static final Duration EVERY = Duration.ofSeconds(5);

    private final ControlLog control;
    private long restoredAtNanos;

    /** @param control with its journal kept, read to its end before the first {@link #restore} */
    public ControlHistoryRestore(ControlLog control) {
        this.control = control;
    }

    /** Restores now; a failure is logged and tried again at the next turn. */
    public void restore() {
        restoredAtNanos = System.nanoTime();
        try {
            int written = control.restore(r -> r instanceof AdapterEvent e && e.getStatus() != AdapterStatus.ERROR);
            if (written > 0) {
                log.warn("Wrote {} adapter events again that had gone from {}", written, control.topic());
            }
        } catch (IOException | RuntimeException e) {
            log.warn("Could not write lost adapter events again (trying again in {} s): {}", EVERY.toSeconds(),
                    e.getMessage());
        }
    }

    /** Restores when {@link #EVERY} has passed since the last time. */
    public void restoreWhenDue() {
        if (System.nanoTime() - restoredAtNanos > EVERY.toNanos()) {
            restore();
        }
    }
}
