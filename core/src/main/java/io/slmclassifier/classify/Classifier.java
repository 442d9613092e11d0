package io.slmclassifier.classify;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.slmclassifier.model.Decoder;
import io.slmclassifier.model.DecoderWeights;
import io.slmclassifier.model.KvCache;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.TorchRuntime;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One task on one model: texts in, class probabilities out, in ONE forward pass per batch. Messages are
 * encoded, split into those that start with the task's cached prefix (most) and those that do not (run in
 * full), grouped by length into batches, and scored by the sliced head.
 */
public final class Classifier implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Classifier.class);

    /**
     * @param maxBatchSize most sequences per forward pass
     * @param tokenBudget most padded new tokens per forward pass (rows x longest row)
     * @param prefixCache reuse the keys and values of the shared prompt prefix
     * @param labelMass also compute the label mass (needs the whole LM head: slower)
     * @param prefixMinRows a call with fewer texts runs their whole prompts instead of the cached prefix (1: the
     *     prefix always, where it is on)
     */
    public record Options(int maxBatchSize, int tokenBudget, boolean prefixCache, boolean labelMass, int prefixMinRows) {
        /**
         * On a GPU a pass of a few rows is bound by launching the program's operators, not by arithmetic, and the
         * prefix path launches more of them (a second attention and the merge of the two, in every layer): on an
         * H100, Qwen3-0.6B shape, one message took 10.8 ms as its whole prompt against 13.2 ms after the cached
         * prefix, eight 9.6 ms against 14.6 ms; at 64 the prefix path was 2.6x faster (docs/benchmarks.md, "The
         * decoder program with named structures"). On a CPU the prefix saves arithmetic at every size.
         */
        public static final int GPU_PREFIX_MIN_ROWS = 9;

        public Options(int maxBatchSize, int tokenBudget, boolean prefixCache, boolean labelMass) {
            this(maxBatchSize, tokenBudget, prefixCache, labelMass, 1);
        }

        public Options {
            if (prefixMinRows < 1) {
                throw new IllegalArgumentException("prefixMinRows is at least 1, not " + prefixMinRows);
            }
        }

        public static Options defaults() {
            return new Options(32, 8192, true, false);
        }

        /**
         * Batch limits sized for the device: on a GPU a forward pass of a thousand messages costs little more
         * than one of a hundred (docs/benchmarks.md), on a CPU time grows with the batch and latency with it.
         */
        public static Options forDevice(ai.djl.Device device) {
            return device.isGpu() ? new Options(1024, 65_536, true, false, GPU_PREFIX_MIN_ROWS) : defaults();
        }

        public Options withBatchSize(int size) {
            return new Options(size, tokenBudget, prefixCache, labelMass, prefixMinRows);
        }

        public Options withPrefixCache(boolean on) {
            return new Options(maxBatchSize, tokenBudget, on, labelMass, prefixMinRows);
        }

        public Options withLabelMass(boolean on) {
            return new Options(maxBatchSize, tokenBudget, prefixCache, on, prefixMinRows);
        }

        public Options withPrefixMinRows(int rows) {
            return new Options(maxBatchSize, tokenBudget, prefixCache, labelMass, rows);
        }
    }

    /**
     * {@code -Dslm.prefix.packed=false} turns off what is on by default: a pass over rows that continue the cached
     * prefix packs them into one sequence of their real tokens instead of right-padding them to the longest
     * ({@link Decoder#lastHiddenStatesPacked}). Exact either way; packed measured 8,635 against 6,107 msg/s at batch
     * 1,024 and 10,417 against 7,727 through Kafka on an H100, and 1.2-1.5x on CPU (docs/benchmarks.md). Read when
     * a classifier is made.
     */
    public static final String PACKED_ROWS_PROPERTY = "slm.prefix.packed";

    private final LanguageModel model;
    private final Task task;
    private final TaskPrompt prompt;
    private final SlicedHead head;
    private final BatchPlanner planner;
    private final Options options;
    private final boolean packedRows = packedRowsSetting();
    private final PrefixCache prefixCache = new PrefixCache();
    private volatile String adapterVersion = "base";
    private volatile Decoder.ProjectionDeltas deltas;
    /** The model's own decoder, or one over merged adapter weights. */
    private volatile Decoder decoder;
    private DecoderWeights mergedWeights;
    /** The adapter served unmerged, installed in the model's decoder by this classifier; null when none is. */
    private Decoder.InstalledAdapter unmergedAdapter;

    public Classifier(LanguageModel model, Task task, Options options) {
        this.model = model;
        this.task = task;
        this.options = options;
        this.prompt = new TaskPrompt(task, model.tokenizer(), model.chatTemplate());
        this.head = new SlicedHead(task, model.tokenizer(), model.weights().lmHead);
        this.planner = new BatchPlanner(options.maxBatchSize(), options.tokenBudget());
        this.decoder = model.decoder();
    }

    public Task task() {
        return task;
    }

    public LanguageModel model() {
        return model;
    }

    public TaskPrompt prompt() {
        return prompt;
    }

    public SlicedHead head() {
        return head;
    }

    public String adapterVersion() {
        return adapterVersion;
    }

    /** Whether classifiers made now pack the rows of their prefix cache's passes ({@link #PACKED_ROWS_PROPERTY}). */
    public static boolean packedRowsSetting() {
        return Boolean.parseBoolean(System.getProperty(PACKED_ROWS_PROPERTY, "true"));
    }

    /** Whether the prefix cache's passes pack their rows ({@link #PACKED_ROWS_PROPERTY}). */
    public boolean packsRows() {
        return packedRows;
    }

    /**
     * Serve with these projection deltas (an unmerged adapter the caller owns and keeps open while it serves), or
     * none; the prefix cache follows.
     */
    public synchronized void useAdapter(String version, Decoder.ProjectionDeltas projectionDeltas) {
        switchTo(version, projectionDeltas, null, null, model.decoder());
    }

    /**
     * Serve with an adapter merged into copies of the base matrices: no extra operation per batch, but a copy of
     * every targeted matrix. For a classifier that has the model to itself. Takes effect between batches; the
     * previous merged weights are freed.
     */
    public void useMergedAdapter(String version, LoraAdapter adapter) {
        // Merged outside the lock: batches keep running on the old weights until the switch.
        DecoderWeights merged = adapter.mergeInto(model.weights(), model.manager().newSubManager());
        switchTo(version, null, merged, null, new Decoder(merged, model.computeType()));
    }

    /**
     * Serve with an adapter applied beside the shared base weights, unmerged: {@code x W + s (x A) B} per
     * projection. For classifiers of several tasks on one model: each holds only its own A and B (rank r, a few
     * megabytes where a merged copy would be the model's size), and a switch is a pointer change. A pass pays two
     * thin matrix products per fused projection (q/k/v, o, gate/up, down) for it.
     *
     * <p>The model's decoder prepares its own copy of the adapter once ({@link Decoder#install}): on the model's
     * device, in the dtype the decoder computes in, q/k/v and gate/up each one pair of products, so a pass casts
     * nothing; the caller keeps its adapter. The copy is freed when another version replaces it: the switch waits
     * for the pass in progress, so no pass runs on freed arrays.
     *
     * @return the copy served, owned by this classifier
     */
    public Decoder.InstalledAdapter useUnmergedAdapter(String version, LoraAdapter adapter) {
        // Prepared outside the lock: batches keep running on the previous version until the switch.
        Decoder.InstalledAdapter installed = model.decoder().install(adapter);
        switchTo(version, installed, null, installed, model.decoder());
        return installed;
    }

    private synchronized void switchTo(String version, Decoder.ProjectionDeltas projectionDeltas, DecoderWeights merged,
            Decoder.InstalledAdapter unmerged, Decoder next) {
        DecoderWeights previous = mergedWeights;
        Decoder previousDecoder = decoder;
        Decoder.InstalledAdapter previousUnmerged = unmergedAdapter;
        this.deltas = projectionDeltas;
        this.mergedWeights = merged;
        this.unmergedAdapter = unmerged;
        this.decoder = next;
        this.adapterVersion = version;
        prefixCache.retainAdapter(version);
        if (previousDecoder != model.decoder()) {
            previousDecoder.close();
        }
        if (previous != null) {
            previous.close();
        }
        if (previousUnmerged != null) {
            previousUnmerged.close();
        }
    }

    /**
     * Bytes on the device of the adapter served unmerged (its prepared A and B, B's zero blocks included); 0 for
     * the base model or a merged one.
     */
    public synchronized long unmergedAdapterBytes() {
        return unmergedAdapter == null ? 0 : unmergedAdapter.bytes();
    }

    /** A text rendered into the task's prompt and tokenized, ready for a forward pass. */
    public record Input(String text, TaskPrompt.Encoded encoded) {}

    /**
     * Renders and tokenizes one text; safe on any thread, so it can run beside a forward pass. Empty texts are
     * refused.
     */
    public Input prepare(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("text is empty");
        }
        return new Input(text, prompt.encode(text));
    }

    /**
     * Classifies texts; results come back in input order. Empty texts are refused. Large batches are tokenized
     * on all cores: on a GPU, tokenizing a thousand prompts on one thread takes longer than their forward pass.
     */
    public List<Classification> classify(List<String> texts) {
        for (int i = 0; i < texts.size(); i++) {
            if (texts.get(i) == null || texts.get(i).isBlank()) {
                throw new IllegalArgumentException("text " + i + " is empty");
            }
        }
        var stream = texts.stream();
        List<Input> inputs = (texts.size() >= 64 ? stream.parallel() : stream).map(this::prepare).toList();
        return classifyPrepared(inputs);
    }

    /** Classifies prepared texts in as few forward passes as the batch limits allow; results in input order. */
    public synchronized List<Classification> classifyPrepared(List<Input> inputs) {
        TorchRuntime.inferenceThread();
        int n = inputs.size();
        List<String> texts = new ArrayList<>(n);
        TaskPrompt.Encoded[] encoded = new TaskPrompt.Encoded[n];
        List<Integer> cached = new ArrayList<>();
        List<Integer> full = new ArrayList<>();
        boolean prefixPays = options.prefixCache() && prompt.prefixLength() > 0 && n >= options.prefixMinRows();
        for (int i = 0; i < n; i++) {
            texts.add(inputs.get(i).text());
            encoded[i] = inputs.get(i).encoded();
            boolean usePrefix = prefixPays && prompt.startsWithPrefix(encoded[i].tokens());
            (usePrefix ? cached : full).add(i);
        }
        Classification[] results = new Classification[n];
        if (!cached.isEmpty()) {
            KvCache prefix = prefixCache.get(new PrefixCache.Key(model.id(), adapterVersion, task.hash()),
                    () -> decoder.prefill(model.manager(), prompt.prefixTokens(), deltas));
            run(texts, encoded, cached, prefix, results);
        }
        if (!full.isEmpty()) {
            run(texts, encoded, full, null, results);
        }
        return List.of(results);
    }

    private void run(List<String> texts, TaskPrompt.Encoded[] encoded, List<Integer> members, KvCache prefix,
            Classification[] results) {
        int skip = prefix == null ? 0 : prefix.length();
        int[] lengths = new int[members.size()];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = encoded[members.get(i)].tokens().length - skip;
        }
        for (int[] batch : planner.plan(lengths)) {
            List<int[]> sequences = new ArrayList<>();
            for (int j : batch) {
                sequences.add(encoded[members.get(j)].tokens());
            }
            SlicedHead.Scores scores;
            long started = System.nanoTime();
            boolean packed = packedRows && prefix != null && decoder.canPackRows();
            try (NDManager scope = model.manager().newSubManager()) {
                NDArray hidden = packed
                        ? decoder.lastHiddenStatesPacked(scope, afterPrefix(sequences, skip), prefix, deltas)
                        : lastHiddenStates(scope, sequences, prefix, deltas);
                scores = head.score(hidden, options.labelMass());
            }
            if (log.isDebugEnabled()) {
                int width = 0;
                int tokens = 0;
                for (int j : batch) {
                    width = Math.max(width, lengths[j]);
                    tokens += lengths[j];
                }
                if (packed) {
                    log.debug("forward pass: {} rows packed into {} tokens (longest {}) after the cached prefix"
                            + " in {} us", batch.length, tokens, width, (System.nanoTime() - started) / 1000);
                } else {
                    log.debug("forward pass: {} rows x {} tokens{} in {} us", batch.length, width,
                            prefix == null ? "" : " after the cached prefix", (System.nanoTime() - started) / 1000);
                }
            }
            for (int r = 0; r < batch.length; r++) {
                int index = members.get(batch[r]);
                float[] logits = scores.logits()[r];
                double[] probabilities = SlicedHead.softmax(logits);
                int best = 0;
                for (int c = 1; c < probabilities.length; c++) {
                    if (probabilities[c] > probabilities[best]) {
                        best = c;
                    }
                }
                results[index] = new Classification(texts.get(index), task.labels().get(best), best, probabilities,
                        logits, scores.labelMass()[r], encoded[index].truncated(), encoded[index].tokens().length,
                        prefix != null, adapterVersion);
            }
        }
    }

    /**
     * Final normed hidden states [B, hidden] of whole token sequences, right-padded into one batch; with a
     * prefix, the sequences must start with its tokens and only the rest is run.
     */
    public NDArray lastHiddenStates(NDManager scope, List<int[]> sequences, KvCache prefix,
            Decoder.ProjectionDeltas projectionDeltas) {
        int skip = prefix == null ? 0 : prefix.length();
        int width = 0;
        for (int[] s : sequences) {
            width = Math.max(width, s.length - skip);
        }
        int[][] tokens = new int[sequences.size()][width];
        int[] lengths = new int[sequences.size()];
        for (int r = 0; r < tokens.length; r++) {
            int[] all = sequences.get(r);
            System.arraycopy(all, skip, tokens[r], 0, all.length - skip);
            lengths[r] = all.length - skip;
        }
        return decoder.lastHiddenStates(scope, tokens, lengths, prefix, projectionDeltas);
    }

    private static List<int[]> afterPrefix(List<int[]> sequences, int skip) {
        List<int[]> rows = new ArrayList<>(sequences.size());
        for (int[] s : sequences) {
            rows.add(java.util.Arrays.copyOfRange(s, skip, s.length));
        }
        return rows;
    }

    @Override
    public synchronized void close() {
        prefixCache.close();
        head.close();
        if (decoder != model.decoder()) {
            decoder.close();
        }
        if (mergedWeights != null) {
            mergedWeights.close();
        }
        if (unmergedAdapter != null) {
            unmergedAdapter.close();
        }
    }
}
