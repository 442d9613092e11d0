package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.slmclassifier.Fixtures;
import io.slmclassifier.classify.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class InferenceWorkerTest {

    @Test
    void mergesSubmissionsOfSeveralThreadsAndKeepsEachOrder() throws Exception {
        try (LanguageModel model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null);
                Classifier classifier = new Classifier(model, Task.load(Fixtures.task("radr-intents")),
                        Classifier.Options.defaults())) {
            List<Integer> passSizes = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch gate = new CountDownLatch(1);
            try (InferenceWorker<String> worker = InferenceWorker.unprepared(texts -> {
                awaitQuietly(gate); // hold the first pass so the other submissions queue up behind it
                return classifier.classify(texts);
            }, 64, (n, nanos, failed) -> passSizes.add(n))) {
                List<CompletableFuture<List<InferenceWorker.Outcome>>> futures = new ArrayList<>();
                List<List<String>> submitted = new ArrayList<>();
                for (int s = 0; s < 4; s++) {
                    List<String> texts = List.of("RobLW an Zugführer " + s + ", kommen.", "Ist negativ " + s + ".");
                    submitted.add(texts);
                    futures.add(worker.submit(texts));
                }
                gate.countDown();
                for (int s = 0; s < 4; s++) {
                    List<InferenceWorker.Outcome> outcomes = futures.get(s).get(30, TimeUnit.SECONDS);
                    assertEquals(2, outcomes.size());
                    for (int i = 0; i < 2; i++) {
                        assertTrue(outcomes.get(i).ok());
                        assertEquals(submitted.get(s).get(i), outcomes.get(i).classification().text());
                        // Same numbers as classifying the text alone.
                        Classification alone = classifier.classify(List.of(submitted.get(s).get(i))).get(0);
                        assertArrayEquals(alone.probabilities(), outcomes.get(i).classification().probabilities(), 1e-6);
                    }
                }
                assertTrue(passSizes.size() < 4, "submissions were merged into fewer passes: " + passSizes);
            }
        }
    }

    @Test
    void passesAreFilledToTheLimitAcrossSubmissions() throws Exception {
        List<Integer> passSizes = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch gate = new CountDownLatch(1);
        try (InferenceWorker<String> worker = InferenceWorker.unprepared(texts -> {
            awaitQuietly(gate);
            return echo(texts);
        }, 8, (n, nanos, failed) -> passSizes.add(n))) {
            List<CompletableFuture<List<InferenceWorker.Outcome>>> futures = new ArrayList<>();
            for (int s = 0; s < 4; s++) {
                List<String> texts = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    texts.add(s + "/" + i);
                }
                futures.add(worker.submit(texts));
                Thread.sleep(50); // the first pass holds the worker; the others queue behind it
            }
            gate.countDown();
            for (int s = 0; s < 4; s++) {
                List<InferenceWorker.Outcome> outcomes = futures.get(s).get(10, TimeUnit.SECONDS);
                for (int i = 0; i < 5; i++) {
                    assertEquals(s + "/" + i, outcomes.get(i).classification().text());
                }
            }
            assertEquals(20, passSizes.stream().mapToInt(Integer::intValue).sum());
            // After the pass that was already running, the queued 15 texts split where the limit falls: 8 then 7.
            assertEquals(List.of(8, 7), passSizes.subList(1, passSizes.size()), "pass sizes " + passSizes);
        }
    }

    private static List<Classification> echo(List<String> texts) {
        List<Classification> out = new ArrayList<>();
        for (String t : texts) {
            out.add(new Classification(t, "a", 0, new double[] {1, 0}, new float[] {1, 0}, Double.NaN, false, 1, false, "base"));
        }
        return out;
    }

    @Test
    void aFailingTextIsIsolatedAndTheOthersComeThrough() throws Exception {
        AtomicInteger passes = new AtomicInteger();
        try (InferenceWorker<String> worker = InferenceWorker.unprepared(texts -> {
            passes.incrementAndGet();
            if (texts.contains("poison")) {
                throw new IllegalStateException("simulated out of memory");
            }
            return echo(texts);
        }, 64, (n, nanos, failed) -> { })) {
            List<String> texts = List.of("one", "two", "poison", "four", "five");
            List<InferenceWorker.Outcome> outcomes = worker.submit(texts).get(10, TimeUnit.SECONDS);
            assertEquals(5, outcomes.size());
            for (int i = 0; i < 5; i++) {
                if (i == 2) {
                    assertFalse(outcomes.get(i).ok());
                    assertTrue(outcomes.get(i).error().getMessage().contains("simulated"));
                } else {
                    assertEquals(texts.get(i), outcomes.get(i).classification().text());
                }
            }
            assertTrue(passes.get() > 1, "the failed pass was split and retried");
        }
    }

    @Test
    void idleOnlyWithNothingRunningAndNothingQueued() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        CountDownLatch running = new CountDownLatch(1);
        try (InferenceWorker<String> worker = InferenceWorker.unprepared(texts -> {
            running.countDown();
            awaitQuietly(gate);
            return echo(texts);
        }, 8, (n, nanos, failed) -> { })) {
            assertTrue(worker.idle(), "a new worker is idle");
            CompletableFuture<List<InferenceWorker.Outcome>> first = worker.submit(List.of("a"));
            assertTrue(running.await(10, TimeUnit.SECONDS));
            assertFalse(worker.idle(), "a pass is running");
            CompletableFuture<List<InferenceWorker.Outcome>> second = worker.submit(List.of("b"));
            gate.countDown();
            first.get(10, TimeUnit.SECONDS);
            second.get(10, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!worker.idle() && System.nanoTime() < deadline) {
                Thread.sleep(5); // the worker marks itself idle after the futures complete
            }
            assertTrue(worker.idle(), "idle again once both ran");
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
