package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class ControlStateTest {

    static AdapterEvent event(long version, AdapterStatus status) {
        return AdapterEvent.newBuilder().setVersion(version).setParentVersion(version > 1 ? version - 1 : null)
                .setBaseModelId("m").setBaseModelSha256("b").setTaskName("t").setTaskHash("h").setSha256("s")
                .setSizeBytes(1).setMetrics(Map.of("macro_f1", 0.5 + version / 10.0)).setCreatedAt(Instant.ofEpochMilli(version))
                .setStatus(status).setInstance(status == AdapterStatus.ERROR ? "p-0" : null).setMessage("why").build();
    }

    static AdapterCommand command(AdapterCommandType type, Long version) {
        return AdapterCommand.newBuilder().setCommand(type).setVersion(version).setRequestedBy("ops")
                .setRequestedAt(Instant.ofEpochMilli(100)).build();
    }

    @Test
    void servesTheNewestActiveVersionAndSkipsRejectedOnes() {
        ControlState s = new ControlState();
        assertEquals(OptionalLong.empty(), s.serving());
        s.apply(event(1, AdapterStatus.ACTIVE));
        s.apply(event(2, AdapterStatus.REJECTED));
        assertEquals(OptionalLong.of(1), s.serving());
        assertEquals(2, s.highestVersion());
        s.apply(event(3, AdapterStatus.ACTIVE));
        assertEquals(OptionalLong.of(3), s.serving());
        assertEquals(ControlState.Status.SERVING, s.status(3));
        assertEquals(ControlState.Status.ACTIVE, s.status(1));
        assertEquals(ControlState.Status.REJECTED, s.status(2));
    }

    @Test
    void rollbackWithoutAVersionServesThePreviousActiveOne() {
        ControlState s = new ControlState();
        s.apply(event(1, AdapterStatus.ACTIVE));
        s.apply(event(2, AdapterStatus.REJECTED));
        s.apply(event(3, AdapterStatus.ACTIVE));
        s.apply(command(AdapterCommandType.ROLLBACK, null));
        assertEquals(OptionalLong.of(1), s.serving());
        assertEquals(ControlState.Status.ROLLED_BACK, s.status(3));
        s.apply(command(AdapterCommandType.ROLLBACK, null));
        assertEquals(OptionalLong.empty(), s.serving(), "the base model after rolling back the first version");
        // A newly trained version waits for the operator; UNPIN (adapter resume) serves it.
        s.apply(event(4, AdapterStatus.ACTIVE));
        assertEquals(OptionalLong.empty(), s.serving());
        s.apply(command(AdapterCommandType.UNPIN, null));
        assertEquals(OptionalLong.of(4), s.serving());
    }

    static AdapterCommand command(AdapterCommandType type, Long version, String by, long atMillis) {
        return AdapterCommand.newBuilder(command(type, version)).setRequestedBy(by)
                .setRequestedAt(Instant.ofEpochMilli(atMillis)).build();
    }

    @Test
    void aRollbackHoldsTheLineageUntilResumed() {
        ControlState s = new ControlState();
        for (long v = 1; v <= 3; v++) {
            s.apply(event(v, AdapterStatus.ACTIVE));
        }
        assertEquals(Optional.empty(), s.hold());
        s.apply(command(AdapterCommandType.ROLLBACK, 2L, "alice", 1_765_000_000_500L));
        assertEquals(OptionalLong.of(2), s.serving());
        // The trainer goes on: candidates are kept, and the trainer's gate measures them against serving(), v2.
        s.apply(event(4, AdapterStatus.ACTIVE));
        s.apply(event(5, AdapterStatus.REJECTED));
        s.apply(event(6, AdapterStatus.ACTIVE));
        assertEquals(OptionalLong.of(2), s.serving(), "a version published after the rollback does not serve by itself");
        assertEquals(2, s.event(s.serving().getAsLong()).orElseThrow().getVersion());
        assertEquals(6, s.highestVersion(), "the next candidate is numbered after the waiting ones");
        assertEquals(ControlState.Status.WAITING, s.status(4));
        assertEquals(ControlState.Status.REJECTED, s.status(5));
        assertEquals(ControlState.Status.ROLLED_BACK, s.status(3));
        assertEquals(List.of(4L, 6L), s.waiting());
        assertEquals(Optional.of("held since the rollback at 2025-12-06T05:46:40Z by alice; waiting: v4, v6"),
                s.describeHold());
        assertEquals(3, s.hold().orElseThrow().newestAtRollback());

        ControlState copy = s.copy();
        assertEquals(s.hold(), copy.hold(), "a copy keeps the hold");
        s.apply(command(AdapterCommandType.UNPIN, null));
        assertEquals(OptionalLong.of(6), s.serving(), "resumed: the newest version serves, waiting ones included");
        assertEquals(ControlState.Status.ACTIVE, s.status(4));
        assertEquals(Optional.empty(), s.hold());
        assertEquals(List.of(), s.waiting());
        assertEquals(OptionalLong.of(2), copy.serving(), "the copy is still held");
    }

    @Test
    void aPinEndsTheHoldAndANewRollbackHoldsAgain() {
        ControlState s = new ControlState();
        s.apply(event(1, AdapterStatus.ACTIVE));
        s.apply(command(AdapterCommandType.ROLLBACK, null));
        assertEquals(Optional.of("held since the rollback at 1970-01-01T00:00:00Z by ops; waiting: none yet"),
                s.describeHold());
        s.apply(event(2, AdapterStatus.ACTIVE));
        s.apply(event(3, AdapterStatus.ACTIVE));
        assertEquals(OptionalLong.empty(), s.serving());
        s.apply(command(AdapterCommandType.PIN, 2L));
        assertEquals(OptionalLong.of(2), s.serving(), "a pin serves a waiting version");
        assertEquals(Optional.empty(), s.hold());
        assertEquals(ControlState.Status.ACTIVE, s.status(3), "after a pin nothing waits; an unpin follows the newest");
        s.apply(command(AdapterCommandType.UNPIN, null));
        assertEquals(OptionalLong.of(3), s.serving());

        s.apply(command(AdapterCommandType.ROLLBACK, null));
        assertEquals(OptionalLong.of(2), s.serving());
        s.apply(event(4, AdapterStatus.ACTIVE));
        assertEquals(OptionalLong.of(2), s.serving(), "the second rollback holds as the first did");
        assertEquals(List.of(4L), s.waiting());
        s.apply(command(AdapterCommandType.ROLLBACK, 7L));
        assertEquals(OptionalLong.of(2), s.serving(), "a rollback refused (unknown version) changes no hold");
        assertEquals(List.of(4L), s.waiting());
    }

    @Test
    void rollbackToAVersionRestoresItAndRollsBackEverythingNewer() {
        ControlState s = new ControlState();
        for (long v = 1; v <= 3; v++) {
            s.apply(event(v, AdapterStatus.ACTIVE));
        }
        s.apply(command(AdapterCommandType.ROLLBACK, 0L));
        assertEquals(OptionalLong.empty(), s.serving());
        s.apply(command(AdapterCommandType.ROLLBACK, 2L));
        assertEquals(OptionalLong.of(2), s.serving(), "a rolled-back version can be brought back");
        assertEquals(ControlState.Status.ROLLED_BACK, s.status(3));
        s.apply(command(AdapterCommandType.ROLLBACK, 7L));
        assertEquals(OptionalLong.of(2), s.serving(), "an unknown version changes nothing");
    }

    @Test
    void aPinHoldsAgainstNewVersionsUntilUnpinnedOrRolledBack() {
        ControlState s = new ControlState();
        s.apply(event(1, AdapterStatus.ACTIVE));
        s.apply(event(2, AdapterStatus.ACTIVE));
        s.apply(command(AdapterCommandType.PIN, 1L));
        s.apply(event(3, AdapterStatus.ACTIVE));
        assertEquals(OptionalLong.of(1), s.serving());
        assertEquals(OptionalLong.of(1), s.pinned());
        s.apply(command(AdapterCommandType.PIN, 9L));
        assertEquals(OptionalLong.of(1), s.serving(), "a pin of an unknown version is ignored");
        s.apply(command(AdapterCommandType.UNPIN, null));
        assertEquals(OptionalLong.of(3), s.serving());
        s.apply(command(AdapterCommandType.PIN, 2L));
        s.apply(command(AdapterCommandType.ROLLBACK, null));
        assertEquals(OptionalLong.of(1), s.serving(), "rollback from the pinned version clears the pin");
        assertEquals(OptionalLong.empty(), s.pinned());
    }

    @Test
    void errorReportsDoNotChangeWhatIsServedAndTrainRequestsAreRemembered() {
        ControlState s = new ControlState();
        s.apply(event(1, AdapterStatus.ACTIVE));
        s.apply(event(1, AdapterStatus.ERROR));
        assertEquals(OptionalLong.of(1), s.serving());
        assertEquals(Map.of("p-0", "why"), s.errors(1));
        s.apply(command(AdapterCommandType.TRAIN, null));
        assertEquals(100, s.lastTrainRequestMillis());
        ControlState copy = s.copy();
        s.apply(event(2, AdapterStatus.ACTIVE));
        assertEquals(OptionalLong.of(1), copy.serving(), "a copy does not follow the original");
        assertTrue(ControlRecords.key(event(1, AdapterStatus.ERROR)).endsWith("-error-p-0"));
        assertEquals("adapter-1", ControlRecords.key(event(1, AdapterStatus.ACTIVE)));
    }

    static AdapterEvent signedEvent(long version, long sequence) {
        return AdapterEvent.newBuilder(event(version, AdapterStatus.ACTIVE)).setIssuer("trainer").setSequence(sequence)
                .setNonce("event-" + version + "-" + sequence).build();
    }

    static AdapterCommand signedCommand(AdapterCommandType type, Long version, String issuer, long sequence) {
        return AdapterCommand.newBuilder(command(type, version)).setRequestedBy(issuer).setIssuer(issuer)
                .setSequence(sequence).setNonce(issuer + "-" + sequence).build();
    }

    @Test
    void aReplayedRollbackOrPinIsRefusedAndChangesNothing() {
        ControlState s = new ControlState();
        for (long v = 1; v <= 3; v++) {
            assertEquals(Optional.empty(), s.apply(signedEvent(v, v)));
        }
        AdapterCommand rollback = signedCommand(AdapterCommandType.ROLLBACK, null, "alice", 10);
        AdapterCommand pin = signedCommand(AdapterCommandType.PIN, 3L, "alice", 11);
        s.apply(rollback);
        assertEquals(OptionalLong.of(2), s.serving());
        s.apply(pin);
        assertEquals(OptionalLong.of(3), s.serving());
        s.apply(signedCommand(AdapterCommandType.UNPIN, null, "alice", 12));
        assertEquals(OptionalLong.of(2), s.serving(), "version 3 stays rolled back once unpinned");

        Optional<String> replayedRollback = s.apply(rollback);
        assertTrue(replayedRollback.orElse("").contains("replay"), replayedRollback.toString());
        assertTrue(s.apply(pin).isPresent());
        assertTrue(s.apply(signedEvent(3, 3)).isPresent(), "a replayed event");
        assertEquals(OptionalLong.of(2), s.serving(), "without the rule the rollback would serve 1 and the pin 3");
        assertEquals(OptionalLong.empty(), s.pinned());
        assertEquals(12, s.lastSequence("alice"));
    }

    @Test
    void sequencesAreOrderedPerIssuerOnly() {
        ControlState s = new ControlState();
        s.apply(signedEvent(1, 500));
        s.apply(signedEvent(2, 600));
        // Another issuer's clock may be behind the trainer's: its records are applied in log order all the same.
        assertEquals(Optional.empty(), s.apply(signedCommand(AdapterCommandType.ROLLBACK, 1L, "bob", 100)));
        assertEquals(OptionalLong.of(1), s.serving());
        // A record of bob's written before his last one (a different nonce, a lower sequence) was overtaken.
        Optional<String> overtaken = s.apply(signedCommand(AdapterCommandType.UNPIN, null, "bob", 99));
        assertTrue(overtaken.orElse("").contains("not above the last one applied"), overtaken.toString());
        assertEquals(Optional.empty(), s.apply(signedCommand(AdapterCommandType.ROLLBACK, 2L, "bob", 101)));
        assertEquals(OptionalLong.of(2), s.serving());
        ControlState copy = s.copy();
        assertTrue(copy.apply(signedCommand(AdapterCommandType.ROLLBACK, 0L, "bob", 101)).isPresent(),
                "a copy remembers the sequences applied");
        assertTrue(s.apply(AdapterCommand.newBuilder(command(AdapterCommandType.PIN, 1L)).setSequence(700L).build())
                .isPresent(), "a sequence without an issuer");
    }

    @Test
    void recordsWithoutASequenceCountOnlyBeforeTheFirstRecordWithOne() {
        ControlState s = new ControlState();
        s.apply(event(1, AdapterStatus.ACTIVE));
        s.apply(event(2, AdapterStatus.ACTIVE));
        assertEquals(Optional.empty(), s.apply(command(AdapterCommandType.ROLLBACK, null)), "written before sequences");
        assertEquals(OptionalLong.of(1), s.serving());
        assertEquals(Optional.empty(), s.apply(command(AdapterCommandType.UNPIN, null)), "resumed, before sequences too");
        s.apply(signedEvent(3, 5));
        assertEquals(OptionalLong.of(3), s.serving());
        Optional<String> old = s.apply(command(AdapterCommandType.ROLLBACK, null));
        assertTrue(old.orElse("").contains("no sequence"), old.toString());
        assertEquals(OptionalLong.of(3), s.serving(), "an old unsequenced rollback written again changes nothing");
    }

    @Test
    void aTasksStateRefusesEventsAndCommandsOfAnotherTaskAndAppliesCommandsThatNameNone() {
        // event(...) is of task "t".
        ControlState s = ControlState.forTask("t");
        assertEquals(Optional.of("t"), s.task());
        assertEquals(Optional.empty(), s.apply(signedEvent(1, 1)));
        assertEquals(Optional.empty(), s.apply(signedEvent(2, 2)));
        AdapterEvent otherTasks = AdapterEvent.newBuilder(signedEvent(3, 3)).setTaskName("sentiment").build();
        Optional<String> misrouted = s.apply(otherTasks);
        assertTrue(misrouted.orElse("").contains("task 'sentiment'") && misrouted.get().contains("task 't'"),
                misrouted.toString());
        assertEquals(OptionalLong.of(2), s.serving(), "another task's version is never served");
        assertEquals(2, s.highestVersion(), "nor counted: this lineage's next version is 3");
        assertEquals(2, s.lastSequence("trainer"), "a refused record changes nothing, its sequence neither");

        AdapterCommand rollbackOfOther = AdapterCommand.newBuilder(signedCommand(AdapterCommandType.ROLLBACK, 1L, "ops", 10))
                .setTask("sentiment").build();
        Optional<String> refused = s.apply(rollbackOfOther);
        assertTrue(refused.orElse("").contains("ROLLBACK command for task 'sentiment'"), refused.toString());
        assertEquals(OptionalLong.of(2), s.serving());

        AdapterCommand rollbackOfThis = AdapterCommand.newBuilder(signedCommand(AdapterCommandType.ROLLBACK, 1L, "ops", 11))
                .setTask("t").build();
        assertEquals(Optional.empty(), s.apply(rollbackOfThis));
        assertEquals(OptionalLong.of(1), s.serving());
        // A command from a CLI that names no task applies to the lineage of the topic it is on.
        assertEquals(Optional.empty(), s.apply(signedCommand(AdapterCommandType.ROLLBACK, 2L, "ops", 12)));
        assertEquals(OptionalLong.of(2), s.serving());
        assertTrue(s.copy().apply(otherTasks).isPresent(), "a copy keeps the task");
    }

    @Test
    void aStateForNoTaskAppliesRecordsOfAnyTask() {
        ControlState s = new ControlState();
        assertEquals(Optional.empty(), s.task());
        assertEquals(Optional.empty(), s.apply(AdapterEvent.newBuilder(event(1, AdapterStatus.ACTIVE)).setTaskName("x").build()));
        assertEquals(Optional.empty(), s.apply(AdapterCommand.newBuilder(command(AdapterCommandType.PIN, 1L)).setTask("y").build()));
        assertEquals(OptionalLong.of(1), s.pinned());
        assertThrows(IllegalArgumentException.class, () -> ControlState.forTask(" "));
    }
}
