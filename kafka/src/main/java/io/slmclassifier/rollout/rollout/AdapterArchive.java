package io.slmclassifier.rollout;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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

    /**
     * Writes the archive's files into {@code dir}; anything but the known file names is refused, and so is an
     * archive whose files take more than {@code maxBytes} unpacked (a zip bomb), while it is being unpacked.
     */
    public static void unpack(byte[] archive, Path dir, long maxBytes) throws IOException {
        Files.createDirectories(dir);
        try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(archive))) {
            ZipEntry entry;
            int seen = 0;
            long written = 0;
            while ((entry = zip.getNextEntry()) != null) {
                if (!FILES.contains(entry.getName())) {
                    throw new IOException("unexpected entry '" + entry.getName() + "' in adapter archive");
                }
                Path target = dir.resolve(entry.getName());
                try (var out = Files.newOutputStream(target)) {
                    byte[] buffer = new byte[1 << 16];
                    int n;
                    while ((n = zip.read(buffer)) > 0) {
                        written += n;
                        if (written > maxBytes) {
                            throw new IOException("the adapter archive unpacks to more than " + maxBytes
                                    + " bytes (adapter.max.bytes): refused");
                        }
                        out.write(buffer, 0, n);
                    }
                }
                seen += REQUIRED.contains(entry.getName()) ? 1 : 0;
            }
            if (seen != REQUIRED.size()) {
                throw new IOException("adapter archive lacks " + REQUIRED);
            }
        }
    }
}
