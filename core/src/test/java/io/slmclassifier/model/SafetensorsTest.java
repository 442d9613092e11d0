package io.slmclassifier.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.Fixtures;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

    @Test
    void bf16AndF16ConvertExactly() {
        assertEquals(1.0f, Float.intBitsToFloat((0x3F80 & 0xFFFF) << 16));
        assertEquals((short) 0x3F80, SafetensorsWriter.toBfloat16(1.0f));
        assertEquals((short) 0xC049, SafetensorsWriter.toBfloat16(-3.140625f));
        assertEquals(1.0f, SafetensorsFile.halfToFloat((short) 0x3C00));
        assertEquals(-2.0f, SafetensorsFile.halfToFloat((short) 0xC000));
        assertEquals(65504f, SafetensorsFile.halfToFloat((short) 0x7BFF));
        assertEquals(5.9604645e-8f, SafetensorsFile.halfToFloat((short) 0x0001));
        assertTrue(Float.isInfinite(SafetensorsFile.halfToFloat((short) 0x7C00)));
    }

    @Test
    void writtenTensorsReadBack(@TempDir Path dir) throws Exception {
        float[] values = {0.5f, -1.25f, 3f, 1e-3f, -7.5f, 2f};
        Path file = dir.resolve("t.safetensors");
        new SafetensorsWriter().metadata("format", "pt")
                .add("a", values, 2, 3)
                .add("b", "BF16", new long[] {6}, (o, into, n) -> System.arraycopy(values, (int) o, into, 0, n))
                .write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals("pt", f.metadata().get("format"));
            assertArrayEquals(new long[] {2, 3}, f.tensors().get("a").shape());
            FloatBuffer out = FloatBuffer.allocate(6);
            f.readFloat32(f.tensors().get("a"), 0, 6, out);
            assertArrayEquals(values, out.array());
            out = FloatBuffer.allocate(6);
            f.readFloat32(f.tensors().get("b"), 2, 4, out);
            float bf16OfMilli = Float.intBitsToFloat(SafetensorsWriter.toBfloat16(1e-3f) << 16);
            assertEquals(9.994507E-4f, bf16OfMilli);
            assertArrayEquals(new float[] {3f, bf16OfMilli, -7.5f, 2f, 0, 0}, out.array(), 0f);
        }
    }

    @Test
    void theFixtureModelIsBf16OnDisk() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Fixtures.model("qwen3-tiny"))) {
            assertEquals("BF16", ckpt.info("model.embed_tokens.weight").dtype());
            assertTrue(!ckpt.has("lm_head.weight"), "tied: no lm_head on disk");
        }
    }

    @Test
    void shardedCheckpointsAreFollowedThroughTheIndex(@TempDir Path dir) throws Exception {
        new SafetensorsWriter().add("x", new float[] {1, 2}, 2).write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().add("y", new float[] {3}, 1).write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\":{},\"weight_map\":{"
                + "\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"model-00002-of-00002.safetensors\"}}");
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            FloatBuffer out = FloatBuffer.allocate(1);
            ckpt.readFloat32("y", 0, 1, out);
            assertEquals(3f, out.get(0));
            assertTrue(ckpt.has("x"));
        }
    }

    @Test
    void clearErrors(@TempDir Path dir) throws Exception {
        assertTrue(assertThrows(ModelLoadException.class, () -> Checkpoint.open(dir)).getMessage()
                .contains("No model.safetensors"));
        assertTrue(assertThrows(ModelLoadException.class, () -> ModelConfig.load(dir)).getMessage()
                .contains("No config.json"));
        var json = new ObjectMapper().readTree("{\"architectures\":[\"GPT2LMHeadModel\"]}");
        assertTrue(assertThrows(ModelLoadException.class, () -> ModelConfig.parse(json, "c")).getMessage()
                .contains("unsupported architecture 'GPT2LMHeadModel'"));
        new SafetensorsWriter().add("model.norm.weight", new float[] {1, 2}, 2).write(dir.resolve("model.safetensors"));
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertTrue(assertThrows(ModelLoadException.class, () -> ckpt.expect("model.norm.weight", 32)).getMessage()
                    .contains("has shape [2] but config.json implies [32]"));
            assertTrue(assertThrows(ModelLoadException.class, () -> ckpt.info("lm_head.weight")).getMessage()
                    .contains("missing"));
        }
        Files.write(dir.resolve("junk.safetensors"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(dir.resolve("junk.safetensors")));
    }

    @Test
    void llama3RopeScalingMatchesTransformersRule() {
        var rope = new ModelConfig.RopeScaling("llama3", 500000.0, 8.0, 1.0, 4.0, 8192);
        float[] scaled = RotaryEmbedding.inverseFrequencies(rope, 8);
        float[] plain = RotaryEmbedding.inverseFrequencies(new ModelConfig.RopeScaling("default", 500000.0, 1, 1, 4, 8192), 8);
        assertEquals(plain[0], scaled[0]); // short wavelength: unchanged
        assertEquals(plain[3] / 8, scaled[3], 1e-12); // beyond the original context: divided by the factor
        assertTrue(scaled[2] < plain[2] && scaled[2] > plain[2] / 8); // in between: smoothed
    }
}
