package io.slmclassifier.model;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.slmclassifier.Fixtures;
import java.io.IOException;
import java.util.Random;

/** The committed tiny models' weights as the decoder tests load them: on the CPU, float32, kept in {@code root}. */
final class TinyDecoders {
    private TinyDecoders() {}

    static DecoderWeights weights(String model, NDManager root) throws IOException {
        try (Checkpoint checkpoint = Checkpoint.open(Fixtures.model(model))) {
            return DecoderWeights.load(checkpoint, ModelConfig.load(Fixtures.model(model)), root, Device.cpu(),
                    DataType.FLOAT32);
        }
    }

    /** {@code count} token ids drawn from the model's whole vocabulary. */
    static int[] randomTokens(Random random, ModelConfig config, int count) {
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = random.nextInt(config.vocabSize());
        }
        return tokens;
    }
}
