package io.slmclassifier.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RunScheduleTest {
    private static final long MINUTE = 60_000L;
    private static final long STARTED = 1_000_000L;

    /** trigger.examples 100; after 10 minutes, 5 new examples are enough. */
    private static RunSchedule schedule() {
        return new RunSchedule(100, 5, 10, STARTED);
    }

    @Test
    void enoughNewExamplesStartARun() {
        RunSchedule schedule = schedule();
        assertEquals(Optional.empty(), schedule.due(0, 0, 99, STARTED + 1));
        assertEquals(Optional.of("100 new examples"), schedule.due(0, 0, 100, STARTED + 1));
    }

    @Test
    void afterTheIntervalAFewNewExamplesAreEnough() {
        RunSchedule schedule = schedule();
        assertEquals(Optional.empty(), schedule.due(0, 0, 5, STARTED + 10 * MINUTE - 1), "the interval counts from start");
        assertEquals(Optional.of("5 new examples after 10 minutes"), schedule.due(0, 0, 5, STARTED + 10 * MINUTE));
        assertEquals(Optional.empty(), schedule.due(0, 0, 4, STARTED + 60 * MINUTE), "fewer than the minimum wait");
        long lastRun = STARTED + 30 * MINUTE;
        assertEquals(Optional.empty(), schedule.due(0, lastRun, 5, lastRun + 9 * MINUTE),
                "after a run, the interval counts from its event");
        assertEquals(Optional.of("5 new examples after 10 minutes"), schedule.due(0, lastRun, 5, lastRun + 10 * MINUTE));
    }

    @Test
    void aTrainCommandStartsOneRunWithoutNewExamples() {
        RunSchedule schedule = schedule();
        long request = STARTED + MINUTE;
        assertEquals(Optional.of("a TRAIN command"), schedule.due(request, 0, 0, request + 1));
        assertEquals(Optional.empty(), schedule.due(request, 0, 0, request + 2), "the same command is answered once");
        assertEquals(Optional.of("a TRAIN command"), schedule.due(request + 5, 0, 0, request + 6), "a newer one again");
    }

    @Test
    void aRestartDoesNotAnswerATrainCommandTwice() {
        RunSchedule answered = schedule();
        answered.resume(STARTED - 2 * MINUTE, STARTED - MINUTE); // a run finished after the command
        assertEquals(Optional.empty(), answered.due(STARTED - 2 * MINUTE, STARTED - MINUTE, 0, STARTED + 1));

        RunSchedule owed = schedule();
        owed.resume(STARTED - MINUTE, STARTED - 2 * MINUTE); // the command came after the last run: still owed
        assertEquals(Optional.of("a TRAIN command"), owed.due(STARTED - MINUTE, STARTED - 2 * MINUTE, 0, STARTED + 1));
    }

    @Test
    void theCutoffIsTheNewestDatasetTimeAFinishedRunSaw() {
        assertEquals(0, RunSchedule.cutoff(List.of()));
        AdapterEvent published = event(1, Map.of(CandidateRun.CUTOFF_METRIC, 5_000.0), 9_000);
        AdapterEvent rejected = event(2, Map.of(CandidateRun.CUTOFF_METRIC, 7_000.0, "macro_f1", 0.5), 10_000);
        assertEquals(7_000, RunSchedule.cutoff(List.of(published, rejected)), "a rejected run saw its examples too");
        // An event written without the metric counts up to its own time.
        assertEquals(8_000, RunSchedule.cutoff(List.of(published, event(3, Map.of(), 8_000))));
    }

    private static AdapterEvent event(long version, Map<String, Double> metrics, long createdAtMillis) {
        return AdapterEvent.newBuilder().setVersion(version).setBaseModelId("m").setBaseModelSha256("00").setTaskName("t")
                .setTaskHash("00").setSha256("00").setSizeBytes(1).setMetrics(Map.copyOf(metrics))
                .setCreatedAt(Instant.ofEpochMilli(createdAtMillis)).setStatus(AdapterStatus.REJECTED).setMessage("")
                .build();
    }
}
