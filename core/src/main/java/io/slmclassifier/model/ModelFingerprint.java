package io.slmclassifier.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * The SHA-256 of a model's weights: every {@code *.safetensors} file of the directory in name order. An adapter
 * records the fingerprint of the base it was trained on and is loaded only onto that exact base, whatever the
 * directory or hub id is called on the machine that serves it.
 */
public final class ModelFingerprint {
    private ModelFingerprint() {}

    public static String sha256(Path modelDir) throws IOException {
        List<Path> files;
        try (Stream<Path> list = Files.list(modelDir)) {
            files = list.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        }
        if (files.isEmpty()) {
            throw new ModelLoadException("no .safetensors files in " + modelDir);
        }
        MessageDigest digest = sha256();
        byte[] buffer = new byte[1 << 20];
        for (Path file : files) {
            try (InputStream in = Files.newInputStream(file)) {
                int n;
                while ((n = in.read(buffer)) > 0) {
                    digest.update(buffer, 0, n);
                }
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(sha256().digest(bytes));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }
}
