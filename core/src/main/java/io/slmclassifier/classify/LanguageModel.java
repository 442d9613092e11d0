package io.slmclassifier.classify;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.slmclassifier.model.Checkpoint;
import io.slmclassifier.model.Decoder;
import io.slmclassifier.model.DecoderWeights;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.ModelConfig;
import io.slmclassifier.model.ModelLoadException;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.HubCache;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A Hugging Face model directory loaded for inference: decoder weights, tokenizer and chat template. */
public final class LanguageModel implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LanguageModel.class);

    private final String id;
    private final Path dir;
    private final Device device;
    private final NDManager root;
    private final DecoderWeights weights;
    private final Decoder decoder;
    private final TextTokenizer tokenizer;
    private final ChatTemplate chatTemplate;

    private LanguageModel(String id, Path dir, Device device, NDManager root, DecoderWeights weights,
            DataType computeType, TextTokenizer tokenizer, ChatTemplate chatTemplate) {
        this.id = id;
        this.dir = dir;
        this.device = device;
        this.root = root;
        this.weights = weights;
        this.decoder = new Decoder(weights, computeType);
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
    }

    /**
     * @param dtype the decoder's compute dtype; null picks the default: float32 on CPU, bfloat16 on a GPU (the
     *     checkpoints' own dtype: float16 can overflow on real weights). Weights are kept in float32 beside it
     *     (float16 when computing in float16) for the sliced head, adapter merges and training.
     */
    public static LanguageModel load(Path dir, Device device, DataType dtype) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException("Model directory " + dir + " does not exist");
        }
        TorchRuntime.inferenceThread();
        DataType compute = dtype != null ? dtype : device.isGpu() ? DataType.BFLOAT16 : DataType.FLOAT32;
        DataType type = compute == DataType.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT32;
        ModelConfig config = ModelConfig.load(dir);
        long started = System.nanoTime();
        NDManager root = NDManager.newBaseManager(device);
        try (Checkpoint checkpoint = Checkpoint.open(dir)) {
            TextTokenizer tokenizer = TextTokenizer.load(dir);
            ChatTemplate template = hasChatTemplate(dir) ? ChatTemplate.load(dir) : null;
            DecoderWeights weights = DecoderWeights.load(checkpoint, config, root, device, type);
            log.info("Loaded {} ({}, {} layers, hidden {}) on {} in {} ms", dir, config.architecture(),
                    config.numHiddenLayers(), config.hiddenSize(), device + "/" + compute,
                    (System.nanoTime() - started) / 1_000_000);
            // A hub snapshot directory is named by its commit: the repository id names the model better.
            String id = HubCache.repoIdOf(dir).orElse(dir.getFileName().toString());
            return new LanguageModel(id, dir, device, root, weights, compute, tokenizer, template);
        } catch (IOException | RuntimeException e) {
            root.close();
            throw e;
        }
    }

    private static boolean hasChatTemplate(Path dir) throws IOException {
        if (Files.isRegularFile(dir.resolve("chat_template.jinja"))) {
            return true;
        }
        Path config = dir.resolve("tokenizer_config.json");
        return Files.isRegularFile(config) && Files.readString(config).contains("\"chat_template\"");
    }

    /** Loads a PEFT adapter for this model, on its device and in its inference dtype. */
    public LoraAdapter loadAdapter(Path adapterDir) throws IOException {
        LoraAdapter loaded = LoraAdapter.load(adapterDir, weights.config, root);
        if (weights.dtype == DataType.FLOAT32) {
            return loaded;
        }
        try (loaded) {
            return loaded.to(device, weights.dtype, root);
        }
    }

    public String id() {
        return id;
    }

    public Path dir() {
        return dir;
    }

    public Device device() {
        return device;
    }

    public NDManager manager() {
        return root;
    }

    public DecoderWeights weights() {
        return weights;
    }

    /** The dtype the decoder computes in (the weights' own may differ). */
    public DataType computeType() {
        return decoder.computeType();
    }

    public Decoder decoder() {
        return decoder;
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    /** Null when the model ships none. */
    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    @Override
    public void close() {
        decoder.close();
        tokenizer.close();
        root.close();
    }
}
