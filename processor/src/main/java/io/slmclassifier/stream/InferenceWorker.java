package io.slmclassifier.stream;

import io.slmclassifier.classify.Classification;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one inference thread of the JVM. Stream threads submit their micro-batches; the worker packs whatever is
 * waiting into forward passes of at most {@code maxBatch} texts, so several threads' small batches become one
 * large one and a large one is spread over full passes. A failed pass (out of memory, say) is split in halves and
 * retried; a text that fails on its own comes back as a failed {@link Outcome}, to be dead-lettered by the caller,
 * and never stops the others.
 *
 * <p><b>Lanes.</b> One worker may serve several tasks on one model in memory, one {@link Lane} per task, each with
 * its own preparation and model function (its prompt, its cached prompt prefix, its adapter). A pass holds texts of
 * ONE lane: the rows of a pass share the prefix computed once for their task, and the adapter the task's function
 * selects stays fixed for the whole pass. The rules:
 * <ul>
 *   <li>Within a lane, texts run in the order they were queued (FIFO); passes are filled to {@code maxBatch},
 *       splitting a submission where the limit falls, and a submission completes when its last text has run.</li>
 *   <li>Among lanes with waiting texts, the one whose oldest text has waited longest runs next.</li>
 *   <li>A lane that just ran and still has texts waiting goes after every lane that was waiting when its pass
 *       ended. So a lane with waiting texts never waits for more than one pass of each other lane, however large
 *       their backlogs: a quiet task is not starved by a busy one.</li>
 * </ul>
 *
 * <p>Each text is prepared ({@code P}: rendered and tokenized) on a pool of all cores, so that work overlaps the
 * pass running on the device instead of queueing in front of it, and the stream thread that submits goes back to
 * Kafka at once; a text whose preparation fails gets its failed outcome without reaching the model.
 */
