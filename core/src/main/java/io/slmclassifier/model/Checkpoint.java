package io.slmclassifier.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The weights of a model directory: {@code model.safetensors} or shards listed in {@code model.safetensors.index.json}. */
public final class Checkpoint implements AutoCloseable {
    private final Path dir;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor;

    private Checkpoint(Path dir, List<SafetensorsFile> files) {
        this.dir = dir;
        this.files = files;
        this.byTensor = new HashMap<>();
        for (SafetensorsFile f : files) {
            for (String name : f.tensors().keySet()) {
                byTensor.put(name, f);
            }
        }
    }

    public static Checkpoint open(Path modelDir) throws IOException {
        Path single = modelDir.resolve("model.safetensors");
        Path index = modelDir.resolve("model.safetensors.index.json");
        List<SafetensorsFile> files = new ArrayList<>();
        try {
            if (Files.isRegularFile(single)) {
                files.add(SafetensorsFile.open(single));
            } else if (Files.isRegularFile(index)) {
                JsonNode weightMap = new ObjectMapper().readTree(index.toFile()).path("weight_map");
                Map<String, Boolean> shards = new LinkedHashMap<>();
                weightMap.fields().forEachRemaining(e -> shards.put(e.getValue().asText(), true));
                for (String shard : shards.keySet()) {
                    Path p = modelDir.resolve(shard);
                    if (!Files.isRegularFile(p)) {
                        throw new ModelLoadException("Shard " + shard + " listed in " + index + " is missing");
                    }
                    files.add(SafetensorsFile.open(p));
                }
            } else {
                throw new ModelLoadException("No model.safetensors or model.safetensors.index.json in " + modelDir
                        + " (only safetensors checkpoints are supported)");
            }
        } catch (IOException | RuntimeException e) {
            for (SafetensorsFile f : files) {
                f.close();
            }
            throw e;
        }
        return new Checkpoint(modelDir, files);
    }

    public Path dir() {
        return dir;
    }

    public boolean has(String name) {
        return byTensor.containsKey(name);
    }

    public Set<String> names() {
        return byTensor.keySet();
    }

    public SafetensorsFile.TensorInfo info(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new ModelLoadException("Tensor " + name + " is missing from the checkpoint in " + dir);
        }
        return f.tensors().get(name);
    }

    /** Checks a tensor's shape and names both shapes when it differs. */
    public SafetensorsFile.TensorInfo expect(String name, long... shape) {
        SafetensorsFile.TensorInfo info = info(name);
        if (!Arrays.equals(info.shape(), shape)) {
            throw new ModelLoadException("Tensor " + name + " has shape " + Arrays.toString(info.shape())
                    + " but config.json implies " + Arrays.toString(shape));
        }
        return info;
    }

    public void readFloat32(String name, long from, int count, FloatBuffer dst) throws IOException {
        byTensor.get(name).readFloat32(info(name), from, count, dst);
    }

    @Override
    public void close() throws IOException {
        for (SafetensorsFile f : files) {
            f.close();
        }
    }
}
