package io.slmclassifier.rollout;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.classify.Task;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.model.ModelConfig;
import java.nio.file.attribute.FileTime;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * One adapter version as a single file: a zip of its PEFT directory ({@code adapter_config.json},
 * {@code adapter_model.safetensors} and, when present, {@code training_metrics.json} and {@code calibration.json},
 * the temperature fitted for it). Entries are written in a
 * fixed order with a fixed time, so the same adapter always gives the same bytes and the same SHA-256.
 *
 * <p>An archive {@linkplain #pack(Path, Task) packed for a task} names it (name and hash, as JSON) in the zip's
 * archive comment, and a reader that knows its task {@linkplain #unpack(byte[], Path, ModelConfig, long, Task)
 * refuses an archive of another}. The comment, not an entry: readers from before several tasks refuse any entry they
 * do not know, and skip the comment. An archive without the comment (packed before) names no task and is read as
 * it always was; its event's {@code task_hash} still binds it to a task.
 */
public final class AdapterArchive {
    static final List<String> FILES = List.of("adapter_config.json", "adapter_model.safetensors", "training_metrics.json",
            "calibration.json");
    private static final List<String> REQUIRED = FILES.subList(0, 2);

    private AdapterArchive() {}

    /** The task an archive was packed for, as its comment names it. */
    public record TaskId(String name, String hash) {
        static TaskId of(Task task) {
            return new TaskId(task.name(), task.hash());
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    /** End of central directory record: its signature, its size without the comment, where the comment's length is. */
    private static final int END_SIGNATURE = 0x06054b50;
    private static final int END_BYTES = 22;
    private static final int COMMENT_LENGTH_AT = 20;

    /** An archive that names no task (as every archive did before several tasks). */
    public static byte[] pack(Path adapterDir) throws IOException {
        return pack(adapterDir, null);
    }

    /** An archive naming {@code task} (null: none) in its comment. */
    public static byte[] pack(Path adapterDir, Task task) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            if (task != null) {
                // Fields in a fixed order: the same adapter and task give the same bytes.
                zip.setComment(JSON.writeValueAsString(JSON.createObjectNode().put("task_name", task.name())
                        .put("task_hash", task.hash())));
            }
            for (String name : FILES) {
                Path file = adapterDir.resolve(name);
                if (!Files.isRegularFile(file)) {
                    if (REQUIRED.contains(name)) {
                        throw new IOException("not a PEFT adapter directory: " + file + " is missing");
                    }
                    continue;
                }
                ZipEntry entry = new ZipEntry(name);
                entry.setLastModifiedTime(FileTime.fromMillis(0));
                zip.putNextEntry(entry);
                Files.copy(file, zip);
                zip.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    /**
     * The task the archive names in its comment; empty when it names none. The comment is the zip's last bytes
     * (the end of central directory record, then the comment), found by scanning back for the record's signature.
     */
    public static Optional<TaskId> task(byte[] archive) throws IOException {
        for (int at = archive.length - END_BYTES; at >= 0 && at >= archive.length - END_BYTES - 0xffff; at--) {
            int commentLength = (archive[at + COMMENT_LENGTH_AT] & 0xff) | (archive[at + COMMENT_LENGTH_AT + 1] & 0xff) << 8;
            if (littleEndianInt(archive, at) != END_SIGNATURE || at + END_BYTES + commentLength != archive.length) {
                continue;
            }
            if (commentLength == 0) {
                return Optional.empty();
            }
            String comment = new String(archive, at + END_BYTES, commentLength, StandardCharsets.UTF_8);
            JsonNode node;
            try {
                node = JSON.readTree(comment);
            } catch (IOException e) {
                throw new IOException("the adapter archive's comment is not the JSON of its task: " + e.getMessage());
            }
            if (!node.path("task_name").isTextual() || !node.path("task_hash").isTextual()) {
                throw new IOException("the adapter archive's comment names no task_name and task_hash");
            }
            return Optional.of(new TaskId(node.get("task_name").asText(), node.get("task_hash").asText()));
        }
        throw new IOException("not a zip archive: no end of central directory record");
    }

    private static int littleEndianInt(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
    }

    /** What the small files of an archive (configuration, metrics, calibration) may take together. */
    static final long SMALL_FILES_BYTES = 4L << 20;
    /** Room for a tensor's entry in the safetensors header (its key, dtype, shape and offsets take ~150 bytes). */
    static final long HEADER_BYTES_PER_TENSOR = 1024;

    /**
     * The most bytes an adapter of {@code lora}'s rank and targets for this model can unpack to: its A and B
     * matrices in float32 with their header entries, twice over, plus {@link #SMALL_FILES_BYTES}. A rank above the
     * hidden size adds nothing a smaller one could not (B A has no higher rank), so it counts as the hidden size.
     */
    public static long unpackedBound(ModelConfig model, LoraConfig lora) {
        LoraConfig counted = new LoraConfig(Math.min(lora.r(), model.hiddenSize()), lora.alpha(), lora.dropout(),
                lora.targetModules(), lora.useRslora(), lora.baseModel());
        long tensors = 2L * lora.targetModules().size() * model.numHiddenLayers();
        long weights = 4 * LoraAdapter.parameterCount(counted, model) + 8 + HEADER_BYTES_PER_TENSOR * tensors;
        return 2 * weights + SMALL_FILES_BYTES;
    }

    /**
     * Writes the archive's files into {@code dir}; anything but the known file names, or a name twice, is refused,
     * and so is an archive whose files take more than {@code maxBytes} unpacked (a zip bomb), while it is being
     * unpacked.
     */
    public static void unpack(byte[] archive, Path dir, long maxBytes) throws IOException {
        unpack(archive, dir, null, maxBytes);
    }

    /**
     * As {@link #unpack(byte[], Path, long)}, and with {@code model} given, the adapter's weights are refused once
     * they pass what an adapter of its rank for that model can be ({@link #unpackedBound}): the configuration, which
     * names the rank, must then come before the weights, as {@link #pack} writes them.
     */
    public static void unpack(byte[] archive, Path dir, ModelConfig model, long maxBytes) throws IOException {
        unpack(archive, dir, model, maxBytes, null);
    }

    /**
     * As {@link #unpack(byte[], Path, ModelConfig, long)}, and an archive naming another task than {@code task}
     * (another name, or the same name with another prompt or labels: another hash) is refused before anything is
     * written. An archive naming no task is unpacked.
     */
    public static void unpack(byte[] archive, Path dir, ModelConfig model, long maxBytes, Task task) throws IOException {
        if (task != null) {
            Optional<TaskId> named = task(archive);
            if (named.isPresent() && !named.get().equals(TaskId.of(task))) {
                throw new IOException("the adapter archive is of task '" + named.get().name() + "' (hash "
                        + named.get().hash() + "), not of task '" + task.name() + "' (hash " + task.hash() + "): refused");
            }
        }
        Files.createDirectories(dir);
        try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(archive))) {
            ZipEntry entry;
            java.util.Set<String> seen = new java.util.HashSet<>();
            long written = 0;
            long small = 0;
            long bound = maxBytes;
            while ((entry = zip.getNextEntry()) != null) {
                String name = entry.getName();
                if (!FILES.contains(name) || !seen.add(name)) {
                    throw new IOException("unexpected entry '" + name + "' in adapter archive");
                }
                boolean weights = name.equals("adapter_model.safetensors");
                if (weights && model != null) {
                    if (!seen.contains("adapter_config.json")) {
                        throw new IOException("the adapter archive holds its weights before adapter_config.json");
                    }
                    bound = Math.min(maxBytes, unpackedBound(model, LoraConfig.read(dir)));
                }
                Path target = dir.resolve(name);
                try (var out = Files.newOutputStream(target)) {
                    byte[] buffer = new byte[1 << 16];
                    int n;
                    while ((n = zip.read(buffer)) > 0) {
                        written += n;
                        small += weights ? 0 : n;
                        if (written > bound || small > SMALL_FILES_BYTES) {
                            throw new IOException("the adapter archive unpacks to more than " + (small > SMALL_FILES_BYTES
                                    ? SMALL_FILES_BYTES + " bytes of small files" : bound + " bytes")
                                    + (bound < maxBytes ? ", the most an adapter of its rank for this model takes"
                                            : " (adapter.max.bytes)") + ": refused");
                        }
                        out.write(buffer, 0, n);
                    }
                }
            }
            if (!seen.containsAll(REQUIRED)) {
                throw new IOException("adapter archive lacks " + REQUIRED);
            }
        }
    }
}