public final class InferenceWorker<P> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(InferenceWorker.class);

    /** The name of the one lane of a worker built without lanes. */
    public static final String DEFAULT_TASK = "default";

    /**
     * One task served by the worker.
     *
     * @param task the task's name, as {@link #submit(String, List)} names it
     * @param prepare prepares one text; runs on the worker's pool of preparers
     * @param model classifies prepared texts of this task in one call; it runs only on the worker's thread
     */
    public record Lane<P>(String task, Function<String, P> prepare, Function<List<P>, List<Classification>> model) {}

    /** The result for one text: a classification, or the error that kept it from one. */
    public record Outcome(Classification classification, RuntimeException error) {
        public boolean ok() {
            return error == null;
        }
    }

    /** Observes each forward pass (metrics). */
    public interface Listener {
        void forwardPass(String task, int texts, long nanos, boolean failed);
    }

    /** A prepared text, or why it could not be prepared. */
    private record Item<P>(P prepared, RuntimeException error) {}

    /** Texts submitted together; their future completes once each has its outcome. */
    private record Submission<P>(List<Item<P>> items, CompletableFuture<List<Outcome>> done, Outcome[] outcomes,
            AtomicInteger unsettled) {
        Submission(List<Item<P>> items, CompletableFuture<List<Outcome>> done) {
            this(items, done, new Outcome[items.size()], new AtomicInteger(items.size()));
        }

        void settle(int index, Outcome outcome) {
            outcomes[index] = outcome;
            if (unsettled.decrementAndGet() == 0) {
                done.complete(List.of(outcomes));
            }
        }
    }

    /** A lane's queue; guarded by the worker's monitor. */
    private static final class LaneQueue<P> {
        final Lane<P> lane;
        final ArrayDeque<Submission<P>> submissions = new ArrayDeque<>();
        /** The first item of the head submission not yet in a pass. */
        int next;
        /**
         * The lane's place in line: the ticket it drew when its oldest waiting text was queued, or when its last pass
         * ended with texts still waiting. The waiting lane with the smallest ticket runs next.
         */
        long ticket;

        LaneQueue(Lane<P> lane) {
            this.lane = lane;
        }

        boolean waiting() {
            return !submissions.isEmpty();
        }
    }

    /** Texts prepared per task on the pool: small enough to spread a large submission over the cores. */
    private static final int PREPARE_CHUNK = 64;

    private final Map<String, LaneQueue<P>> queues = new LinkedHashMap<>();
    private final int maxBatch;
    private final Listener listener;
    private final ExecutorService preparers;
    private final Thread thread;
    /** Draws the lanes' tickets; guarded by the worker's monitor. */
    private long tickets;
    private volatile boolean running = true;
    /** A forward pass is running (or about to: texts taken off a lane). */
    private volatile boolean passing;
    /** Submissions being prepared on the pool: not yet in a lane, but about to be. */
    private final AtomicInteger preparing = new AtomicInteger();

    /**
     * A worker over several tasks, one lane each.
     *
     * @param lanes the tasks served, with distinct names
     * @param maxBatch the most texts in one pass
     */
    public InferenceWorker(List<Lane<P>> lanes, int maxBatch, Listener listener) {
        if (lanes.isEmpty()) {
            throw new IllegalArgumentException("an inference worker needs at least one lane");
        }
        for (Lane<P> lane : lanes) {
            if (queues.putIfAbsent(lane.task(), new LaneQueue<>(lane)) != null) {
                throw new IllegalArgumentException("two lanes for task '" + lane.task() + "'");
            }
        }
        this.maxBatch = maxBatch;
        this.listener = listener;
        AtomicInteger preparerCount = new AtomicInteger();
        this.preparers = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors(), r -> {
            Thread t = new Thread(r, "inference-prepare-" + preparerCount.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.thread = new Thread(this::loop, "inference-worker");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /**
     * A worker of one task, the lane {@link #DEFAULT_TASK}.
     *
     * @param prepare prepares one text; runs on the worker's pool of preparers
     * @param model classifies prepared texts in one call (the classifier); it runs only on the worker's thread
     */
    public InferenceWorker(Function<String, P> prepare, Function<List<P>, List<Classification>> model, int maxBatch,
            Listener listener) {
        this(List.of(new Lane<>(DEFAULT_TASK, prepare, model)), maxBatch, listener);
    }

    /** A worker of one task over a model that takes the texts as they are. */
    public static InferenceWorker<String> unprepared(Function<List<String>, List<Classification>> model, int maxBatch,
            Listener listener) {
        return new InferenceWorker<>(text -> text, model, maxBatch, listener);
    }

    /** The tasks this worker serves, in the order their lanes were given. */
    public List<String> tasks() {
        return List.copyOf(queues.keySet());
    }

    /**
     * {@link #submit(String, List)} to the one lane of a worker of one task.
     *
     * @throws IllegalStateException when the worker serves several tasks: the caller must name one
     */
    public CompletableFuture<List<Outcome>> submit(List<String> texts) {
        if (queues.size() != 1) {
            throw new IllegalStateException("this inference worker serves " + queues.keySet() + ": name the task");
        }
        return submit(queues.keySet().iterator().next(), texts);
    }

    /**
     * Prepares the texts on the pool, then queues them in the task's lane; the future completes with one outcome
     * per text, in order. Submissions may reach the model in another order than they were made.
     *
     * @throws IllegalArgumentException when the worker has no lane for the task
     */
    public CompletableFuture<List<Outcome>> submit(String task, List<String> texts) {
        LaneQueue<P> queue = queues.get(task);
        if (queue == null) {
            throw new IllegalArgumentException("no task '" + task + "' in this inference worker (it serves "
                    + queues.keySet() + ")");
        }
        CompletableFuture<List<Outcome>> done = new CompletableFuture<>();
        if (!running) {
            done.completeExceptionally(new IllegalStateException("inference worker is closed"));
            return done;
        }
        if (texts.isEmpty()) {
            done.complete(List.of());
            return done;
        }
        List<String> copy = List.copyOf(texts);
        Function<String, P> prepare = queue.lane.prepare();
        List<CompletableFuture<List<Item<P>>>> chunks = new ArrayList<>();
        preparing.incrementAndGet();
        for (int from = 0; from < copy.size(); from += PREPARE_CHUNK) {
            List<String> chunk = copy.subList(from, Math.min(copy.size(), from + PREPARE_CHUNK));
            try {
                chunks.add(CompletableFuture.supplyAsync(() -> prepareAll(prepare, chunk), preparers));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                preparing.decrementAndGet();
                done.completeExceptionally(new IllegalStateException("inference worker is closed"));
                return done;
            }
        }
        CompletableFuture.allOf(chunks.toArray(new CompletableFuture<?>[0])).whenComplete((ignored, error) -> {
            if (error != null) {
                preparing.decrementAndGet();
                done.completeExceptionally(error);
                return;
            }
            List<Item<P>> items = new ArrayList<>(copy.size());
            chunks.forEach(c -> items.addAll(c.join()));
            enqueue(queue, new Submission<>(items, done));
            if (!running) {
                drain(); // closed while this submission was being prepared
            }
        });
        return done;
    }

    private List<Item<P>> prepareAll(Function<String, P> prepare, List<String> texts) {
        List<Item<P>> items = new ArrayList<>(texts.size());
        for (String text : texts) {
            try {
                items.add(new Item<>(prepare.apply(text), null));
            } catch (RuntimeException e) {
                items.add(new Item<>(null, e));
            }
        }
        return items;
    }

    private synchronized void enqueue(LaneQueue<P> queue, Submission<P> submission) {
        if (!queue.waiting()) {
            queue.ticket = ++tickets; // the lane joins the line behind every lane already waiting
        }
        queue.submissions.add(submission);
        preparing.decrementAndGet();
        notifyAll();
    }

    /**
     * Nothing running, nothing being prepared and nothing waiting in any lane: a batch submitted now runs at once, so a
     * caller need not wait for more records to fill it.
     */
    public synchronized boolean idle() {
        if (passing || preparing.get() > 0) {
            return false;
        }
        for (LaneQueue<P> queue : queues.values()) {
            if (queue.waiting()) {
                return false;
            }
        }
        return true;
    }

    /** Submissions waiting for the worker, all tasks together (queue depth, for metrics). */
    public synchronized int pending() {
        int pending = 0;
        for (LaneQueue<P> queue : queues.values()) {
            pending += queue.submissions.size();
        }
        return pending;
    }

    /** Submissions of one task waiting for the worker. */
    public synchronized int pending(String task) {
        LaneQueue<P> queue = queues.get(task);
        if (queue == null) {
            throw new IllegalArgumentException("no task '" + task + "' in this inference worker");
        }
        return queue.submissions.size();
    }

    /** One text of a submission: where its outcome goes. */
    private record Slot<P>(Submission<P> submission, int index) {
        Item<P> item() {
            return submission.items().get(index);
        }

        void settle(Outcome outcome) {
            submission.settle(index, outcome);
        }
    }

    /**
     * The texts of one pass, all of one lane, in order; and the texts taken with them whose preparation failed,
     * settled with their error without reaching the model.
     */
    private record Pass<P>(LaneQueue<P> queue, List<Slot<P>> texts, List<Slot<P>> unprepared) {
        List<P> prepared() {
            return texts.stream().map(slot -> slot.item().prepared()).toList();
        }
    }

    private void loop() {
        while (running) {
            Pass<P> pass;
            try {
                pass = nextPass();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (pass == null) {
                continue;
            }
            pass.unprepared().forEach(slot -> slot.settle(new Outcome(null, slot.item().error())));
            List<Outcome> results = pass.texts().isEmpty() ? List.of() : run(pass.queue().lane, pass.prepared());
            passing = false; // before the outcomes go out: a caller they wake sees the worker idle if no lane waits
            for (int i = 0; i < results.size(); i++) {
                pass.texts().get(i).settle(results.get(i));
            }
            passEnded(pass.queue());
        }
    }

    /**
     * Takes the next pass from the lane first in line, filled to {@code maxBatch} in the lane's order, splitting a
     * submission where the limit falls; null when nothing came within a moment (so that close is noticed).
     */
    private synchronized Pass<P> nextPass() throws InterruptedException {
        LaneQueue<P> first = firstInLine();
        if (first == null) {
            wait(100);
            first = firstInLine();
            if (first == null) {
                return null;
            }
        }
        passing = true;
        Pass<P> pass = new Pass<>(first, new ArrayList<>(), new ArrayList<>());
        while (first.waiting() && pass.texts().size() < maxBatch) {
            Submission<P> head = first.submissions.peek();
            Slot<P> slot = new Slot<>(head, first.next);
            if (slot.item().error() == null) {
                pass.texts().add(slot);
            } else {
                pass.unprepared().add(slot);
            }
            if (++first.next == head.items().size()) {
                first.submissions.poll();
                first.next = 0;
            }
        }
        return pass;
    }

    private LaneQueue<P> firstInLine() {
        LaneQueue<P> first = null;
        for (LaneQueue<P> queue : queues.values()) {
            if (queue.waiting() && (first == null || queue.ticket < first.ticket)) {
                first = queue;
            }
        }
        return first;
    }

    /** A lane that still has texts after its pass goes to the back of the line, behind every lane now waiting. */
    private synchronized void passEnded(LaneQueue<P> queue) {
        if (queue.waiting()) {
            queue.ticket = ++tickets;
        }
    }

    /** Runs texts of one lane in one pass; on failure, halves until the failing texts are isolated. */
    private List<Outcome> run(Lane<P> lane, List<P> texts) {
        long started = System.nanoTime();
        try {
            List<Classification> results = lane.model().apply(texts);
            long nanos = System.nanoTime() - started;
            listener.forwardPass(lane.task(), texts.size(), nanos, false);
            // Every pass, for reading a latency run's first seconds against its passes (slow shapes, small batches).
            log.debug("Pass of {} texts of task '{}' in {} ms", texts.size(), lane.task(), nanos / 1_000_000.0);
            List<Outcome> outcomes = new ArrayList<>(results.size());
            results.forEach(r -> outcomes.add(new Outcome(r, null)));
            return outcomes;
        } catch (RuntimeException | OutOfMemoryError e) {
            listener.forwardPass(lane.task(), texts.size(), System.nanoTime() - started, true);
            RuntimeException error = e instanceof RuntimeException r ? r : new IllegalStateException(e.toString(), e);
            if (texts.size() == 1) {
                log.warn("Text of task '{}' failed on its own and goes to the dead-letter topic: {}", lane.task(),
                        error.toString());
                return List.of(new Outcome(null, error));
            }
            log.warn("Forward pass of {} texts of task '{}' failed ({}); retrying in halves", texts.size(), lane.task(),
                    error.toString());
            int half = texts.size() / 2;
            List<Outcome> outcomes = new ArrayList<>(run(lane, texts.subList(0, half)));
            outcomes.addAll(run(lane, texts.subList(half, texts.size())));
            return outcomes;
        }
    }

    @Override
    public void close() {
        running = false;
        synchronized (this) {
            notifyAll();
        }
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        preparers.shutdown();
        drain();
    }

    /** Fails every submission still waiting, including one a pass had begun to take. */
    private void drain() {
        List<Submission<P>> left = new ArrayList<>();
        synchronized (this) {
            for (LaneQueue<P> queue : queues.values()) {
                left.addAll(queue.submissions);
                queue.submissions.clear();
                queue.next = 0;
            }
        }
        left.forEach(s -> s.done().completeExceptionally(new IllegalStateException("inference worker closed")));
    }
}
