package io.slmclassifier.classify;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forward passes run before a service says it is ready, so that its first records do not pay for what a
 * program's first passes cost: the prefix cache is built, and TorchScript's graph executor profiles a program's
 * first run of each kind of shape and compiles fused kernels on the next (exact-shape kernels for the first two
 * shapes it meets, shape-generic ones after, one set per kind: one row or several, each program), each a pause of
 * 100-200 ms on a GPU, which the records of a stream's first seconds would wait for ({@code bench --kafka --rate}
 * shows the latency of those seconds: an H100 paused 140-200 ms in passes of 1 to 53 texts in its first second when
 * each size had been warmed at one width only).
 *
 * <p>So each run of a size has rows of other lengths than the run before it, and the sizes cover both programs a
 * stream's passes take on a GPU: a few rows run whole prompts, more continue the cached prefix
 * ({@link Classifier.Options#GPU_PREFIX_MIN_ROWS}). The largest pass comes first, the pass a loaded stream sends
 * most. A service runs them where its records will run (the inference worker's thread): PyTorch keeps some of its
 * state per thread, such as the handles of the matrix library.
 */
public final class Warmup {
    private static final Logger log = LoggerFactory.getLogger(Warmup.class);

    /** Runs of each size, each at other lengths: a profiling run, a compiling run, one that uses what it compiled. */
    static final int RUNS_PER_SIZE = 3;

    private Warmup() {}

    /**
     * The sizes for "auto": on a GPU the largest pass, every row count that runs whole prompts (1 to 8: a stream
     * at a low rate sends mostly these) and two sizes that continue the cached prefix; on a CPU, where the program
     * is not fused and a large pass of a real model takes seconds, one row and a few. Each size once, in that order.
     *
     * <p>Every pass of 1 to 8 rows on a GPU is the whole-prompt program's. When the warm-up covered 1, 2 and 3 rows
     * only, an H100's slowest passes after "ready" were of 1 to 8 texts taking 65-96 ms where the same sizes take
     * 8-16 ms, in the first second and now and then later (docs/benchmarks.md, "Latency at a steady rate").
     */
    public static List<Integer> autoSizes(boolean gpu, int maxBatch) {
        Set<Integer> sizes = new LinkedHashSet<>();
        if (gpu) {
            sizes.add(maxBatch);
        }
        sizes.add(1);
        sizes.add(Math.min(maxBatch, 3));
        if (gpu) {
            for (int rows = 2; rows < Classifier.Options.GPU_PREFIX_MIN_ROWS; rows++) {
                sizes.add(Math.min(maxBatch, rows));
            }
            sizes.add(Math.min(maxBatch, 2 * Classifier.Options.GPU_PREFIX_MIN_ROWS));
            sizes.add(Math.max(1, maxBatch / 2 + 1));
        }
        return new ArrayList<>(sizes);
    }

    /**
     * Parses a warm-up setting: "auto", "none" (or empty), or comma-separated row counts, each at most
     * {@code maxBatch}.
     */
    public static List<Integer> sizes(String setting, boolean gpu, int maxBatch) {
        String s = setting.trim();
        if (s.equalsIgnoreCase("auto")) {
            return autoSizes(gpu, maxBatch);
        }
        if (s.isEmpty() || s.equalsIgnoreCase("none")) {
            return List.of();
        }
        List<Integer> sizes = new ArrayList<>();
        for (String part : s.split(",")) {
            int rows;
            try {
                rows = Integer.parseInt(part.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("warm-up sizes are auto, none or row counts like 1024,1,7, not '" + s + "'");
            }
            if (rows < 1 || rows > maxBatch) {
                throw new IllegalArgumentException("a warm-up pass takes 1 to " + maxBatch + " rows (the batch limit), not " + rows);
            }
            sizes.add(rows);
        }
        return sizes;
    }

    /**
     * Texts of {@code rows} rows, of varying lengths (the longest sets the pass's width): made of the task's own
     * label names, so every row renders and tokenizes as a record would.
     */
    static List<String> texts(Task task, int rows, int salt) {
        List<String> labels = task.labels();
        List<String> texts = new ArrayList<>(rows);
        for (int r = 0; r < rows; r++) {
            StringBuilder text = new StringBuilder();
            int words = 2 + (r * 7 + salt * 5) % 19;
            for (int w = 0; w < words; w++) {
                text.append(w == 0 ? "" : " ").append(labels.get((r + w + salt) % labels.size()));
            }
            texts.add(text.toString());
        }
        return texts;
    }

    /**
     * Runs the passes through {@code pass} (one call per pass, returning when it is done); returns the milliseconds
     * they took.
     */
    public static long run(Task task, List<Integer> sizes, Consumer<List<String>> pass) {
        long started = System.nanoTime();
        int salt = 0;
        for (int rows : sizes) {
            for (int run = 0; run < RUNS_PER_SIZE; run++) {
                pass.accept(texts(task, rows, salt++));
            }
        }
        long ms = (System.nanoTime() - started) / 1_000_000;
        if (!sizes.isEmpty()) {
            log.info("Warmed up on passes of {} rows in {} ms", sizes, ms);
        }
        return ms;
    }
}
