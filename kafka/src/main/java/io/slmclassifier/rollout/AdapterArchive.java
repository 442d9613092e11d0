package io.slmclassifier.rollout;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.model.ModelConfig;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * One adapter version as a single file: a zip of its PEFT directory ({@code adapter_config.json},
 * {@code adapter_model.safetensors} and, when present, {@code training_metrics.json} and {@code calibration.json},
 * the temperature fitted for it). Entries are written in a
 * fixed order with a fixed time, so the same adapter always gives the same bytes and the same SHA-256.
 */
public final class AdapterArchive {
    static final List<String> FILES = List.of("adapter_config.json", "adapter_model.safetensors", "training_metrics.json",
            "calibration.json");
    private static final List<String> REQUIRED = FILES.subList(0, 2);

    private AdapterArchive() {}

    public static byte[] pack(Path adapterDir) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
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
