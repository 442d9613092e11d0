package io.slmclassifier.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.quality.Metrics;
import io.slmclassifier.rollout.AdapterArchive;
import io.slmclassifier.rollout.AdapterLineage;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One candidate run on the tiny model: what it measures, and what its archive holds. */
class CandidateRunTest {
    private static final TrainerConfig CONFIG = TrainerConfig.of(Map.of("train.epochs", "1",
            "train.learning.rate", "1e-3", "train.batch.size", "4", "train.seed", "7", "lora.r", "4", "lora.alpha", "8"));
    private static final long CUTOFF = 1_700_000_000_000L;
    private static LanguageModel model;
    private static Task task;
    private static List<LabeledData.Example> examples;

    @BeforeAll
    static void load() throws Exception {
        model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null);
        task = Task.load(Fixtures.task("radr-intents"));
        examples = LabeledData.read(Fixtures.RESOURCES.resolve("data/radr-sample.jsonl"), task).examples();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static FeedbackDataset.Split split() {
        return new FeedbackDataset.Split(examples, examples, CUTOFF);
    }

    private static LoraAdapter unpack(byte[] archive, Path dir) throws java.io.IOException {
        AdapterArchive.unpack(archive, dir, model.weights().config, Long.MAX_VALUE);
        return LoraAdapter.load(dir, model.weights().config, model.manager());
    }

    @Test
    void aFreshRunArchivesItsBestAdapterWithTheNumbersItReports(@TempDir Path work) throws Exception {
        List<LabeledData.Example> testSet = examples.subList(0, 4);
        CandidateRun run = new CandidateRun(model, task, CONFIG.training(),
                CONFIG.freshAdapter("qwen3-tiny"), testSet, work, published -> {
                    throw new AssertionError("a fresh run against the base model opens no published adapter");
                });
        CandidateRun.Candidate candidate = run.run(new CandidateRun.Request(3, Optional.empty(), Optional.empty(),
                split(), "a test"), new NoProgress());

        assertEquals(3, candidate.version());
        assertEquals(OptionalLong.empty(), candidate.parent());
        Map<String, Double> metrics = candidate.metrics();
        assertEquals(CUTOFF, metrics.get(CandidateRun.CUTOFF_METRIC).longValue(), "the next run's examples start after it");
        assertEquals(examples.size(), metrics.get("train_examples").intValue());
        assertEquals(examples.size(), metrics.get("validation_examples").intValue());
        assertEquals(candidate.validation().macroF1(), metrics.get("macro_f1"));
        double baseF1 = ModelEvaluation.evaluate(model, task, null, examples, 32).macroF1();
        assertEquals(baseF1, candidate.servingMacroF1(), 1e-9, "without a serving version the base model is the bar");
        assertEquals(baseF1, metrics.get("serving_macro_f1"), 1e-9);

        // The archive is the adapter the numbers belong to: unpacked and measured again, the same figures.
        Path unpacked = work.resolve("unpacked");
        try (LoraAdapter adapter = unpack(candidate.archive(), unpacked)) {
            assertEquals(4, adapter.config().r());
            Metrics again = ModelEvaluation.evaluate(model, task, adapter, examples, 32);
            assertEquals(candidate.validation().macroF1(), again.macroF1(), 1e-6);
            assertEquals(ModelEvaluation.evaluate(model, task, adapter, testSet, 32).macroF1(),
                    metrics.get("test_macro_f1"), 1e-6);
        }

        // Calibration: on these examples the fit ends inside its range, so the temperature travels in the archive
        // (processors read it there), in the event, and into the ECE the gate sees.
        assertTrue(candidate.calibrated(), "the tiny model's logits on the sample give a fitted temperature");
        JsonNode summary = new ObjectMapper().readTree(unpacked.resolve(CandidateRun.CALIBRATION_FILE).toFile());
        double temperature = metrics.get("temperature");
        assertTrue(Calibration.fittedInside(temperature));
        assertEquals(temperature, summary.get("temperature").asDouble(), 1e-12);
        assertEquals(examples.size(), summary.get("examples").asInt());
        assertEquals(metrics.get("ece"), summary.get("before").get("ece").asDouble(), 1e-12);
        assertEquals(metrics.get("ece_calibrated"), summary.get("after").get("ece").asDouble(), 1e-12);
        assertEquals(temperature, candidate.evaluation().getTemperature(), 1e-12);
        assertEquals(metrics.get("ece_calibrated"), candidate.servedEce(), "the gate judges what would be served");
    }

    @Test
    void aWarmStartTrainsFromThePublishedParentAndMeasuresTheServingVersion(@TempDir Path work) throws Exception {
        List<Long> opened = new ArrayList<>();
        Map<Long, byte[]> archives = new HashMap<>();
        CandidateRun run = new CandidateRun(model, task, CONFIG.training(),
                CONFIG.freshAdapter("qwen3-tiny"), List.of(), work, published -> {
                    opened.add(published.getVersion());
                    return unpack(archives.get(published.getVersion()),
                            work.resolve("opened-" + opened.size()));
                });
        CandidateRun.Candidate first = run.run(new CandidateRun.Request(1, Optional.empty(), Optional.empty(), split(),
                "a test"), new NoProgress());
        archives.put(1L, first.archive());
        AdapterEvent published = AdapterPublication.event(new AdapterLineage("qwen3-tiny", "00", task),
                first, new QualityGate.Verdict(true, "a test"), "file:v1.zip", Instant.now());

        CandidateRun.Candidate second = run.run(new CandidateRun.Request(2, Optional.of(published),
                Optional.of(published), split(), "a test"), new NoProgress());
        assertEquals(List.of(1L, 1L), opened, "once to measure it as the serving version, once to start from");
        assertEquals(OptionalLong.of(1), second.parent());
        assertEquals(first.validation().macroF1(), second.servingMacroF1(), 1e-6,
                "the serving version is measured on the same validation examples as when it was trained");
        assertFalse(second.metrics().containsKey("test_macro_f1"), "no test set, no test figures");
    }

    private static final class NoProgress implements LoraTrainer.Progress {
        @Override
        public void step(int step, int totalSteps, double loss, double examplesPerSecond) {}

        @Override
        public void evaluated(int step, Metrics metrics, boolean best) {}
    }
}
