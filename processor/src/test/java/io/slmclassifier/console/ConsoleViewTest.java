package io.slmclassifier.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** What the page reads: a task's live state with its topics, its adapter versions and which version serves. */
class ConsoleViewTest {
    private static final ConsoleSettings SETTINGS = new ConsoleSettings("127.0.0.1", 0, "", "localhost:9092", Map.of(),
            "colours.classified", "colours.dlq", "colours.feedback");
    private static final ConsoleView VIEW = new ConsoleView(List.of("radr-intents", "colours"));

    private static List<Long> versions(JsonNode view) {
        List<Long> versions = new ArrayList<>();
        view.path("adapters").path("versions").forEach(v -> versions.add(v.get("version").asLong()));
        return versions;
    }

    @Test
    void aTaskWithAdapterControlShowsItsVersionsNewestFirstAndTheServingOne() {
        ConsoleServerIT.RecordingControl control = new ConsoleServerIT.RecordingControl();
        JsonNode view = VIEW.snapshot(new ConsoleServer.Task("colours", SETTINGS, control), new LiveState(),
                System.currentTimeMillis());
        assertEquals("colours", view.get("task").asText());
        assertEquals("[\"radr-intents\",\"colours\"]", view.get("tasks").toString());
        assertFalse(view.get("writable").asBoolean());
        assertEquals("colours.classified", view.path("topics").get("classified").asText());
        assertEquals("colours.dlq", view.path("topics").get("deadLetters").asText());
        assertEquals("colours.feedback", view.path("topics").get("feedback").asText());
        assertTrue(view.path("adapters").get("available").asBoolean());
        assertEquals(List.of(3L, 2L, 1L), versions(view));
        assertEquals(3, view.path("adapters").get("serving").asLong());
        assertEquals(2, view.path("adapters").get("pinned").asLong());
        JsonNode v3 = view.path("adapters").path("versions").get(0);
        assertTrue(v3.get("serving").asBoolean());
        assertFalse(v3.get("pinned").asBoolean());
        assertEquals(0.81, v3.path("metrics").get("macro_f1").asDouble(), 1e-12);
        assertEquals(ConsoleServerIT.RecordingControl.NEWEST_CREATED.toEpochMilli(), v3.get("created").asLong());
        assertTrue(view.path("adapters").path("versions").get(2).path("evaluation").isNull());
        assertEquals(3, view.get("servingVersion").asLong());
        assertEquals("adapter control", view.get("servingFrom").asText());
        // The feedback figures count from the newest version, whatever its status.
        assertEquals(3, view.path("feedback").get("sinceVersion").asLong());
        assertEquals("ACTIVE", view.path("feedback").get("sinceStatus").asText());
    }

    @Test
    void theQualityPanelDrawsTheServingVersionAndANewerCandidateThatHasAnEvaluation() {
        ConsoleServerIT.RecordingControl control = new ConsoleServerIT.RecordingControl();
        ConsoleServer.Task task = new ConsoleServer.Task("colours", SETTINGS, control);
        JsonNode before = VIEW.snapshot(task, new LiveState(), System.currentTimeMillis());
        assertEquals(3, before.path("quality").get("serving").asLong());
        assertTrue(before.path("quality").get("candidate").isNull());
        control.candidate = new AdapterRow(4, AdapterStatus.REJECTED, Map.of(), null, "worse", ConsoleServerIT.EVALUATION);
        JsonNode after = VIEW.snapshot(task, new LiveState(), System.currentTimeMillis());
        assertEquals(4, after.path("quality").get("candidate").asLong());
        assertEquals("REJECTED", after.path("feedback").get("sinceStatus").asText());
    }

    @Test
    void withoutAdapterControlTheNewestResultSaysWhichVersionServes() {
        ConsoleServer.Task task = new ConsoleServer.Task("", SETTINGS, null);
        LiveState state = new LiveState();
        JsonNode empty = VIEW.snapshot(task, state, System.currentTimeMillis());
        assertFalse(empty.path("adapters").get("available").asBoolean());
        assertTrue(empty.get("servingVersion").isNull());
        assertEquals("no result yet", empty.get("servingFrom").asText());
        state.classified(ConsoleServerIT.classification("m-1", "x", 0.9, 7L), System.currentTimeMillis());
        JsonNode served = VIEW.snapshot(task, state, System.currentTimeMillis());
        assertEquals(7, served.get("servingVersion").asLong());
        assertEquals("latest result", served.get("servingFrom").asText());
        assertEquals(7L, ConsoleView.servingNow(null, state).version());
    }

    @Test
    void aControlThatCannotAnswerIsShownAsAnErrorNotAFailedPage() {
        AdapterControl broken = new AdapterControl() {
            @Override
            public List<AdapterRow> versions() {
                throw new IllegalStateException("control log not read yet");
            }

            @Override
            public OptionalLong serving() {
                throw new IllegalStateException("control log not read yet");
            }

            @Override
            public void send(AdapterCommandType type, Long version, String requestedBy) {}
        };
        JsonNode view = VIEW.snapshot(new ConsoleServer.Task("colours", SETTINGS, broken), new LiveState(),
                System.currentTimeMillis());
        assertEquals("control log not read yet", view.path("adapters").get("error").asText());
        assertTrue(view.get("servingVersion").isNull());
        assertEquals("adapter control", view.get("servingFrom").asText());
        assertEquals(null, ConsoleView.servingNow(broken, new LiveState()));
    }

    @Test
    void anUpdateCarriesOnlyTheResultsAfterTheGivenSequenceNumber() {
        ConsoleServer.Task task = new ConsoleServer.Task("", SETTINGS, null);
        LiveState state = new LiveState();
        long now = System.currentTimeMillis();
        state.classified(ConsoleServerIT.classification("m-1", "x", 0.9, null), now);
        long seen = state.lastSeq();
        state.classified(ConsoleServerIT.classification("m-2", "y", 0.9, null), now);
        assertEquals(2, VIEW.snapshot(task, state, now).get("recent").size());
        JsonNode update = VIEW.update(task, state, seen, now);
        assertEquals(1, update.get("recent").size());
        assertEquals("m-2", update.get("recent").get(0).get("id").asText());
    }
}
