package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.ModelFingerprint;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** An event made from a lineage names the base model, the task and the archive as the processor checks them. */
class AdapterLineageTest {

    @Test
    void theActiveEventNamesTheBaseModelTheTaskAndTheArchive() throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents"));
        AdapterLineage lineage = AdapterLineage.of("qwen3-tiny", Fixtures.model("qwen3-tiny"), task);
        assertEquals(ModelFingerprint.sha256(Fixtures.model("qwen3-tiny")), lineage.baseModelSha256());
        byte[] archive = "an archive".getBytes(StandardCharsets.UTF_8);
        AdapterEvent event = lineage.activeEvent(3, archive, "kafka:radr.adapters/0/7").setMessage("by hand").build();
        assertEquals(3, event.getVersion());
        assertEquals(AdapterStatus.ACTIVE, event.getStatus());
        assertEquals("qwen3-tiny", event.getBaseModelId());
        assertEquals(lineage.baseModelSha256(), event.getBaseModelSha256());
        assertEquals(task.name(), event.getTaskName());
        assertEquals(task.hash(), event.getTaskHash());
        assertEquals(ModelFingerprint.sha256(archive), event.getSha256());
        assertEquals(archive.length, event.getSizeBytes());
        assertEquals("kafka:radr.adapters/0/7", event.getLocation());
        assertTrue(event.getMetrics().isEmpty());
        assertEquals("by hand", event.getMessage());
    }

    @Test
    void anyEventOfTheLineageLeavesItsStatusToTheCaller() throws Exception {
        Task task = Task.load(Fixtures.task("radr-intents"));
        AdapterLineage lineage = new AdapterLineage("qwen3-tiny", "abc", task);
        Instant judgedAt = Instant.parse("2026-01-02T03:04:05Z");
        AdapterEvent.Builder event = lineage.event(4, new byte[] {1, 2, 3}, judgedAt);
        assertEquals(judgedAt, event.getCreatedAt(), "the time the caller gives, not the time it is built");
        assertEquals("abc", event.getBaseModelSha256());
        assertEquals(task.hash(), event.getTaskHash());
        assertEquals(ModelFingerprint.sha256(new byte[] {1, 2, 3}), event.getSha256());
        assertFalse(event.hasStatus());
        assertFalse(event.hasLocation());
        assertFalse(event.hasMetrics());
    }
}
