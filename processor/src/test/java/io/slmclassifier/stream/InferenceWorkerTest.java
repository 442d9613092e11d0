package io.slmclassifier.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import java.util.concurrent.atomic.AtomicReference;
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
            }, 64, (task, n, nanos, failed) -> passSizes.add(n))) {
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
        }, 8, (task, n, nanos, failed) -> passSizes.add(n))) {
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
        }, 64, (task, n, nanos, failed) -> { })) {
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

    /** A lane whose model echoes each text as {@code task:text} and logs the task of each pass it runs. */
    private static InferenceWorker.Lane<String> loggedLane(String task, List<String> passLog, Runnable duringPass) {
        return new InferenceWorker.Lane<>(task, text -> text, texts -> {
            passLog.add(task);
            duringPass.run();
            return echo(texts.stream().map(t -> task + ":" + t).toList());
        });
    }

    private static List<String> texts(String prefix, int count) {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            texts.add(prefix + i);
        }
        return texts;
    }

    private static void awaitPending(InferenceWorker<?> worker, String task, int submissions) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (worker.pending(task) != submissions) {
            assertTrue(System.nanoTime() < deadline, task + " never had " + submissions + " submissions waiting");
            Thread.sleep(5);
        }
    }

    @Test
    void quietLanesWaitForAtMostOnePassOfABusyOneAndTheOldestGoesFirst() throws Exception {
        List<String> passLog = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch firstPassHeld = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Runnable holdFirstPass = () -> {
            firstPassHeld.countDown();
            awaitQuietly(release);
        };
        try (InferenceWorker<String> worker = new InferenceWorker<>(List.of(
                loggedLane("busy", passLog, holdFirstPass),
                loggedLane("quiet-a", passLog, () -> { }),
                loggedLane("quiet-b", passLog, () -> { })), 4, (task, n, nanos, failed) -> { })) {
            // Ten passes of backlog; the first pass holds the worker while the quiet lanes queue up.
            List<String> backlog = texts("b", 40);
            CompletableFuture<List<InferenceWorker.Outcome>> busy = worker.submit("busy", backlog);
            assertTrue(firstPassHeld.await(10, TimeUnit.SECONDS));
            CompletableFuture<List<InferenceWorker.Outcome>> quietA = worker.submit("quiet-a", List.of("a0", "a1"));
            awaitPending(worker, "quiet-a", 1);
            CompletableFuture<List<InferenceWorker.Outcome>> quietB = worker.submit("quiet-b", List.of("q0"));
            awaitPending(worker, "quiet-b", 1);
            assertEquals(3, worker.pending(), "the backlog and both quiet submissions wait");
            release.countDown();

            List<InferenceWorker.Outcome> a = quietA.get(10, TimeUnit.SECONDS);
            List<InferenceWorker.Outcome> b = quietB.get(10, TimeUnit.SECONDS);
            List<InferenceWorker.Outcome> all = busy.get(10, TimeUnit.SECONDS);
            // The busy lane's backlog was older than both, yet after its pass it went behind them; of the two
            // quiet lanes the one waiting longer went first.
            assertEquals(List.of("busy", "quiet-a", "quiet-b", "busy"), passLog.subList(0, 4), "passes " + passLog);
            assertEquals(12, passLog.size(), "ten passes of the backlog and one of each quiet lane: " + passLog);
            assertEquals(List.of("quiet-a:a0", "quiet-a:a1"), a.stream().map(o -> o.classification().text()).toList());
            assertEquals(List.of("quiet-b:q0"), b.stream().map(o -> o.classification().text()).toList());
            for (int i = 0; i < backlog.size(); i++) {
                assertEquals("busy:" + backlog.get(i), all.get(i).classification().text());
            }
            assertEquals(0, worker.pending());
        }
    }

    @Test
    void aQuietSubmissionArrivingDuringABusyPassRunsRightAfterIt() throws Exception {
        List<String> passLog = Collections.synchronizedList(new ArrayList<>());
        List<CompletableFuture<List<InferenceWorker.Outcome>>> quiet = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger busyPasses = new AtomicInteger();
        AtomicReference<InferenceWorker<String>> self = new AtomicReference<>();
        // During the busy lane's passes 2, 5 and 8 a quiet text arrives (and is queued before the pass ends).
        Runnable quietArrives = () -> {
            int pass = busyPasses.incrementAndGet();
            if (pass % 3 == 2) {
                quiet.add(self.get().submit("quiet", List.of("during pass " + pass)));
                try {
                    awaitPending(self.get(), "quiet", 1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        try (InferenceWorker<String> worker = new InferenceWorker<>(List.of(
                loggedLane("busy", passLog, quietArrives),
                loggedLane("quiet", passLog, () -> { })), 8, (task, n, nanos, failed) -> { })) {
            self.set(worker);
            List<InferenceWorker.Outcome> all = worker.submit("busy", texts("b", 80)).get(10, TimeUnit.SECONDS);
            assertEquals(80, all.size());
            assertEquals(3, quiet.size());
            for (int q = 0; q < 3; q++) {
                int duringPass = 3 * q + 2;
                assertEquals("quiet:during pass " + duringPass,
                        quiet.get(q).get(10, TimeUnit.SECONDS).get(0).classification().text());
            }
            // Busy passes 1 and 2, the quiet text that came during pass 2, busy 3..5, quiet, busy 6..8, quiet, 9, 10.
            List<String> expected = new ArrayList<>();
            for (int pass = 1; pass <= 10; pass++) {
                expected.add("busy");
                if (pass % 3 == 2) {
                    expected.add("quiet");
                }
            }
            assertEquals(expected, passLog);
        }
    }

    @Test
    void aTaskWithoutALaneIsRefused() {
        try (InferenceWorker<String> worker = new InferenceWorker<>(List.of(
                loggedLane("intents", new ArrayList<>(), () -> { }),
                loggedLane("sentiment", new ArrayList<>(), () -> { })), 8, (task, n, nanos, failed) -> { })) {
            IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                    () -> worker.submit("language", List.of("text")));
            assertTrue(unknown.getMessage().contains("language"), unknown.getMessage());
            assertThrows(IllegalArgumentException.class, () -> worker.pending("language"));
            // With several tasks a submission must name its own.
            assertThrows(IllegalStateException.class, () -> worker.submit(List.of("text")));
            assertEquals(List.of("intents", "sentiment"), worker.tasks());
        }
    }

    @Test
    void aTextItsLaneCannotPrepareFailsAloneWithItsLanesError() throws Exception {
        List<String> passLog = Collections.synchronizedList(new ArrayList<>());
        InferenceWorker.Lane<String> strict = new InferenceWorker.Lane<>("strict", text -> {
            if (text.isBlank()) {
                throw new IllegalArgumentException("text is empty");
            }
            return text;
        }, texts -> {
            passLog.add("strict");
            return echo(texts.stream().map(t -> "strict:" + t).toList());
        });
        try (InferenceWorker<String> worker = new InferenceWorker<>(List.of(strict,
                loggedLane("lenient", passLog, () -> { })), 8, (task, n, nanos, failed) -> { })) {
            List<InferenceWorker.Outcome> mixed = worker.submit("strict", List.of("x", " ", "y")).get(10, TimeUnit.SECONDS);
            List<InferenceWorker.Outcome> lenient = worker.submit("lenient", List.of(" ")).get(10, TimeUnit.SECONDS);
            assertEquals("strict:x", mixed.get(0).classification().text());
            assertFalse(mixed.get(1).ok());
            assertEquals("text is empty", mixed.get(1).error().getMessage());
            assertEquals("strict:y", mixed.get(2).classification().text());
            assertEquals("lenient: ", lenient.get(0).classification().text(), "the other lane prepares its own way");
            assertEquals(List.of("strict", "lenient"), passLog, "the failed text never reached a pass");
        }
    }

    @Test
    void passesAreReportedWithTheirTask() throws Exception {
        List<String> reported = Collections.synchronizedList(new ArrayList<>());
        try (InferenceWorker<String> worker = new InferenceWorker<>(List.of(
                loggedLane("intents", new ArrayList<>(), () -> { }),
                loggedLane("sentiment", new ArrayList<>(), () -> { })), 8,
                (task, n, nanos, failed) -> reported.add(task + "/" + n))) {
            worker.submit("sentiment", texts("s", 3)).get(10, TimeUnit.SECONDS);
            worker.submit("intents", texts("i", 2)).get(10, TimeUnit.SECONDS);
            assertEquals(List.of("sentiment/3", "intents/2"), reported);
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
        }, 8, (task, n, nanos, failed) -> { })) {
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
