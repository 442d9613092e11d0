package io.slmclassifier.stream;

import io.slmclassifier.classify.Classification;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one inference thread of the JVM. Stream threads submit their micro-batches; the worker packs whatever is
 * waiting into forward passes of at most {@code maxBatch} texts, so several tasks' small batches become one
 * large one and a large one is spread over full passes. A failed pass (out of memory, say) is split in halves and retried; a text that fails on its own
 * comes back as a failed {@link Outcome}, to be dead-lettered by the caller, and never stops the others.
 *
 * <p>Each text is prepared ({@code P}: rendered and tokenized) on a pool of all cores, so that work overlaps the
 * pass running on the device instead of queueing in front of it, and the stream thread that submits goes back to
 * Kafka at once; a text whose preparation fails gets its failed outcome without reaching the model.
 */
public final class InferenceWorker<P> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(InferenceWorker.class);

    /** The result for one text: a classification, or the error that kept it from one. */
    public record Outcome(Classification classification, RuntimeException error) {
        public boolean ok() {
            return error == null;
        }
    }

    /** Observes each forward pass (metrics). */
    public interface Listener {
        void forwardPass(int texts, long nanos, boolean failed);
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

    private final Function<String, P> prepare;
    private final Function<List<P>, List<Classification>> model;
    private final int maxBatch;
    private final Listener listener;
    /** Texts prepared per task on the pool: small enough to spread a large submission over the cores. */
    private static final int PREPARE_CHUNK = 64;

    private final LinkedBlockingQueue<Submission<P>> queue = new LinkedBlockingQueue<>();
    private final ExecutorService preparers;
    private final Thread thread;
    private volatile boolean running = true;
    /** A forward pass is running (or about to: texts taken off the queue). */
    private volatile boolean passing;

    /**
     * @param prepare prepares one text; runs on the submitting thread
     * @param model classifies prepared texts in one call (the classifier); it runs only on the worker's thread
     */
    public InferenceWorker(Function<String, P> prepare, Function<List<P>, List<Classification>> model, int maxBatch,
            Listener listener) {
        this.prepare = prepare;
        this.model = model;
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

    /** A worker over a model that takes the texts as they are. */
    public static InferenceWorker<String> unprepared(Function<List<String>, List<Classification>> model, int maxBatch,
            Listener listener) {
        return new InferenceWorker<>(text -> text, model, maxBatch, listener);
    }

    /**
     * Prepares the texts on the pool, then queues them for the next pass; the future completes with one outcome
     * per text, in order. Submissions may reach the model in another order than they were made.
     */
    public CompletableFuture<List<Outcome>> submit(List<String> texts) {
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
        List<CompletableFuture<List<Item<P>>>> chunks = new ArrayList<>();
        for (int from = 0; from < copy.size(); from += PREPARE_CHUNK) {
            List<String> chunk = copy.subList(from, Math.min(copy.size(), from + PREPARE_CHUNK));
            try {
                chunks.add(CompletableFuture.supplyAsync(() -> prepareAll(chunk), preparers));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                done.completeExceptionally(new IllegalStateException("inference worker is closed"));
                return done;
            }
        }
        CompletableFuture.allOf(chunks.toArray(new CompletableFuture<?>[0])).whenComplete((ignored, error) -> {
            if (error != null) {
                done.completeExceptionally(error);
                return;
            }
            List<Item<P>> items = new ArrayList<>(copy.size());
            chunks.forEach(c -> items.addAll(c.join()));
            queue.add(new Submission<>(items, done));
            if (!running) {
                drain(); // closed while this submission was being prepared
            }
        });
        return done;
    }

    private List<Item<P>> prepareAll(List<String> texts) {
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

    /**
     * Nothing running and nothing waiting: a batch submitted now runs at once, so a caller need not wait for more
     * records to fill it.
     */
    public boolean idle() {
        return !passing && queue.isEmpty();
    }

    /** Submissions waiting for the worker (queue depth, for metrics). */
    public int pending() {
        return queue.size();
    }

    private void loop() {
        Submission<P> current = null; // the submission whose items fill the next pass first
        int next = 0; // its first item not yet in a pass
        while (running) {
            if (current == null) {
                try {
                    current = queue.poll(100, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                next = 0;
                if (current == null) {
                    continue;
                }
                passing = true;
            }
            // Fill the pass with what is waiting, splitting submissions where the limit falls, so that passes
            // are full whenever the queue is; a submission completes when its last item has run.
            List<Submission<P>> owners = new ArrayList<>();
            List<Integer> indexes = new ArrayList<>();
            List<P> prepared = new ArrayList<>();
            while (current != null && prepared.size() < maxBatch) {
                Item<P> item = current.items().get(next);
                if (item.error() != null) {
                    current.settle(next, new Outcome(null, item.error()));
                } else {
                    owners.add(current);
                    indexes.add(next);
                    prepared.add(item.prepared());
                }
                if (++next == current.items().size()) {
                    current = queue.poll();
                    next = 0;
                }
            }
            List<Outcome> results = prepared.isEmpty() ? List.of() : run(prepared);
            passing = current != null;
            for (int i = 0; i < results.size(); i++) {
                owners.get(i).settle(indexes.get(i), results.get(i));
            }
        }
        if (current != null) {
            queue.add(current); // closed mid-submission: drain() fails it with the rest
        }
    }

    /** Runs texts in one pass; on failure, halves until the failing texts are isolated. */
    private List<Outcome> run(List<P> texts) {
        long started = System.nanoTime();
        try {
            List<Classification> results = model.apply(texts);
            listener.forwardPass(texts.size(), System.nanoTime() - started, false);
            List<Outcome> outcomes = new ArrayList<>(results.size());
            results.forEach(r -> outcomes.add(new Outcome(r, null)));
            return outcomes;
        } catch (RuntimeException | OutOfMemoryError e) {
            listener.forwardPass(texts.size(), System.nanoTime() - started, true);
            RuntimeException error = e instanceof RuntimeException r ? r : new IllegalStateException(e.toString(), e);
            if (texts.size() == 1) {
                log.warn("Text failed on its own and goes to the dead-letter topic: {}", error.toString());
                return List.of(new Outcome(null, error));
            }
            log.warn("Forward pass of {} texts failed ({}); retrying in halves", texts.size(), error.toString());
            int half = texts.size() / 2;
            List<Outcome> outcomes = new ArrayList<>(run(texts.subList(0, half)));
            outcomes.addAll(run(texts.subList(half, texts.size())));
            return outcomes;
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        preparers.shutdown();
        drain();
    }

    private void drain() {
        Submission<P> left;
        while ((left = queue.poll()) != null) {
            left.done().completeExceptionally(new IllegalStateException("inference worker closed"));
        }
    }
}
