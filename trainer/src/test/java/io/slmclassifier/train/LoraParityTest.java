package io.slmclassifier.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.Fixtures;
import io.slmclassifier.classify.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.model.ModelLoadException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRA against PEFT (fixtures by tools/make_lora_fixtures.py): forward with an adapter, and one AdamW step. */
class LoraParityTest {
    private static final Path ADAPTERS = Fixtures.RESOURCES.resolve("adapters");
    private static LanguageModel model;
    private static JsonNode fixture;
    private static Task task;

    @BeforeAll
    static void load() throws Exception {
        model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null);
        fixture = new ObjectMapper().readTree(Fixtures.RESOURCES.resolve("fixtures/lora.json").toFile());
        task = Task.load(Fixtures.task("radr-intents"));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static List<String> texts() {
        List<String> out = new ArrayList<>();
        fixture.get("texts").forEach(t -> out.add(t.asText()));
        return out;
    }

    private static void assertProbabilities(JsonNode expected, List<Classification> actual, String what) {
        for (int i = 0; i < actual.size(); i++) {
            for (int k = 0; k < task.labels().size(); k++) {
                assertEquals(expected.get(i).get(k).asDouble(), actual.get(i).probabilities()[k], 1e-4, what + " text " + i);
            }
        }
    }

    @Test
    void probabilitiesWithPeftAdaptersMatch() throws Exception {
        try (Classifier classifier = new Classifier(model, task, Classifier.Options.defaults())) {
            assertProbabilities(fixture.get("base_probabilities"), classifier.classify(texts()), "base");
            float[] baseQkv = model.weights().layers[0].qkvProj().toFloatArray();
            for (String name : List.of("peft-r8", "peft-rslora")) {
                try (LoraAdapter adapter = LoraAdapter.load(ADAPTERS.resolve(name), model.weights().config, model.manager())) {
                    classifier.useAdapter(name, adapter);
                    assertProbabilities(fixture.get(name), classifier.classify(texts()), name);
                    classifier.useMergedAdapter(name + "-merged", adapter);
                    assertProbabilities(fixture.get(name), classifier.classify(texts()), name + " merged");
                }
            }
            classifier.useAdapter("base", null);
            assertProbabilities(fixture.get("base_probabilities"), classifier.classify(texts()), "base again");
            assertTrue(java.util.Arrays.equals(baseQkv, model.weights().layers[0].qkvProj().toFloatArray()),
                    "merging never touches the base weights");
        }
    }

    /** An adapter written by `train` here, loaded by PEFT (tools/make_lora_fixtures.py --check): same numbers. */
    @Test
    void anAdapterTrainedHereLoadsInPeftWithTheSameProbabilities() throws Exception {
        JsonNode peft = new ObjectMapper().readTree(Fixtures.RESOURCES.resolve("fixtures/java-trained-peft.json").toFile());
        try (Classifier classifier = new Classifier(model, task, Classifier.Options.defaults());
                LoraAdapter adapter = LoraAdapter.load(ADAPTERS.resolve("java-trained"), model.weights().config, model.manager())) {
            classifier.useAdapter("java-trained", adapter);
            List<Classification> ours = classifier.classify(texts());
            assertProbabilities(peft.get("probabilities"), ours, "java-trained in PEFT");
            // And the adapter does change the model: PEFT's numbers are not the base model's.
            assertTrue(Math.abs(peft.get("probabilities").get(0).get(0).asDouble()
                    - fixture.get("base_probabilities").get(0).get(0).asDouble()) > 1e-3);
        }
    }

    @Test
    void oneOptimizerStepMatchesPeftAndTorchAdamW() throws Exception {
        List<LabeledData.Example> batch = new ArrayList<>();
        for (int i = 0; i < fixture.get("texts").size(); i++) {
            batch.add(new LabeledData.Example(fixture.get("texts").get(i).asText(), fixture.get("targets").get(i).asInt()));
        }
        JsonNode step = fixture.get("step");
        try (LoraAdapter adapter = LoraAdapter.load(ADAPTERS.resolve("step-init"), model.weights().config, model.manager());
                LoraTrainer trainer = new LoraTrainer(model, task, adapter, LoraTrainer.Settings.defaults())) {
            double loss = trainer.step(batch, step.get("lr").asDouble());
            assertEquals(step.get("loss").asDouble(), loss, 1e-4);
            List<NDArray> parameters = adapter.parameters();
            List<String> names = adapter.parameterNames();
            assertEquals(step.get("after").size(), names.size());
            for (int i = 0; i < names.size(); i++) {
                JsonNode expected = step.get("after").get(names.get(i));
                float[] actual = parameters.get(i).toFloatArray();
                assertEquals(expected.size(), actual.length, names.get(i));
                for (int j = 0; j < actual.length; j++) {
                    assertEquals(expected.get(j).asDouble(), actual[j], 1e-4, names.get(i) + "[" + j + "]");
                }
            }
        }
    }

    @Test
    void adaptersRoundTripThroughPeftFormat(@TempDir Path dir) throws Exception {
        try (LoraAdapter adapter = LoraAdapter.load(ADAPTERS.resolve("peft-rslora"), model.weights().config, model.manager())) {
            adapter.save(dir);
            LoraConfig config = LoraConfig.read(dir);
            assertTrue(config.useRslora());
            assertEquals(4.0, config.scale(), 1e-12);
            try (LoraAdapter again = LoraAdapter.load(dir, model.weights().config, model.manager())) {
                assertEquals(adapter.parameterNames(), again.parameterNames());
                for (int i = 0; i < adapter.parameters().size(); i++) {
                    assertTrue(adapter.parameters().get(i).contentEquals(again.parameters().get(i)));
                }
            }
        }
    }

    @Test
    void adaptersThatDoNotFitAreRefused(@TempDir Path dir) throws Exception {
        try (LanguageModel other = LanguageModel.load(Fixtures.model("qwen2-tiny"), Device.cpu(), null)) {
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> LoraAdapter.load(ADAPTERS.resolve("peft-r8"), other.weights().config, other.manager()));
            assertTrue(e.getMessage().contains("has shape"), e.getMessage());
        }
        Files.writeString(dir.resolve("adapter_config.json"),
                "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":[\"c_attn\"]}");
        assertTrue(assertThrows(ModelLoadException.class, () -> LoraConfig.read(dir)).getMessage().contains("c_attn"));
    }

    @Test
    void freshAdapterCountsAsTheArticleSays() throws Exception {
        // On Qwen3-0.6B, r 16 on all seven projections is 10,092,544 trainable parameters.
        var config = io.slmclassifier.model.ModelConfig.parse(readJson(io.slmclassifier.model.RandomModel.QWEN3_0_6B), "0.6b");
        try (LoraAdapter article = LoraAdapter.initialize(LoraConfig.defaults("Qwen/Qwen3-0.6B"), config,
                model.manager(), 1)) {
            assertEquals(10_092_544L, article.parameterCount());
        }
        try (LoraAdapter fresh = LoraAdapter.initialize(LoraConfig.defaults("qwen3-tiny"), model.weights().config,
                model.manager(), 1)) {
            assertEquals(2L * 7 * model.weights().config.numHiddenLayers(), fresh.parameters().size());
            assertEquals(0f, fresh.parameters().get(1).abs().max().getFloat(), "B starts at zero");
        }
    }

    private static JsonNode readJson(String s) {
        try {
            return new ObjectMapper().readTree(s);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
