package io.slmclassifier.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.slmclassifier.avro.Classification;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The review queue's order: the serving version's results first, then those of versions that no longer serve. */
class LiveStateTest {

    private static List<String> reviewOrder(JsonNode view) {
        List<String> ids = new ArrayList<>();
        view.get("review").forEach(n -> ids.add(n.get("id").asText()));
        return ids;
    }

    private static JsonNode reviewItem(JsonNode view, String id) {
        for (JsonNode n : view.get("review")) {
            if (n.get("id").asText().equals(id)) {
                return n;
            }
        }
        throw new AssertionError(id + " not in the review queue: " + view.get("review"));
    }

    @Test
    void resultsOfAVersionThatNoLongerServesComeAfterTheServingOnes() {
        LiveState state = new LiveState();
        long now = System.currentTimeMillis();
        Classification baseUnsure = ConsoleServerIT.classification("base-unsure", "a", 0.33, null);
        baseUnsure.setAbstained(true);
        state.classified(baseUnsure, now);
        state.classified(ConsoleServerIT.classification("base-sure", "b", 0.90, null), now);
        state.classified(ConsoleServerIT.classification("v8-sure", "c", 0.95, 8L), now);
        state.classified(ConsoleServerIT.classification("v8-unsure", "d", 0.60, 8L), now);

        JsonNode view = state.view(0, 10, now, new LiveState.Serving(8L));
        assertEquals(List.of("v8-unsure", "v8-sure", "base-unsure", "base-sure"), reviewOrder(view));
        assertTrue(reviewItem(view, "v8-sure").get("current").asBoolean());
        assertFalse(reviewItem(view, "base-unsure").get("current").asBoolean());

        // Rolled back to the base model: the base's results are current again, abstained first.
        JsonNode rolledBack = state.view(0, 10, now, new LiveState.Serving(null));
        assertEquals(List.of("base-unsure", "base-sure", "v8-unsure", "v8-sure"), reviewOrder(rolledBack));
    }

    @Test
    void withoutAdapterControlTheNewestResultSaysWhatServes() {
        LiveState state = new LiveState();
        long now = System.currentTimeMillis();
        state.classified(ConsoleServerIT.classification("v1", "a", 0.30, 1L), now);
        state.classified(ConsoleServerIT.classification("v2", "b", 0.90, 2L), now);

        JsonNode view = state.view(0, 10, now);
        assertEquals(List.of("v2", "v1"), reviewOrder(view));
        assertFalse(reviewItem(view, "v1").get("current").asBoolean());
    }

    @Test
    void withNothingKnownAboutServingEveryResultIsCurrent() {
        LiveState state = new LiveState();
        long now = System.currentTimeMillis();
        state.classified(ConsoleServerIT.classification("v1", "a", 0.30, 1L), now);
        state.classified(ConsoleServerIT.classification("v2", "b", 0.90, 2L), now);

        JsonNode view = state.view(0, 10, now, null);
        assertEquals(List.of("v1", "v2"), reviewOrder(view), "least confident first, as before");
        view.get("review").forEach(n -> assertTrue(n.get("current").asBoolean()));
    }
}
