package io.slmclassifier.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * LoRA on the seven projections: y = W x + scale * B (A dropout(x)), A [r, in], B [out, r], in PEFT's file
 * format both ways. It is the {@link Decoder.ProjectionDeltas} of training and evaluation (applied as it is, in
 * every pass); serving merges it into copies of the base weights ({@link #mergeInto}) or has the decoder prepare
 * it once beside them ({@link Decoder#install}), so switching adapters never reloads the base model.
 */
public final class LoraAdapter implements Decoder.ProjectionDeltas, AutoCloseable {
    private static final String PREFIX = "base_model.model.model.layers.";

    private final LoraConfig config;
    private final ModelConfig model;
    private final NDManager manager;
    /** [layer][module], null where the module is not targeted; module order as {@link LoraConfig#MODULES}. */
    private final NDArray[][] a;
    private final NDArray[][] b;
    private final NDArray scale;
    private volatile boolean training;

    private LoraAdapter(LoraConfig config, ModelConfig model, NDManager manager) {
        this.config = config;
        this.model = model;
        this.manager = manager;
        this.a = new NDArray[model.numHiddenLayers()][LoraConfig.MODULES.size()];
        this.b = new NDArray[model.numHiddenLayers()][LoraConfig.MODULES.size()];
        this.scale = manager.create((float) config.scale());
    }

    /** Input and output widths of a projection. */
    static long[] inOut(ModelConfig c, String module) {
        return switch (module) {
            case "q_proj" -> new long[] {c.hiddenSize(), c.qSize()};
            case "k_proj", "v_proj" -> new long[] {c.hiddenSize(), c.kvSize()};
            case "o_proj" -> new long[] {c.qSize(), c.hiddenSize()};
            case "gate_proj", "up_proj" -> new long[] {c.hiddenSize(), c.intermediateSize()};
            case "down_proj" -> new long[] {c.intermediateSize(), c.hiddenSize()};
            default -> throw new IllegalArgumentException(module);
        };
    }

    /** How many numbers an adapter of this configuration holds for this model: r (in + out) per targeted projection. */
    public static long parameterCount(LoraConfig config, ModelConfig model) {
        long perLayer = 0;
        for (String module : config.targetModules()) {
            long[] io = inOut(model, module);
            perLayer += (long) config.r() * (io[0] + io[1]);
        }
        return perLayer * model.numHiddenLayers();
    }

    /**
     * How many numbers the decoder holds for this adapter once {@link Decoder#install installed}: the
     * {@link #parameterCount} plus B's zero blocks. q/k/v (and gate/up) are served as one pair of products, A
     * stacked and B block-diagonal, so B of the group is [out of the group, r per targeted module of the group].
     */
    public static long servedParameterCount(LoraConfig config, ModelConfig model) {
        long perLayer = 0;
        for (List<String> group : List.of(List.of("q_proj", "k_proj", "v_proj"), List.of("o_proj"),
                List.of("gate_proj", "up_proj"), List.of("down_proj"))) {
            long rank = 0;
            long out = 0;
            for (String module : group) {
                long[] io = inOut(model, module);
                out += io[1];
                if (config.targets(module)) {
                    rank += config.r();
                    perLayer += (long) config.r() * io[0];
                }
            }
            perLayer += rank == 0 ? 0 : out * rank;
        }
        return perLayer * model.numHiddenLayers();
    }

    static String key(int layer, String module, String ab) {
        String block = module.equals("gate_proj") || module.equals("up_proj") || module.equals("down_proj") ? "mlp" : "self_attn";
        return PREFIX + layer + "." + block + "." + module + ".lora_" + ab + ".weight";
    }

    /** A fresh adapter as PEFT initialises one: A Kaiming-uniform (bound 1/sqrt(in)), B zeros. */
    public static LoraAdapter initialize(LoraConfig config, ModelConfig model, NDManager parent, long seed) {
        return initialize(config, model, parent, seed, false);
    }

    /**
     * An adapter with A and B both Kaiming-uniform (bounds 1/sqrt(in) and 1/sqrt(r)): one that changes the
     * model's outputs, where a fresh one (B zeros) changes nothing. For tests and benchmarks of serving.
     */
    public static LoraAdapter random(LoraConfig config, ModelConfig model, NDManager parent, long seed) {
        return initialize(config, model, parent, seed, true);
    }

    private static LoraAdapter initialize(LoraConfig config, ModelConfig model, NDManager parent, long seed,
            boolean randomB) {
        LoraAdapter adapter = new LoraAdapter(config, model, parent.newSubManager());
        Random random = new Random(seed);
        for (int layer = 0; layer < model.numHiddenLayers(); layer++) {
            for (int m = 0; m < LoraConfig.MODULES.size(); m++) {
                String module = LoraConfig.MODULES.get(m);
                if (!config.targets(module)) {
                    continue;
                }
                long[] io = inOut(model, module);
                adapter.a[layer][m] = adapter.manager.create(uniform(random, config.r() * io[0], 1 / Math.sqrt(io[0])),
                        new Shape(config.r(), io[0]));
                adapter.b[layer][m] = randomB
                        ? adapter.manager.create(uniform(random, io[1] * config.r(), 1 / Math.sqrt(config.r())),
                                new Shape(io[1], config.r()))
                        : adapter.manager.zeros(new Shape(io[1], config.r()));
            }
        }
        return adapter;
    }

    private static float[] uniform(Random random, long count, double bound) {
        float[] values = new float[Math.toIntExact(count)];
        float b = (float) bound;
        for (int i = 0; i < values.length; i++) {
            values[i] = (random.nextFloat() * 2 - 1) * b;
        }
        return values;
    }

    /** Reads a PEFT adapter directory; refuses one whose modules or shapes do not fit the model. */
    public static LoraAdapter load(Path dir, ModelConfig model, NDManager parent) throws IOException {
        LoraConfig config = LoraConfig.read(dir);
        Path weights = dir.resolve("adapter_model.safetensors");
        if (!Files.isRegularFile(weights)) {
            throw new ModelLoadException("No adapter_model.safetensors in adapter directory " + dir
                    + " (adapter_model.bin is not supported)");
        }
        LoraAdapter adapter = new LoraAdapter(config, model, parent.newSubManager());
        try (SafetensorsFile file = SafetensorsFile.open(weights)) {
            int expected = 0;
            for (int layer = 0; layer < model.numHiddenLayers(); layer++) {
                for (int m = 0; m < LoraConfig.MODULES.size(); m++) {
                    String module = LoraConfig.MODULES.get(m);
                    if (!config.targets(module)) {
                        continue;
                    }
                    long[] io = inOut(model, module);
                    adapter.a[layer][m] = read(file, key(layer, module, "A"), new long[] {config.r(), io[0]}, adapter.manager);
                    adapter.b[layer][m] = read(file, key(layer, module, "B"), new long[] {io[1], config.r()}, adapter.manager);
                    expected += 2;
                }
            }
            if (file.tensors().size() != expected) {
                List<String> extra = new ArrayList<>(file.tensors().keySet());
                extra.removeIf(k -> k.contains(".lora_A.") || k.contains(".lora_B."));
                throw new ModelLoadException(weights + " holds " + file.tensors().size() + " tensors, this model and "
                        + "adapter_config.json imply " + expected + (extra.isEmpty() ? "" : "; unexpected: " + extra)
                        + " (does the adapter belong to a model with more layers?)");
            }
        } catch (IOException | RuntimeException e) {
            adapter.close();
            throw e;
        }
        return adapter;
    }

    private static NDArray read(SafetensorsFile file, String key, long[] shape, NDManager manager) throws IOException {
        SafetensorsFile.TensorInfo info = file.tensors().get(key);
        if (info == null) {
            throw new ModelLoadException(file.path() + ": missing " + key);
        }
        if (!java.util.Arrays.equals(info.shape(), shape)) {
            throw new ModelLoadException(file.path() + ": " + key + " has shape " + java.util.Arrays.toString(info.shape())
                    + " but the model implies " + java.util.Arrays.toString(shape));
        }
        FloatBuffer values = FloatBuffer.allocate((int) info.elements());
        file.readFloat32(info, 0, (int) info.elements(), values);
        return manager.create(values.array(), new Shape(shape));
    }

    /** Writes adapter_config.json and adapter_model.safetensors with PEFT's key names (float32). */
    public void save(Path dir) throws IOException {
        Files.createDirectories(dir);
        config.write(dir);
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        List<NDArray> parameters = parameters();
        List<String> names = parameterNames();
        for (int i = 0; i < parameters.size(); i++) {
            writer.add(names.get(i), toFloats(parameters.get(i)), parameters.get(i).getShape().getShape());
        }
        writer.write(dir.resolve("adapter_model.safetensors"));
    }

    private static float[] toFloats(NDArray array) {
        return array.toDevice(ai.djl.Device.cpu(), false).toType(DataType.FLOAT32, false).toFloatArray();
    }

    public LoraConfig config() {
        return config;
    }

    /** (layer, module) of every targeted projection, in layer then module order. */
    private List<int[]> targeted() {
        List<int[]> out = new ArrayList<>();
        for (int layer = 0; layer < a.length; layer++) {
            for (int m = 0; m < LoraConfig.MODULES.size(); m++) {
                if (a[layer][m] != null) {
                    out.add(new int[] {layer, m});
                }
            }
        }
        return out;
    }

    /** The trainable tensors, A then B of each targeted module. */
    public List<NDArray> parameters() {
        List<NDArray> out = new ArrayList<>();
        for (int[] t : targeted()) {
            out.add(a[t[0]][t[1]]);
            out.add(b[t[0]][t[1]]);
        }
        return out;
    }

    /** Names of {@link #parameters()} in PEFT's keys, same order. */
    public List<String> parameterNames() {
        List<String> out = new ArrayList<>();
        for (int[] t : targeted()) {
            out.add(key(t[0], LoraConfig.MODULES.get(t[1]), "A"));
            out.add(key(t[0], LoraConfig.MODULES.get(t[1]), "B"));
        }
        return out;
    }

    public long parameterCount() {
        return parameters().stream().mapToLong(NDArray::size).sum();
    }

    /** Bytes the adapter's A and B take in their own dtype (what one resident adapter costs on its device). */
    public long bytes() {
        return parameters().stream().mapToLong(p -> p.size() * p.getDataType().getNumOfBytes()).sum();
    }

    /** Dropout applies only while training. */
    public void setTraining(boolean on) {
        this.training = on;
    }

    /** A copy with the same values, detached from any gradient (for keeping the best checkpoint). */
    public LoraAdapter copy(NDManager parent) {
        LoraAdapter copy = new LoraAdapter(config, model, parent.newSubManager());
        for (int[] t : targeted()) {
            copy.a[t[0]][t[1]] = copy.manager.create(a[t[0]][t[1]].toFloatArray(), a[t[0]][t[1]].getShape());
            copy.b[t[0]][t[1]] = copy.manager.create(b[t[0]][t[1]].toFloatArray(), b[t[0]][t[1]].getShape());
        }
        return copy;
    }

    /**
     * A copy on this device in this dtype (GPU serving uses float16), owned by {@code parent} and independent of
     * this adapter: it stays valid after this one is closed.
     */
    public LoraAdapter to(ai.djl.Device device, DataType dtype, NDManager parent) {
        LoraAdapter moved = new LoraAdapter(config, model, parent.newSubManager());
        for (int[] t : targeted()) {
            moved.a[t[0]][t[1]] = ownCopy(a[t[0]][t[1]], device, dtype, moved.manager);
            moved.b[t[0]][t[1]] = ownCopy(b[t[0]][t[1]], device, dtype, moved.manager);
        }
        return moved;
    }

    private static NDArray ownCopy(NDArray source, ai.djl.Device device, DataType dtype, NDManager owner) {
        // Where neither device nor dtype changes, PyTorch's conversion hands back a tensor over the same memory,
        // and an array made from Java values holds memory that is freed with it: only a clone outlives the source.
        boolean unchanged = source.getDevice().equals(device) && source.getDataType() == dtype;
        NDArray copy = unchanged ? source.duplicate() : source.toDevice(device, false).toType(dtype, false);
        copy.attach(owner);
        return copy;
    }

    /**
     * Base weights plus scale * B @ A for every targeted projection, as new matrices owned by {@code owner}:
     * the base stays untouched, so switching adapters never reloads it, and serving costs no extra operation.
     */
    public DecoderWeights mergeInto(DecoderWeights base, NDManager owner) {
        DecoderWeights.Layer[] merged = new DecoderWeights.Layer[base.layers.length];
        for (int i = 0; i < merged.length; i++) {
            DecoderWeights.Layer l = base.layers[i];
            merged[i] = new DecoderWeights.Layer(l.inputLayernorm(), mergeRows(l.qkvProj(), i, owner, 0, 1, 2),
                    l.qkvBias(), l.qNorm(), l.kNorm(), mergeRows(l.oProj(), i, owner, 3), l.postAttentionLayernorm(),
                    mergeRows(l.gateUpProj(), i, owner, 4, 5), mergeRows(l.downProj(), i, owner, 6));
        }
        return base.withLayers(merged, owner);
    }

    /** The fused matrix plus the stacked [out_i, in] deltas of its modules; the base itself when none is targeted. */
    private NDArray mergeRows(NDArray weight, int layer, NDManager owner, int... modules) {
        boolean any = false;
        for (int m : modules) {
            any |= a[layer][m] != null;
        }
        if (!any) {
            return weight;
        }
        try (NDManager scope = owner.newSubManager()) {
            NDArray[] parts = new NDArray[modules.length];
            for (int i = 0; i < modules.length; i++) {
                int m = modules[i];
                long[] io = inOut(model, LoraConfig.MODULES.get(m));
                if (a[layer][m] == null) {
                    parts[i] = scope.zeros(new Shape(io[1], io[0]), DataType.FLOAT32, weight.getDevice());
                } else {
                    NDArray bFloat = b[layer][m].toType(DataType.FLOAT32, true);
                    NDArray aFloat = a[layer][m].toType(DataType.FLOAT32, true);
                    bFloat.attach(scope);
                    aFloat.attach(scope);
                    parts[i] = bFloat.matMul(aFloat).mul(scale);
                }
            }
            NDArray delta = parts.length == 1 ? parts[0] : NDArrays.concat(new NDList(parts), 0);
            NDArray result = delta.toType(weight.getDataType(), false).add(weight);
            result.attach(owner);
            return result;
        }
    }

    /** A and B of each targeted module under PEFT's names, as {@link #parameterNames()} and {@link #parameters()}. */
    @Override
    public Map<String, NDArray> loraWeights() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        List<String> names = parameterNames();
        List<NDArray> tensors = parameters();
        for (int i = 0; i < names.size(); i++) {
            out.put(names.get(i), tensors.get(i));
        }
        return out;
    }

    @Override
    public double loraScale() {
        return config.scale();
    }

    @Override
    public double activeDropout() {
        return training ? config.dropout() : 0;
    }

    @Override
    public void close() {
        manager.close();
    }
}
