package io.slmclassifier.classify;

import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forward passes run before a service says it is ready, so that its first records do not pay for what a
 * program's first passes cost: the prefix cache is built, and TorchScript's graph executor profiles a program's
 * first run of each kind of shape and compiles fused kernels on the next (exact-shape kernels for the first two
 * shapes it meets, shape-generic ones after), each a pause of up to seconds on a GPU, which the records of a
 * stream's first seconds would wait for ({@code bench --kafka --rate} shows the latency of those seconds).
 *
 * <p>The largest pass comes first, so the exact kernels are those of the pass a loaded stream sends most; then a
 * single row, the pass of a quiet one; the sizes after those get the generic kernels compiled.
 */
public final class Warmup {
    private static final Logger log = LoggerFactory.getLogger(Warmup.class);

    /** Runs of each size: the profiling run, the run that compiles, one that uses the compiled program. */
    static final int RUNS_PER_SIZE = 3;

    private Warmup() {}

    /**
     * The sizes for "auto": on a GPU the largest pass, one row, and two sizes between (with the rows' lengths
     * varying, so the token widths do too); on a CPU, where the program is not fused and a large pass of a real
     * model takes seconds, one row and a few.
     */
    public static List<Integer> autoSizes(boolean gpu, int maxBatch) {
        List<Integer> sizes = new ArrayList<>();
        if (gpu) {
            sizes.add(maxBatch);
        }
        sizes.add(1);
        sizes.add(Math.min(maxBatch, 3));
        if (gpu) {
            sizes.add(Math.max(1, maxBatch / 2 + 1));
        }
        return sizes;
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

    /** Runs the passes; returns the milliseconds they took. */
    public static long run(Classifier classifier, List<Integer> sizes) {
        long started = System.nanoTime();
        for (int i = 0; i < sizes.size(); i++) {
            List<String> texts = texts(classifier.task(), sizes.get(i), i); // the same shape for each run of a size
            for (int run = 0; run < RUNS_PER_SIZE; run++) {
                classifier.classify(texts);
            }
        }
        long ms = (System.nanoTime() - started) / 1_000_000;
        if (!sizes.isEmpty()) {
            log.info("Warmed up on passes of {} rows in {} ms", sizes, ms);
        }
        return ms;
    }
}
