package io.slmclassifier.train;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.rollout.ControlState;
import java.util.List;
import java.util.Optional;

/**
 * When a training run is due. A TRAIN command on the control topic starts one at once; otherwise enough examples
 * the last finished run has not seen ({@code trigger.examples}), or some of them ({@code trigger.interval.min.examples})
 * once {@code trigger.interval.minutes} have passed since the last run (or since start). The decision depends on the
 * numbers passed in and on the newest TRAIN command already answered, nothing else, so it is tested without a broker.
 */
public final class RunSchedule {
    private final int triggerExamples;
    private final int intervalMinExamples;
    private final int intervalMinutes;
    private final long startedMillis;
    /** The time of the newest TRAIN command a run has been started for (or that was answered before a restart). */
    private long answeredTrainRequestMillis;

    /**
     * @param triggerExamples {@code trigger.examples}
     * @param intervalMinExamples {@code trigger.interval.min.examples}
     * @param intervalMinutes {@code trigger.interval.minutes}
     * @param startedMillis when the trainer started: the interval counts from there until its first run
     */
    public RunSchedule(int triggerExamples, int intervalMinExamples, int intervalMinutes, long startedMillis) {
        this.triggerExamples = triggerExamples;
        this.intervalMinExamples = intervalMinExamples;
        this.intervalMinutes = intervalMinutes;
        this.startedMillis = startedMillis;
    }

    /**
     * Takes over what the control log says at start: a TRAIN command older than the trainer's last event was
     * answered by an earlier run (before a restart), and starts nothing again; a newer one is still owed a run.
     */
    public void resume(ControlState state) {
        resume(state.lastTrainRequestMillis(), state.lastTrainerEventMillis());
    }

    /** {@link #resume(ControlState)} with the two times it reads there. */
    public void resume(long trainRequestMillis, long lastTrainerEventMillis) {
        answeredTrainRequestMillis = trainRequestMillis <= lastTrainerEventMillis ? trainRequestMillis : 0;
    }

    /** {@link #due(long, long, int, long)} with the times the control log holds. */
    public Optional<String> due(ControlState state, int freshExamples, long nowMillis) {
        return due(state.lastTrainRequestMillis(), state.lastTrainerEventMillis(), freshExamples, nowMillis);
    }

    /**
     * Whether a run is due now, and why (the sentence goes into the log). A TRAIN command counts as answered once
     * this says so: the caller starts a run for it or logs why it cannot.
     *
     * @param trainRequestMillis the newest TRAIN command's time (0 when none)
     * @param lastTrainerEventMillis the newest event the trainer published (0 when none)
     * @param freshExamples examples the next run would see for the first time
     */
    public Optional<String> due(long trainRequestMillis, long lastTrainerEventMillis, int freshExamples, long nowMillis) {
        if (trainRequestMillis > answeredTrainRequestMillis) {
            answeredTrainRequestMillis = trainRequestMillis;
            return Optional.of("a TRAIN command");
        }
        if (freshExamples >= triggerExamples) {
            return Optional.of(freshExamples + " new examples");
        }
        long lastRun = Math.max(startedMillis, lastTrainerEventMillis);
        if (freshExamples >= intervalMinExamples && nowMillis - lastRun >= intervalMinutes * 60_000L) {
            return Optional.of(freshExamples + " new examples after " + intervalMinutes + " minutes");
        }
        return Optional.empty();
    }

    /**
     * The newest dataset time a finished run (published or rejected) has seen: its {@link CandidateRun#CUTOFF_METRIC},
     * or, for an event without one, the time it was created. Examples written later are new to the next run.
     */
    public static long cutoff(List<AdapterEvent> events) {
        long cutoff = 0;
        for (AdapterEvent e : events) {
            Double c = e.getMetrics().get(CandidateRun.CUTOFF_METRIC);
            cutoff = Math.max(cutoff, c != null ? c.longValue() : e.getCreatedAt().toEpochMilli());
        }
        return cutoff;
    }
}
