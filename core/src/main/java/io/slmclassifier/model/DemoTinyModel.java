package io.slmclassifier.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * {@code demo-tiny}: a two-layer Qwen3 with random weights and the real Qwen3 tokenizer, written on demand so the
 * whole pipeline runs without a download. Its weights come from a fixed seed, so it is the same model on every
 * machine and every run; its labels mean nothing until an adapter is trained. The configuration and the
 * tokenizer files ship inside the jar (the tokenizer is the one published with Qwen/Qwen3-0.6B).
 */
public final class DemoTinyModel {
    public static final String NAME = "demo-tiny";
    static final long SEED = 42;
    private static final String RESOURCES = "/demo-tiny/";
    private static final String[] TOKENIZER_FILES = {"tokenizer.json", "tokenizer_config.json"};
    /** Written last: a directory without it (or with another value) is an interrupted or older write. */
    private static final String STAMP_FILE = ".demo-tiny";
    private static final String STAMP = "seed " + SEED + ", format 1\n";

    private DemoTinyModel() {}

    /** The model directory, written first if {@code dir} does not hold this exact model yet. */
    public static Path ensure(Path dir) throws IOException {
        if (isComplete(dir)) {
            return dir;
        }
        Files.createDirectories(dir.toAbsolutePath().getParent());
        Path staging = Files.createTempDirectory(dir.toAbsolutePath().getParent(), NAME + ".writing-");
        try {
            RandomModel.write(new ObjectMapper().readTree(resource("config.json")), staging, SEED);
            for (String file : TOKENIZER_FILES) {
                Files.write(staging.resolve(file), resource(file));
            }
            Files.writeString(staging.resolve(STAMP_FILE), STAMP, StandardCharsets.UTF_8);
            if (Files.exists(dir) && !isComplete(dir)) {
                deleteTree(dir);
            }
            try {
                Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
                // Another process wrote the same model a moment ago; the same seed made the same bytes.
                if (!isComplete(dir)) {
                    throw raced;
                }
            }
        } finally {
            if (Files.exists(staging)) {
                deleteTree(staging);
            }
        }
        return dir;
    }

    private static boolean isComplete(Path dir) throws IOException {
        Path stamp = dir.resolve(STAMP_FILE);
        return Files.isRegularFile(stamp) && Files.readString(stamp, StandardCharsets.UTF_8).equals(STAMP)
                && Files.isRegularFile(dir.resolve("model.safetensors"));
    }

    /** The Qwen3 tokenizer the jar carries ({@code tokenizer.json}, {@code tokenizer_config.json}), copied into a directory. */
    public static void copyTokenizer(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String file : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            Files.write(dir.resolve(file), resource(file));
        }
    }

    private static byte[] resource(String file) throws IOException {
        try (InputStream in = DemoTinyModel.class.getResourceAsStream(RESOURCES + file)) {
            if (in == null) {
                throw new ModelLoadException("the demo-tiny resource " + file + " is missing from the classpath");
            }
            return in.readAllBytes();
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
