package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import java.time.Instant;
import java.util.Map;
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
        // A newly trained version serves again.
        s.apply(event(4, AdapterStatus.ACTIVE));
        assertEquals(OptionalLong.of(4), s.serving());
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
}
