package io.slmclassifier.rollout;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.ModelFingerprint;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;

/**
 * The base model and task whose adapter versions a control topic announces, and the events of those versions: the
 * base model's id and checkpoint digest, the task's name and hash, the archive's digest and size. The trainer
 * writes its events from it, and so does whoever publishes adapters made without a trainer (the benchmarks, the
 * end-to-end tests), so that the processor checks their events exactly as it checks the trainer's.
 *
 * @param baseModelSha256 the digest of the base model's checkpoint ({@link ModelFingerprint#sha256(Path)})
 */
public record AdapterLineage(String baseModelId, String baseModelSha256, Task task) {

    /** The lineage of {@code task} on the model in {@code baseModelDir}, whose checkpoint is digested here. */
    public static AdapterLineage of(String baseModelId, Path baseModelDir, Task task) throws IOException {
        return new AdapterLineage(baseModelId, ModelFingerprint.sha256(baseModelDir), task);
    }

    /**
     * The event of {@code version}, whose archive is {@code archive}, created at {@code createdAt}: what any event of
     * this lineage says of the base model, the task and the archive. Its status, metrics and the rest are the
     * caller's: the trainer's verdict, or {@link #activeEvent}.
     */
    public AdapterEvent.Builder event(long version, byte[] archive, Instant createdAt) {
        return AdapterEvent.newBuilder().setVersion(version).setBaseModelId(baseModelId)
                .setBaseModelSha256(baseModelSha256).setTaskName(task.name()).setTaskHash(task.hash())
                .setSha256(ModelFingerprint.sha256(archive)).setSizeBytes(archive.length).setCreatedAt(createdAt);
    }

    /**
     * The ACTIVE event of {@code version}, whose archive is at {@code location}, created now, without metrics; the
     * builder, for what a caller adds (metrics, a parent version, a message).
     */
    public AdapterEvent.Builder activeEvent(long version, byte[] archive, String location) {
        return event(version, archive, Instant.now()).setMetrics(Map.of()).setStatus(AdapterStatus.ACTIVE)
                .setLocation(location);
    }

    /** Stores the archive of {@code version} and returns its ACTIVE event, for the caller to publish. */
    public AdapterEvent.Builder store(AdapterStore store, long version, byte[] archive) throws IOException {
        return activeEvent(version, archive, store.put(version, archive));
    }
}
