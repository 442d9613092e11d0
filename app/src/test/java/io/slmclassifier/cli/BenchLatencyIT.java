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
 * and every result read back by a read_committed consumer, with the latency per window from the start and the
 * forward passes of the run's processor beside it.
 */
class BenchLatencyIT {

    @Test
    void everyRecordSentAtTheRateComesBackWithItsLatencyAndPassesPerWindow(@TempDir Path dir) throws Exception {
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
            for (JsonNode window : windows) {
                double emitP99 = window.get("emitP99Ms").asDouble();
                assertTrue(emitP99 >= 0 && emitP99 <= window.get("maxMs").asDouble(), where + ": emitted before read");
            }
            assertPassesAccountForEveryRecord(run, 80, 8);
        }
    }

    /**
     * Every record was in exactly one pass (none failed, none dead-lettered), no pass over the batch limit, the
     * worker busy within 0-100% of each window, and the slowest passes the slowest of the run.
     */
    private static void assertPassesAccountForEveryRecord(JsonNode run, int records, int batch) {
        String where = run.get("guarantee").asText() + ": " + run;
        assertEquals(0, run.get("failedPasses").asInt(), where);
        int passes = 0;
        int texts = 0;
        double slowestInWindows = 0;
        for (JsonNode window : run.get("windows")) {
            JsonNode p = window.get("passes");
            passes += p.get("count").asInt();
            texts += p.get("texts").asInt();
            assertTrue(p.get("maxTexts").asInt() <= batch, where);
            assertTrue(p.get("busyPercent").asDouble() >= 0 && p.get("busyPercent").asDouble() <= 100, where);
            if (p.get("count").asInt() > 0) {
                assertEquals(p.get("texts").asDouble() / p.get("count").asInt(), p.get("meanTexts").asDouble(), 1e-9, where);
                assertTrue(p.get("p50Ms").asDouble() > 0 && p.get("p50Ms").asDouble() <= p.get("maxMs").asDouble(), where);
                assertTrue(p.get("busyPercent").asDouble() > 0, where);
                slowestInWindows = Math.max(slowestInWindows, p.get("maxMs").asDouble());
            }
        }
        assertEquals(records, texts, where);
        assertTrue(passes >= records / batch, where);
        assertTrue(run.get("firstPassSeconds").asDouble() >= 0, where);
        JsonNode slowest = run.get("slowestPasses");
        assertEquals(Math.min(5, passes), slowest.size(), where);
        assertEquals(slowestInWindows, slowest.get(0).get("ms").asDouble(), 1e-9, where);
        for (int i = 1; i < slowest.size(); i++) {
            assertTrue(slowest.get(i).get("ms").asDouble() <= slowest.get(i - 1).get("ms").asDouble(), where);
        }
    }
}
