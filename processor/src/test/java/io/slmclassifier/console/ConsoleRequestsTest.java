package io.slmclassifier.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.console.ConsoleExchange.Refused;
import io.slmclassifier.console.ConsoleRequests.AdapterCommand;
import io.slmclassifier.console.ConsoleRequests.Label;
import java.time.Instant;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The page's writes as the console reads them: what is sent, and what is refused with which reason. */
class ConsoleRequestsTest {
    private static final ObjectMapper json = new ObjectMapper();
    private static final Supplier<List<AdapterRow>> VERSIONS = new ConsoleServerIT.RecordingControl()::versions;

    private static JsonNode body(String text) throws Exception {
        return json.readTree(text);
    }

    private static Refused refusedCommand(String body) {
        return assertThrows(Refused.class, () -> AdapterCommand.of(body(body), VERSIONS));
    }

    @Test
    void aLabelOfARecentClassificationBecomesALabeledExampleFromTheConsole() throws Exception {
        LiveState state = new LiveState();
        state.classified(ConsoleServerIT.classification("m-1", "RobLW an Zugführer", 0.7, 4L), System.currentTimeMillis());
        Label label = Label.of(body("{\"id\": \"m-1\", \"label\": \"call\"}"), state);
        Instant at = Instant.parse("2026-12-07T10:00:00Z");
        LabeledExample example = label.example(at);
        assertEquals("m-1", example.getId());
        assertEquals("RobLW an Zugführer", example.getText());
        assertEquals("call", example.getLabel());
        assertEquals("order", example.getPredictedLabel());
        assertEquals(4L, example.getAdapterVersion());
        assertEquals("console", example.getSource());
        assertEquals(at, example.getLabeledAt());
    }

    @Test
    void aLabelIsRefusedForAnUnknownIdOrALabelTheTaskDoesNotHave() throws Exception {
        LiveState state = new LiveState();
        state.classified(ConsoleServerIT.classification("m-1", "x", 0.7, null), System.currentTimeMillis());
        Refused unknown = assertThrows(Refused.class, () -> Label.of(body("{\"id\": \"m-2\", \"label\": \"call\"}"), state));
        assertEquals(404, unknown.status);
        Refused notALabel = assertThrows(Refused.class,
                () -> Label.of(body("{\"id\": \"m-1\", \"label\": \"lunch\"}"), state));
        assertEquals(400, notALabel.status);
        assertEquals("'lunch' is not one of the task's labels [order, call, other]", notALabel.getMessage());
    }

    @Test
    void theConsolesThreeCommandsWithTheirVersions() throws Exception {
        assertEquals(new AdapterCommand(AdapterCommandType.ROLLBACK, null), AdapterCommand.of(body("{\"command\": \"ROLLBACK\"}"), VERSIONS));
        assertEquals(new AdapterCommand(AdapterCommandType.ROLLBACK, 1L),
                AdapterCommand.of(body("{\"command\": \"ROLLBACK\", \"version\": 1}"), VERSIONS));
        assertEquals(new AdapterCommand(AdapterCommandType.PIN, 2L),
                AdapterCommand.of(body("{\"command\": \"PIN\", \"version\": 2}"), VERSIONS));
        // UNPIN names no version: one given is dropped, not checked.
        assertEquals(new AdapterCommand(AdapterCommandType.UNPIN, null),
                AdapterCommand.of(body("{\"command\": \"UNPIN\", \"version\": 99}"), VERSIONS));
    }

    @Test
    void aCommandThatMakesNoSenseIsRefusedWithTheReason() {
        assertEquals("command must be one of [PIN, ROLLBACK, UNPIN]", refusedCommand("{\"command\": \"TRAIN\"}").getMessage());
        assertEquals(400, refusedCommand("{\"command\": \"delete\"}").status);
        assertEquals(400, refusedCommand("{}").status);
        assertEquals("version must be a whole number or null",
                refusedCommand("{\"command\": \"PIN\", \"version\": \"three\"}").getMessage());
        assertEquals("PIN needs the version to pin", refusedCommand("{\"command\": \"PIN\"}").getMessage());
        Refused unknown = refusedCommand("{\"command\": \"PIN\", \"version\": 9}");
        assertEquals(404, unknown.status);
        assertEquals("no adapter version 9", unknown.getMessage());
    }
}
