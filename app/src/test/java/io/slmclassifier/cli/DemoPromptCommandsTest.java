package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.rollout.ControlState;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What the demo's {@code /adapters} and {@code /rollback} say, on the control state they read. */
class DemoPromptCommandsTest {

    private static AdapterEvent event(long version, AdapterStatus status) {
        return AdapterEvent.newBuilder().setVersion(version).setBaseModelId("m").setBaseModelSha256("b")
                .setTaskName("t").setTaskHash("h").setSha256("s").setSizeBytes(1).setMetrics(Map.of("macro_f1", 0.7))
                .setCreatedAt(Instant.ofEpochSecond(1_700_000_000L + version)).setStatus(status).setMessage("why").build();
    }

    private static String adapters(ControlState state) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DemoPrompt.printAdapters(state, 3, 20, new PrintStream(out, true, StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void adaptersWithNoVersionsSaysSoInsteadOfABareHeader() {
        List<String> lines = adapters(new ControlState()).lines().toList();
        assertEquals(List.of("3 labeled examples in the dataset", "no adapter versions yet: the base model serves until "
                + "the trainer publishes one (training starts after 20 new labels, or now with /train)"), lines);
    }

    @Test
    void adaptersWithVersionsListsThem() {
        ControlState state = new ControlState();
        state.apply(event(1, AdapterStatus.ACTIVE));
        String said = adapters(state);
        assertTrue(said.startsWith("3 labeled examples in the dataset\nversion "), said);
        assertTrue(said.lines().anyMatch(l -> l.startsWith("1 ") && l.contains("serving")), said);
        assertTrue(said.contains("serving: version 1"), said);
    }

    @Test
    void adaptersAfterARollbackShowTheHoldAndTheWaitingVersions() {
        ControlState state = new ControlState();
        state.apply(event(1, AdapterStatus.ACTIVE));
        state.apply(AdapterCommand.newBuilder().setCommand(AdapterCommandType.ROLLBACK).setVersion(0L).setRequestedBy("ops")
                .setRequestedAt(Instant.parse("2026-12-07T06:10:00.250Z")).build());
        state.apply(event(2, AdapterStatus.ACTIVE));
        state.apply(event(3, AdapterStatus.ACTIVE));
        String said = adapters(state);
        assertTrue(said.lines().anyMatch(l -> l.startsWith("2 ") && l.contains("waiting")), said);
        assertTrue(said.lines().anyMatch(l -> l.startsWith("1 ") && l.contains("rolled back")), said);
        assertTrue(said.contains("serving: the base model\nheld since the rollback at 2026-12-07T06:10:00Z by ops; "
                + "waiting: v2, v3 ('adapter resume' serves the newest, 'adapter pin V' one of them)"), said);
    }

    @Test
    void adaptersSayWhenNoTemperatureCouldBeFitted() {
        ControlState state = new ControlState();
        state.apply(AdapterEvent.newBuilder(event(1, AdapterStatus.ACTIVE))
                .setMetrics(Map.of("macro_f1", 0.7, "ece", 0.1, "temperature", 0.42)).build());
        String calibrated = adapters(state);
        assertTrue(calibrated.lines().anyMatch(l -> l.startsWith("1 ") && l.contains(" 0.42 ")), calibrated);
        assertTrue(!calibrated.contains("T none"), calibrated);

        state.apply(AdapterEvent.newBuilder(event(2, AdapterStatus.ACTIVE)).setMetrics(Map.of("macro_f1", 0.7, "ece", 0.5))
                .build());
        String said = adapters(state);
        assertTrue(said.lines().anyMatch(l -> l.startsWith("2 ") && l.contains(" none ")), said);
        assertTrue(said.contains("T none: no calibration temperature could be fitted"), said);
    }

    @Test
    void aRestartSummarisesTheHistoryInOneLine() {
        ControlState state = new ControlState();
        assertEquals(Optional.empty(), DemoAdapterNews.history(state), "a first start has no history");
        for (long v = 1; v <= 24; v++) {
            state.apply(event(v, v % 6 == 0 ? AdapterStatus.REJECTED : AdapterStatus.ACTIVE));
        }
        state.apply(AdapterCommand.newBuilder().setCommand(AdapterCommandType.PIN).setVersion(7L).setRequestedBy("ops")
                .setRequestedAt(Instant.ofEpochMilli(100)).build());
        assertEquals(Optional.of("history: versions 1-24 (20 published, 4 rejected), serving v7"), DemoAdapterNews.history(state));

        ControlState one = new ControlState();
        one.apply(event(1, AdapterStatus.ACTIVE));
        one.apply(AdapterCommand.newBuilder().setCommand(AdapterCommandType.ROLLBACK).setVersion(null).setRequestedBy("ops")
                .setRequestedAt(Instant.parse("2026-12-07T06:10:00Z")).build());
        assertEquals(Optional.of("history: version 1 (1 published), serving the base model; held since the rollback at "
                + "2026-12-07T06:10:00Z by ops; waiting: none yet"), DemoAdapterNews.history(one));
    }

    @Test
    void rollbackWithNothingToRollBackSaysSoAndSendsNothing() {
        ControlState base = new ControlState();
        assertEquals(Optional.of("nothing to roll back: the base model is serving, no adapter version is; nothing sent"),
                DemoPrompt.nothingToRollBack(base, null));
        assertTrue(DemoPrompt.nothingToRollBack(base, 0L).isPresent(), "to the base model, which already serves");

        // Only a rejected version: still the base model serving.
        base.apply(event(1, AdapterStatus.REJECTED));
        assertTrue(DemoPrompt.nothingToRollBack(base, null).isPresent());
        assertEquals(Optional.of("there is no adapter version 7 (/adapters lists them); nothing sent"),
                DemoPrompt.nothingToRollBack(base, 7L));
    }

    @Test
    void rollbackOfAServingVersionIsSentAndRollingBackToItIsNot() {
        ControlState state = new ControlState();
        state.apply(event(1, AdapterStatus.ACTIVE));
        state.apply(event(2, AdapterStatus.ACTIVE));
        assertEquals(Optional.empty(), DemoPrompt.nothingToRollBack(state, null));
        assertEquals(Optional.empty(), DemoPrompt.nothingToRollBack(state, 1L));
        assertEquals(Optional.empty(), DemoPrompt.nothingToRollBack(state, 0L), "back to the base model");
        assertEquals(Optional.of("version 2 is already serving; nothing sent"), DemoPrompt.nothingToRollBack(state, 2L));

        // Both rolled back: the base model serves, and a further /rollback has nothing left to undo.
        for (int i = 0; i < 2; i++) {
            state.apply(AdapterCommand.newBuilder().setCommand(AdapterCommandType.ROLLBACK).setVersion(null).setRequestedBy("ops")
                    .setRequestedAt(Instant.ofEpochMilli(100)).build());
        }
        assertTrue(state.serving().isEmpty());
        assertTrue(DemoPrompt.nothingToRollBack(state, null).isPresent());
    }

    @Test
    void tasksListsEachTaskWithItsServingVersionAndMarksThePromptsOwn() {
        List<DemoPrompt.DemoTask> tasks = List.of(
                new DemoPrompt.DemoTask("emotion", List.of("sadness", "joy"), "emotion.in", "emotion.classified",
                        "emotion.feedback", null),
                new DemoPrompt.DemoTask("radr-intents", List.of("confirm", "other"), "radr-intents.in",
                        "radr-intents.classified", "radr-intents.feedback", null));
        assertEquals(List.of(
                "  emotion       serving base   emotion.in -> emotion.classified  labels: sadness, joy",
                "* radr-intents  serving v3     radr-intents.in -> radr-intents.classified  labels: confirm, other"),
                DemoPrompt.taskLines(tasks, "radr-intents", Map.of("emotion", 0L, "radr-intents", 3L)));
    }
}
