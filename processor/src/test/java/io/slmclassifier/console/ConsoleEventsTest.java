package io.slmclassifier.console;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.console.ConsoleEvents.TaskPages;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The updates of the pages' event streams: each carries the results that are new since the one before. */
class ConsoleEventsTest {
    private static final ObjectMapper json = new ObjectMapper();
    private static final ConsoleSettings SETTINGS = new ConsoleSettings("127.0.0.1", 0, "", "localhost:9092", Map.of(),
            "intents.classified", "intents.dlq", "intents.feedback");

    private static List<String> recentIds(String update) throws Exception {
        JsonNode view = json.readTree(update);
        return view.get("recent").findValuesAsText("id");
    }

    @Test
    void eachUpdateCarriesWhatCameSinceTheLastOne() throws Exception {
        TaskPages pages = new TaskPages(new ConsoleServer.Task("", SETTINGS, null), new LiveState());
        try (ConsoleEvents events = new ConsoleEvents(new ConsoleView(List.of("")), new EventHub(4, 4), List.of(pages))) {
            long now = System.currentTimeMillis();
            pages.state.classified(ConsoleServerIT.classification("m-1", "x", 0.9, null), now);
            pages.state.classified(ConsoleServerIT.classification("m-2", "y", 0.9, null), now);
            assertEquals(List.of("m-1", "m-2"), recentIds(events.nextUpdate(pages, now)));
            pages.state.classified(ConsoleServerIT.classification("m-3", "z", 0.9, null), now);
            assertEquals(List.of("m-3"), recentIds(events.nextUpdate(pages, now)));
            assertEquals(List.of(), recentIds(events.nextUpdate(pages, now)));
        }
    }

    @Test
    void aTaskWithoutOpenPagesMovesOnSoItsFirstPageIsNotSentTheBacklog() throws Exception {
        TaskPages pages = new TaskPages(new ConsoleServer.Task("", SETTINGS, null), new LiveState());
        try (ConsoleEvents events = new ConsoleEvents(new ConsoleView(List.of("")), new EventHub(4, 4), List.of(pages))) {
            long now = System.currentTimeMillis();
            pages.state.classified(ConsoleServerIT.classification("m-1", "x", 0.9, null), now);
            events.pushUpdates(); // no page open: nothing sent, and m-1 is in the snapshot a page opens with
            pages.state.classified(ConsoleServerIT.classification("m-2", "y", 0.9, null), now);
            assertEquals(List.of("m-2"), recentIds(events.nextUpdate(pages, now)));
        }
    }
}
