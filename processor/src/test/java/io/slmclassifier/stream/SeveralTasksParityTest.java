package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.slmclassifier.Fixtures;
import io.slmclassifier.classify.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Several tasks on one model through one worker: each task, served among the others with its own prompt, labels
 * and unmerged adapter, gives the probabilities of the same task served alone.
 */
class SeveralTasksParityTest {
    private static final List<Path> TASK_FILES = List.of(Fixtures.task("radr-intents"), Fixtures.task("emotion"),
            Fixtures.RESOURCES.resolve("tasks/ticket-priority.yaml"));
    private static final List<String> TEXTS = List.of("RobLW an Zugführer, kommen.", "I feel so happy today",
            "The printer on floor 3 is on fire, please come now", "Ist negativ, noch nicht.",
            "i am scared of the dark", "Could you reset my password sometime next week?", "Einen Augenblick.",
            "Ja, hier ist Zugführer, kommen.", "he was furious about the delay", "Invoice attached, no rush.");

    @Test
    void eachTaskAmongOthersGivesTheProbabilitiesOfTheTaskAlone() throws Exception {
        try (LanguageModel model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null)) {
            List<Task> tasks = new ArrayList<>();
            for (Path file : TASK_FILES) {
                tasks.add(Task.load(file));
            }
            List<Classifier> shared = new ArrayList<>();
            List<Classifier> alone = new ArrayList<>();
            ExecutorService submitters = Executors.newFixedThreadPool(tasks.size());
            try {
                for (int t = 0; t < tasks.size(); t++) {
                    shared.add(new Classifier(model, tasks.get(t), Classifier.Options.defaults()));
                    alone.add(new Classifier(model, tasks.get(t), Classifier.Options.defaults()));
                    try (LoraAdapter adapter = LoraAdapter.random(LoraConfig.defaults(model.id()), model.weights().config,
                            model.manager(), 100 + t)) {
                        shared.get(t).useUnmergedAdapter("v" + t, adapter);
                        alone.get(t).useUnmergedAdapter("v" + t, adapter);
                    }
                }
                List<InferenceWorker.Lane<Classifier.Input>> lanes = new ArrayList<>();
                for (Classifier classifier : shared) {
                    lanes.add(new InferenceWorker.Lane<>(classifier.task().name(), classifier::prepare,
                            classifier::classifyPrepared));
                }
                List<String> passes = Collections.synchronizedList(new ArrayList<>());
                try (InferenceWorker<Classifier.Input> worker = new InferenceWorker<>(lanes, 4,
                        (task, n, nanos, failed) -> passes.add(task))) {
                    // Every task's texts in submissions of 1 to 3 texts, from one thread per task, all at once.
                    List<CompletableFuture<List<CompletableFuture<List<InferenceWorker.Outcome>>>>> submissions =
                            new ArrayList<>();
                    for (int t = 0; t < tasks.size(); t++) {
                        String name = tasks.get(t).name();
                        int firstSize = 1 + t;
                        submissions.add(CompletableFuture.supplyAsync(() -> submitInChunks(worker, name, firstSize),
                                submitters));
                    }
                    for (int t = 0; t < tasks.size(); t++) {
                        List<Classification> expected = alone.get(t).classify(TEXTS);
                        List<Classification> served = new ArrayList<>();
                        for (var submission : submissions.get(t).get(30, TimeUnit.SECONDS)) {
                            for (InferenceWorker.Outcome outcome : submission.get(30, TimeUnit.SECONDS)) {
                                assertTrue(outcome.ok(), String.valueOf(outcome.error()));
                                served.add(outcome.classification());
                            }
                        }
                        assertEquals(TEXTS.size(), served.size());
                        double max = 0;
                        for (int i = 0; i < TEXTS.size(); i++) {
                            Classification s = served.get(i);
                            assertEquals(TEXTS.get(i), s.text());
                            assertEquals("v" + t, s.adapterVersion());
                            assertEquals(tasks.get(t).labels().size(), s.probabilities().length, "the task's own labels");
                            assertEquals(expected.get(i).label(), s.label());
                            max = Math.max(max, maxDifference(expected.get(i).probabilities(), s.probabilities()));
                        }
                        assertTrue(max <= 1e-5, tasks.get(t).name() + " among others differs by " + max);
                    }
                    assertEquals(3, passes.stream().distinct().count(), "every task had passes: " + passes);
                }
                // The adapters differ, so a task served with another's adapter would not have matched.
                try (Classifier crossed = new Classifier(model, tasks.get(0), Classifier.Options.defaults());
                        LoraAdapter other = LoraAdapter.random(LoraConfig.defaults(model.id()), model.weights().config,
                                model.manager(), 101)) {
                    crossed.useUnmergedAdapter("v1", other);
                    double[] mine = alone.get(0).classify(TEXTS.subList(0, 1)).get(0).probabilities();
                    double[] theirs = crossed.classify(TEXTS.subList(0, 1)).get(0).probabilities();
                    double max = maxDifference(mine, theirs);
                    assertTrue(max > 1e-3, "another task's adapter changes the result by only " + max);
                }
            } finally {
                submitters.shutdown();
                shared.forEach(Classifier::close);
                alone.forEach(Classifier::close);
            }
        }
    }

    /** Submits the texts in chunks of 1, 2 and 3 texts in turn, starting with {@code firstSize}. */
    private static List<CompletableFuture<List<InferenceWorker.Outcome>>> submitInChunks(
            InferenceWorker<Classifier.Input> worker, String task, int firstSize) {
        List<CompletableFuture<List<InferenceWorker.Outcome>>> futures = new ArrayList<>();
        for (int from = 0, size = firstSize; from < TEXTS.size(); from += size, size = size % 3 + 1) {
            futures.add(worker.submit(task, TEXTS.subList(from, Math.min(TEXTS.size(), from + size))));
        }
        return futures;
    }

    private static double maxDifference(double[] expected, double[] actual) {
        assertEquals(expected.length, actual.length);
        double max = 0;
        for (int k = 0; k < expected.length; k++) {
            max = Math.max(max, Math.abs(expected[k] - actual[k]));
        }
        return max;
    }
}
