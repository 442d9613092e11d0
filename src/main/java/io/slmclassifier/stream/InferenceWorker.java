package io.slmclassifier.stream;

import io.slmclassifier.classify.Classification;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one inference thread of the JVM. Stream threads submit their micro-batches; the worker merges whatever is
 * waiting into forward passes of at most {@code maxBatch} texts, so several tasks' small batches become one
 * large one. A failed pass (out of memory, say) is split in halves and retried; a text that fails on its own
 * comes back as a failed {@link Outcome}, to be dead-lettered by the caller, and never stops the others.
 */
public final class InferenceWorker implements AutoCloseable {
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

    private record Submission(List<String> texts, CompletableFuture<List<Outcome>> done) {}

    private final Function<List<String>, List<Classification>> model;
    private final int maxBatch;
    private final Listener listener;
    private final LinkedBlockingQueue<Submission> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean running = true;

    /**
     * @param model classifies texts in one call (the classifier); it runs only on the worker's thread
     */
    public InferenceWorker(Function<List<String>, List<Classification>> model, int maxBatch, Listener listener) {
        this.model = model;
        this.maxBatch = maxBatch;
        this.listener = listener;
        this.thread = new Thread(this::loop, "inference-worker");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** Queues texts; the future completes with one outcome per text, in order. */
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
        queue.add(new Submission(List.copyOf(texts), done));
        return done;
    }

    /** Submissions waiting for the worker (queue depth, for metrics). */
    public int pending() {
        return queue.size();
    }

    private void loop() {
        while (running) {
            Submission first;
            try {
                first = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (first == null) {
                continue;
            }
            // Merge what else is already waiting, up to the batch limit; a large submission runs alone.
            List<Submission> merged = new ArrayList<>(List.of(first));
            int size = first.texts().size();
            Submission next;
            while ((next = queue.peek()) != null && size + next.texts().size() <= maxBatch) {
                merged.add(queue.poll());
                size += next.texts().size();
            }
            List<String> texts = new ArrayList<>(size);
            merged.forEach(s -> texts.addAll(s.texts()));
            List<Outcome> outcomes = new ArrayList<>(size);
            for (int from = 0; from < texts.size(); from += maxBatch) {
                outcomes.addAll(run(texts.subList(from, Math.min(texts.size(), from + maxBatch))));
            }
            int offset = 0;
            for (Submission s : merged) {
                s.done().complete(List.copyOf(outcomes.subList(offset, offset + s.texts().size())));
                offset += s.texts().size();
            }
        }
    }

    /** Runs texts in one pass; on failure, halves until the failing texts are isolated. */
    private List<Outcome> run(List<String> texts) {
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
        Submission left;
        while ((left = queue.poll()) != null) {
            left.done().completeExceptionally(new IllegalStateException("inference worker closed"));
        }
    }
}
