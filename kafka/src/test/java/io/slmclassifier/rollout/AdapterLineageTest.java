package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.ModelFingerprint;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** An ACTIVE event made by hand names the base model, the task and the archive as the processor checks them. */
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
}
