package io.slmclassifier.classify;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.slmclassifier.model.ModelLoadException;
import io.slmclassifier.model.TorchRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The model's Hugging Face tokenizer ({@code tokenizer.json}). DJL's wrapper truncates at 512 and pads by
 * default; both are switched off here because truncation is the task's business and batches pad themselves.
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;

    private TextTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    public static TextTokenizer load(Path modelDir) throws IOException {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException("No tokenizer.json in model directory " + modelDir);
        }
        TorchRuntime.configureOffline();
        return new TextTokenizer(HuggingFaceTokenizer.newInstance(file, Map.of(
                "addSpecialTokens", "false", "truncation", "false", "padding", "false")));
    }

    /** Token ids; {@code addSpecialTokens} lets the tokenizer's post-processor add e.g. a BOS token. */
    public int[] encode(String text, boolean addSpecialTokens) {
        long[] ids = tokenizer.encode(text, addSpecialTokens, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    public String decode(int[] ids) {
        long[] longs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            longs[i] = ids[i];
        }
        return tokenizer.decode(longs, false);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
