package io.slmclassifier.model.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.Fixtures;
import io.slmclassifier.classify.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.cli.Main;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A {@code --model} value becomes a directory the classifier loads: demo-tiny, a hub id, a local directory. */
class ModelResolverTest {
    private static final String SENTENCE = "Ist negativ, noch nicht.";

    @Test
    void demoTinyIsWrittenOnceTheSameEverywhereAndClassifies(@TempDir Path cacheHome, @TempDir Path elsewhere)
            throws IOException {
        ModelResolver resolver = new ModelResolver(Map.of("XDG_CACHE_HOME", cacheHome.toString()), null);
        Path dir = resolver.resolve(ModelResolver.DEMO_TINY);
        assertEquals(cacheHome.resolve("slm-classifier").resolve("demo-tiny"), dir);
        // The tokenizer is the one published with Qwen/Qwen3-0.6B (sha256 from shared/data/qwen3-tokenizer).
        assertEquals("aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
                HubClient.digest(dir.resolve("tokenizer.json"), "SHA-256", null));

        FileTime written = Files.getLastModifiedTime(dir.resolve("model.safetensors"));
        assertEquals(dir, resolver.resolve(ModelResolver.DEMO_TINY));
        assertEquals(written, Files.getLastModifiedTime(dir.resolve("model.safetensors")), "reused, not rewritten");

        Path other = resolver.withDemoTinyDir(elsewhere.resolve("demo-tiny")).resolve(ModelResolver.DEMO_TINY);
        assertEquals(HubClient.digest(dir.resolve("model.safetensors"), "SHA-256", null),
                HubClient.digest(other.resolve("model.safetensors"), "SHA-256", null), "a fixed seed: the same model");

        Path output = elsewhere.resolve("out.jsonl");
        Path input = Files.writeString(elsewhere.resolve("in.txt"), SENTENCE + "\n");
        int code = Main.run("classify", "--model", dir.toString(), "--task", Fixtures.task("radr-intents").toString(),
                "--input", input.toString(), "--output", output.toString(), "--device", "cpu");
        assertEquals(0, code);
        JsonNode line = new ObjectMapper().readTree(Files.readString(output));
        assertEquals(SENTENCE, line.get("text").asText());
        assertTrue(List.of("disconfirm", "order", "provide_info", "request_info", "call", "response_call", "other",
                "confirm").contains(line.get("label").asText()), line.toString());
    }

    @Test
    void hubModelLoadsFromItsSnapshotAndClassifiesAsTheOriginal(@TempDir Path home) throws IOException {
        Path original = Fixtures.model("qwen3-tiny");
        String repo = "test-org/qwen3-tiny";
        try (HubTestServer hub = new HubTestServer().repo(repo, "89abcdef0123456789abcdef0123456789abcdef")) {
            for (String file : List.of("config.json", "generation_config.json", "tokenizer_config.json")) {
                hub.file(repo, file, Files.readString(original.resolve(file), StandardCharsets.UTF_8));
            }
            for (String file : List.of("tokenizer.json", "model.safetensors")) {
                hub.file(repo, file, Files.readAllBytes(original.resolve(file)), true);
            }
            Path snapshot = new ModelResolver(Map.of("HF_HOME", home.toString(), "HF_ENDPOINT", hub.endpoint()), null)
                    .resolve(repo);

            Fixtures.Case reference = Fixtures.parityCases().stream().filter(c -> c.model().equals("qwen3-tiny")
                    && c.task().equals("radr-intents") && c.text().equals(SENTENCE)).findFirst().orElseThrow();
            try (LanguageModel lm = LanguageModel.load(snapshot, Device.cpu(), null);
                    Classifier classifier = new Classifier(lm, Task.load(Fixtures.task("radr-intents")),
                            Classifier.Options.defaults())) {
                assertEquals(repo, lm.id(), "a snapshot is named by its repository, not its commit");
                Classification c = classifier.classify(List.of(SENTENCE)).get(0);
                for (int i = 0; i < reference.probabilities().length; i++) {
                    assertEquals(reference.probabilities()[i], c.probabilities()[i], 1e-4);
                }
            }
        }
    }

    @Test
    void anExistingDirectoryIsUsedAsItIs(@TempDir Path home) throws IOException {
        Path dir = Fixtures.model("qwen3-tiny");
        assertEquals(dir, new ModelResolver(Map.of("HF_HOME", home.toString(), "HF_HUB_OFFLINE", "1"), null)
                .resolve(dir.toString()));
    }
}
