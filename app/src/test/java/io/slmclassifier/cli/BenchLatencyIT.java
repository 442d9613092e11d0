package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.Fixtures;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench --kafka --rate}: a processor of its own per run on the bench's local broker, a producer at the rate,
 * and every result read back by a read_committed consumer, with the latency per window from the start.
 */
class BenchLatencyIT {

    @Test
    void everyRecordSentAtTheRateComesBackWithItsLatencyPerWindow(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("latency.json");
        int code = Main.run(new String[] {"bench", "--model", Fixtures.model("qwen3-tiny").toString(), "--task",
            Fixtures.task("radr-intents").toString(), "--device", "cpu", "--kafka", "--batch-sizes", "8", "--rate", "20",
            "--duration", "4", "--window", "2", "--guarantee", "at_least_once,exactly_once_v2", "--json", json.toString()});
        assertEquals(0, code);
        JsonNode runs = new ObjectMapper().readTree(json.toFile());
        assertEquals(2, runs.size(), "one run per guarantee");
        for (JsonNode run : runs) {
            String where = run.get("guarantee").asText();
            assertEquals(80, run.get("sent").asInt(), where + ": 20 msg/s for 4 s");
            assertEquals(80, run.get("received").asInt(), where + ": every result read back");
            assertTrue(run.get("sentPerSecond").asDouble() > 15 && run.get("sentPerSecond").asDouble() < 25, where);
            double p50 = run.get("p50Ms").asDouble();
            assertTrue(p50 >= 0 && p50 <= run.get("p99Ms").asDouble() && run.get("p99Ms").asDouble() <= run.get("maxMs").asDouble(),
                    where + ": " + run);
            assertTrue(run.get("emitP50Ms").asDouble() <= run.get("maxMs").asDouble(), where + ": emitted before read");
            JsonNode windows = run.get("windows");
            assertEquals(2, windows.size(), where + ": 4 s in windows of 2 s");
            assertEquals(80, windows.get(0).get("count").asInt() + windows.get(1).get("count").asInt(), where);
            assertEquals(2.0, windows.get(1).get("fromSeconds").asDouble(), where);
        }
    }
}
