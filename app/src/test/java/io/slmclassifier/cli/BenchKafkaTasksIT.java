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
 * {@code bench --kafka --tasks}: a processor of two tasks and a processor of one on the bench's local broker, each
 * adapter installed through its task's control topic; every message of the mix comes back on its task's output, and
 * every task's new version reaches a result while traffic flows.
 */
class BenchKafkaTasksIT {

    @Test
    void everyTaskGetsItsShareBackAndEachNewVersionReachesAResult(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("tasks.json");
        int code = Main.run(new String[] {"bench", "--model", Fixtures.model("qwen3-tiny").toString(), "--device", "cpu",
            "--kafka", "--tasks", "2", "--mix", "75,25", "--messages", "40", "--repeats", "1", "--batch-sizes", "8",
            "--task-files", Fixtures.task("radr-intents") + "," + Fixtures.task("emotion"), "--json", json.toString()});
        assertEquals(0, code);
        JsonNode result = new ObjectMapper().readTree(json.toFile());
        JsonNode single = result.get("single").get("perTask");
        assertEquals(1, single.size());
        assertEquals("radr-intents-1", single.get(0).get("task").asText());
        assertEquals(40, single.get(0).get("messages").asInt(), "every message of the single task read back");
        JsonNode several = result.get("several").get("perTask");
        assertEquals(2, several.size());
        assertEquals("radr-intents-1", several.get(0).get("task").asText());
        assertEquals(30, several.get(0).get("messages").asInt(), "75% of 40");
        assertEquals("emotion-2", several.get(1).get("task").asText());
        assertEquals(10, several.get(1).get("messages").asInt(), "25% of 40");
        for (JsonNode task : several) {
            assertTrue(task.get("p50Ms").asDouble() <= task.get("p99Ms").asDouble(), task.toString());
        }
        assertTrue(result.get("ratio").asDouble() > 0, result.toString());
        JsonNode swaps = result.get("severalSwaps");
        assertEquals(2, swaps.size(), "one swap per task");
        for (JsonNode swap : swaps) {
            assertEquals(2, swap.get("version").asInt());
            assertTrue(swap.get("eventToFirstResultMs").asDouble() > 0, swap.toString());
        }
        assertEquals(1, result.get("singleSwaps").size());
    }
}
