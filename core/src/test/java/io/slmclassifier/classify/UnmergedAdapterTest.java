package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.Fixtures;
import io.slmclassifier.model.Decoder;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An adapter served unmerged, beside the shared weights, as several tasks on one model serve theirs: the same
 * probabilities as merged, and as PEFT; the decoder's copy lives on the model's device, in its compute dtype, and is
 * freed when replaced.
 */
class UnmergedAdapterTest {
    private static final List<String> TEXTS = List.of("RobLW an Zugführer, kommen.", "Ist negativ, noch nicht.",
            "Frage: Erkundungsergebnis aus der östlichen Seite des Gebäudes, kommen.", "Ja, hier ist Zugführer, kommen.");
    private static LanguageModel model;
    private static Task task;

    @BeforeAll
    static void load() throws Exception {
        model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null);
        task = Task.load(Fixtures.task("radr-intents"));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void mergedAndUnmergedServeTheSameProbabilities() {
        LoraConfig allSeven = LoraConfig.defaults(model.id());
        assertEquals(LoraConfig.MODULES, allSeven.targetModules());
        try (Classifier merged = new Classifier(model, task, Classifier.Options.defaults());
                Classifier unmerged = new Classifier(model, task, Classifier.Options.defaults());
                LoraAdapter adapter = LoraAdapter.random(allSeven, model.weights().config, model.manager(), 7)) {
            List<Classification> base = merged.classify(TEXTS);
            merged.useMergedAdapter("1", adapter);
            unmerged.useUnmergedAdapter("1", adapter);
            List<Classification> fromMerged = merged.classify(TEXTS);
            List<Classification> fromUnmerged = unmerged.classify(TEXTS);
            assertTrue(ProbabilityGap.max(base, fromMerged) > 1e-3, "the adapter changes the probabilities");
            double difference = ProbabilityGap.max(fromMerged, fromUnmerged);
            assertTrue(difference <= 1e-5, "merged and unmerged differ by " + difference);
            assertEquals("1", fromUnmerged.get(0).adapterVersion());
            assertTrue(fromUnmerged.get(0).prefixCached(), "the prefix is computed with the adapter and cached");
        }
    }

    @Test
    void unmergedAdaptersMatchPeft() throws Exception {
        JsonNode fixture = new ObjectMapper().readTree(Fixtures.RESOURCES.resolve("fixtures/lora.json").toFile());
        List<String> texts = new ArrayList<>();
        fixture.get("texts").forEach(t -> texts.add(t.asText()));
        try (Classifier classifier = new Classifier(model, task, Classifier.Options.defaults())) {
            for (String name : List.of("peft-r8", "peft-rslora")) {
                try (LoraAdapter adapter = model.loadAdapter(Fixtures.RESOURCES.resolve("adapters").resolve(name))) {
                    classifier.useUnmergedAdapter(name, adapter);
                }
                // The caller's adapter is closed: the classifier serves its own copy.
                List<Classification> results = classifier.classify(texts);
                for (int i = 0; i < results.size(); i++) {
                    for (int k = 0; k < task.labels().size(); k++) {
                        assertEquals(fixture.get(name).get(i).get(k).asDouble(), results.get(i).probabilities()[k], 1e-4,
                                name + " text " + i);
                    }
                }
            }
        }
    }

    @Test
    void theServedCopyIsOnTheModelsDeviceAndFreedWhenReplaced() {
        LoraConfig config = LoraConfig.defaults(model.id());
        try (Classifier classifier = new Classifier(model, task, Classifier.Options.defaults());
                LoraAdapter first = LoraAdapter.random(config, model.weights().config, model.manager(), 1);
                LoraAdapter second = LoraAdapter.random(config, model.weights().config, model.manager(), 2)) {
            Decoder.InstalledAdapter served = classifier.useUnmergedAdapter("1", first);
            try (NDManager scope = model.manager().newSubManager()) {
                for (NDArray p : served.tensors(scope)) {
                    assertEquals(model.device(), p.getDevice());
                    assertEquals(model.computeType(), p.getDataType());
                }
            }
            assertEquals(served.bytes(), classifier.unmergedAdapterBytes());
            // A and B of all seven projections, B of q/k/v and of gate/up block-diagonal (zero blocks held too).
            assertEquals(LoraAdapter.servedParameterCount(config, model.weights().config) * 4, served.bytes());
            List<Classification> before = classifier.classify(TEXTS);
            // The copy shares no memory with the caller's adapter: changing (or freeing) that one changes nothing.
            for (NDArray p : first.parameters()) {
                p.set(new float[Math.toIntExact(p.size())]);
            }
            assertEquals(0, ProbabilityGap.max(before, classifier.classify(TEXTS)));

            List<Classification> expected;
            try (Classifier alone = new Classifier(model, task, Classifier.Options.defaults())) {
                alone.useAdapter("2", second);
                expected = alone.classify(TEXTS);
            }
            Decoder.InstalledAdapter next = classifier.useUnmergedAdapter("2", second);
            assertFalse(served.isInstalled(), "the replaced copy is freed");
            assertFalse(first.parameters().get(0).isReleased(), "the caller's adapter is its own");
            List<Classification> fromSecond = classifier.classify(TEXTS);
            assertEquals("2", fromSecond.get(0).adapterVersion());
            assertTrue(ProbabilityGap.max(expected, fromSecond) <= 1e-6, "version 2 serves its own numbers");

            classifier.useAdapter("base", null);
            assertFalse(next.isInstalled(), "back to the base model frees it");
            assertEquals(0, classifier.unmergedAdapterBytes());
        }
    }

    @Test
    void aBfloat16ProgramServesAnUnmergedAdapterPreparedInBfloat16() throws Exception {
        // The program computes in bfloat16 (as on a GPU); the engine cannot make bfloat16 arrays, so the adapter
        // comes in float32, as the base weights are kept, and the program casts its copy once, when installed.
        try (LanguageModel bf16 = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(),
                ai.djl.ndarray.types.DataType.BFLOAT16);
                Classifier merged = new Classifier(bf16, task, Classifier.Options.defaults());
                Classifier unmerged = new Classifier(bf16, task, Classifier.Options.defaults());
                LoraAdapter adapter = LoraAdapter.random(LoraConfig.defaults(bf16.id()), bf16.weights().config,
                        bf16.manager(), 7)) {
            Decoder.InstalledAdapter served = unmerged.useUnmergedAdapter("7", adapter);
            assertEquals(LoraAdapter.servedParameterCount(LoraConfig.defaults(bf16.id()), bf16.weights().config) * 2,
                    served.bytes(), "two bytes a number: held in bfloat16");
            merged.useMergedAdapter("7", adapter);
            List<Classification> a = merged.classify(TEXTS);
            List<Classification> b = unmerged.classify(TEXTS);
            for (int i = 0; i < TEXTS.size(); i++) {
                for (int c = 0; c < task.labels().size(); c++) {
                    double pa = a.get(i).probabilities()[c];
                    double pb = b.get(i).probabilities()[c];
                    assertTrue(Double.isFinite(pb) && Math.abs(pa - pb) < 0.05, "text " + i + " class " + c + ": merged "
                            + pa + ", unmerged " + pb);
                }
            }
        }
    }
}
