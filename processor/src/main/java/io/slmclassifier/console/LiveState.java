package io.slmclassifier.console;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabelProbability;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * What the console knows about the stream: the recent classifications (for the live view and the review queue),
 * per-second counts per label and of dead letters, and the latencies of the latest results. Fed by the consumer
 * thread, read by the HTTP and update threads; every method holds the one lock, and none does I/O.
 */
final class LiveState {

    /** Classifications kept for the review queue and for labeling by id. */
    static final int RECENT_CAPACITY = 1000;
    /** Latencies kept for the percentiles. */
    static final int LATENCY_SAMPLES = 1000;
    /** Seconds of per-label counts drawn on the page. */
    static final int TIMELINE_SECONDS = 60;
    /** Seconds over which throughput and the dead-letter rate are averaged. */
    static final int RATE_WINDOW_SECONDS = 10;
    static final int REVIEW_SIZE = 20;
    static final int DEAD_LETTERS_SHOWN = 20;

    private static final ObjectMapper json = new ObjectMapper();

    /** One classification as the console keeps it; {@code labeledAs} is set once a person labeled it here. */
    static final class Seen {
        final long seq;
        final long receivedAt;
        final Classification record;
        final double top;
        final double confidence;
        String labeledAs;

        Seen(long seq, long receivedAt, Classification record) {
            this.seq = seq;
            this.receivedAt = receivedAt;
            this.record = record;
            this.top = record.getProbabilities().stream().mapToDouble(LabelProbability::getProbability).max().orElse(0);
            this.confidence = confidence(record, top);
        }

        String id() {
            return record.getId();
        }

        List<String> labels() {
            return record.getProbabilities().stream().map(LabelProbability::getLabel).toList();
        }
    }

    /**
     * The probability the model gave its answer: the top class probability, times the label mass when it was
     * computed. The product is the answer's probability among the whole vocabulary, so a message is near the top
     * of the review queue when the model hesitated between classes and also when it wanted to say something
     * that is no class at all.
     */
    static double confidence(Classification c, double top) {
        return c.getLabelMass() == null ? top : top * c.getLabelMass();
    }

    /**
     * The adapter version that serves now, as the control topic says; {@code version} is null for the base model.
     * A view without it takes the adapter of the newest result instead.
     */
    record Serving(Long version) {}

    private record DeadLetter(long receivedAt, String reason, String message, String value, String sourceTopic) {}

    private static final class Second {
        int classified;
        int deadLetters;
        final Map<String, Integer> perLabel = new HashMap<>();
    }

    private final ArrayDeque<Seen> recent = new ArrayDeque<>();
    /** Abstained results from before the console started, still to be labeled: in the review queue only. */
    private final List<Seen> backlog = new ArrayList<>();
    private final Map<String, Seen> byId = new HashMap<>();
    private final TreeMap<Long, Second> seconds = new TreeMap<>();
    private final long[] latencies = new long[LATENCY_SAMPLES];
    private int latencyCount;
    private int latencyNext;
    private final ArrayDeque<DeadLetter> deadLetters = new ArrayDeque<>();
    private final Map<String, Long> deadLettersByReason = new TreeMap<>();
    private final Map<String, Long> totalsPerLabel = new LinkedHashMap<>();
    private final Map<String, Long> abstainedPerLabel = new LinkedHashMap<>();
    private List<String> labels = List.of();
    private long nextSeq = 1;
    private long classifiedTotal;
    private long deadLetterTotal;
    private long undecodable;
    private Long latestAdapterVersion;
    private boolean anyClassification;
    private long labelsSent;
    private long pendingLabels = -1;
    private int partitions;

    synchronized void classified(Classification c, long now) {
        Seen seen = new Seen(nextSeq++, now, c);
        recent.addLast(seen);
        Seen replaced = byId.put(seen.id(), seen);
        if (replaced != null) {
            // The same input classified again (a batch rerun after a restart): keep only the newest result.
            recent.remove(replaced);
            backlog.remove(replaced);
        }
        while (recent.size() > RECENT_CAPACITY) {
            Seen evicted = recent.removeFirst();
            byId.remove(evicted.id(), evicted);
        }
        List<String> recordLabels = seen.labels();
        if (!recordLabels.equals(labels)) {
            labels = recordLabels;
        }
        second(now).classified++;
        second(now).perLabel.merge(c.getLabel(), 1, Integer::sum);
        totalsPerLabel.merge(c.getLabel(), 1L, Long::sum);
        if (c.getAbstained()) {
            abstainedPerLabel.merge(c.getLabel(), 1L, Long::sum);
        }
        latencies[latencyNext] = c.getLatencyMs();
        latencyNext = (latencyNext + 1) % LATENCY_SAMPLES;
        latencyCount = Math.min(latencyCount + 1, LATENCY_SAMPLES);
        classifiedTotal++;
        latestAdapterVersion = c.getAdapterVersion();
        anyClassification = true;
        trim(now);
    }

    /**
     * Abstained results written to the review topic before the console started, that nobody has labeled yet: they
     * join the review queue (and can be labeled by id) without counting as classified here. A result already seen
     * live is not added twice.
     */
    synchronized void reviewBacklog(List<Classification> abstained) {
        for (Classification c : abstained) {
            if (backlog.size() >= RECENT_CAPACITY) {
                break;
            }
            if (!byId.containsKey(c.getId())) {
                Seen seen = new Seen(nextSeq++, c.getProcessingTime().toEpochMilli(), c);
                byId.put(seen.id(), seen);
                backlog.add(seen);
            }
        }
    }

    synchronized void deadLetter(String reason, String message, String value, String sourceTopic, long now) {
        deadLetters.addLast(new DeadLetter(now, reason, message, value, sourceTopic));
        while (deadLetters.size() > DEAD_LETTERS_SHOWN) {
            deadLetters.removeFirst();
        }
        deadLettersByReason.merge(reason, 1L, Long::sum);
        second(now).deadLetters++;
        deadLetterTotal++;
        trim(now);
    }

    /** A record on the results topic that is not a readable Classification (wrong schema, registry down). */
    synchronized void undecodable() {
        undecodable++;
    }

    synchronized Optional<Seen> find(String id) {
        return Optional.ofNullable(byId.get(id));
    }

    synchronized void labeled(Seen seen, String label) {
        seen.labeledAs = label;
        labelsSent++;
    }

    /** Feedback records written since the newest adapter version; -1 while unknown. */
    synchronized void pendingLabels(long pending) {
        pendingLabels = pending;
    }

    /** How many partitions of the results and dead-letter topics the console reads. */
    synchronized void partitions(int count) {
        partitions = count;
    }

    synchronized long lastSeq() {
        return nextSeq - 1;
    }

    synchronized Long latestAdapterVersion() {
        return latestAdapterVersion;
    }

    synchronized boolean anyClassification() {
        return anyClassification;
    }

    /**
     * The view as JSON: classifications after {@code afterSeq} (at most {@code maxRecent}, the newest), figures,
     * the per-second timeline, the review queue, recent dead letters and the feedback counts.
     */
    synchronized ObjectNode view(long afterSeq, int maxRecent, long now) {
        return view(afterSeq, maxRecent, now, anyClassification ? new Serving(latestAdapterVersion) : null);
    }

    /**
     * The view with the review queue split by {@code serving}: results of the version that serves now first, then
     * those of versions that no longer serve, each marked {@code "current": false}. A person's label teaches the
     * next version most where the serving one hesitates; the old version's doubts may already be resolved. With
     * {@code serving} null (nothing known yet) every result counts as current.
     */
    synchronized ObjectNode view(long afterSeq, int maxRecent, long now, Serving serving) {
        trim(now);
        ObjectNode out = json.createObjectNode();
        out.put("seq", nextSeq - 1);
        out.put("now", now);
        out.put("partitions", partitions);
        ArrayNode labelNames = out.putArray("labels");
        labels.forEach(labelNames::add);

        List<Seen> fresh = new ArrayList<>();
        Iterator<Seen> newestFirst = recent.descendingIterator();
        while (newestFirst.hasNext() && fresh.size() < maxRecent) {
            Seen s = newestFirst.next();
            if (s.seq <= afterSeq) {
                break;
            }
            fresh.add(s);
        }
        ArrayNode recentJson = out.putArray("recent");
        for (int i = fresh.size() - 1; i >= 0; i--) {
            recentJson.add(toJson(fresh.get(i)));
        }

        ObjectNode stats = out.putObject("stats");
        long nowSecond = now / 1000;
        int inWindow = 0;
        int deadInWindow = 0;
        for (Second s : seconds.subMap(nowSecond - RATE_WINDOW_SECONDS, false, nowSecond, true).values()) {
            inWindow += s.classified;
            deadInWindow += s.deadLetters;
        }
        stats.put("throughput", inWindow / (double) RATE_WINDOW_SECONDS);
        stats.put("deadLetterRate", deadInWindow / (double) RATE_WINDOW_SECONDS);
        stats.put("rateWindowSeconds", RATE_WINDOW_SECONDS);
        stats.put("classified", classifiedTotal);
        stats.put("deadLetters", deadLetterTotal);
        stats.put("undecodable", undecodable);
        long[] sorted = Arrays.copyOf(latencies, latencyCount);
        Arrays.sort(sorted);
        stats.put("latencySamples", latencyCount);
        if (latencyCount > 0) {
            stats.put("latencyP50", percentile(sorted, 0.50));
            stats.put("latencyP99", percentile(sorted, 0.99));
        } else {
            stats.putNull("latencyP50");
            stats.putNull("latencyP99");
        }
        putPerLabel(stats.putObject("perLabel"), totalsPerLabel);
        // Results the processor abstained on (also on the review topic), by the label it would have given.
        stats.put("abstained", abstainedPerLabel.values().stream().mapToLong(Long::longValue).sum());
        putPerLabel(stats.putObject("abstainedPerLabel"), abstainedPerLabel);
        ObjectNode reasons = stats.putObject("deadLettersByReason");
        deadLettersByReason.forEach(reasons::put);
        if (anyClassification) {
            if (latestAdapterVersion == null) {
                stats.putNull("latestAdapterVersion");
            } else {
                stats.put("latestAdapterVersion", latestAdapterVersion);
            }
        }

        ObjectNode timeline = out.putObject("timeline");
        timeline.put("end", nowSecond);
        ArrayNode rows = timeline.putArray("seconds");
        for (long t = nowSecond - TIMELINE_SECONDS + 1; t <= nowSecond; t++) {
            Second s = seconds.get(t);
            ArrayNode row = rows.addArray();
            for (String l : labels) {
                row.add(s == null ? 0 : s.perLabel.getOrDefault(l, 0));
            }
        }

        ArrayNode review = out.putArray("review");
        // Results of the serving version come before those of versions that no longer serve; within each, what
        // the processor set aside for people (abstained: also on the review topic) comes first, then the least
        // confident of the rest.
        Predicate<Seen> current = s -> serving == null
                || Objects.equals(s.record.getAdapterVersion(), serving.version());
        Stream.concat(backlog.stream(), recent.stream()).filter(s -> s.labeledAs == null)
                .sorted(Comparator.comparing((Seen s) -> !current.test(s))
                        .thenComparing(s -> !s.record.getAbstained())
                        .thenComparingDouble(s -> s.confidence).thenComparing(s -> -s.seq))
                .limit(REVIEW_SIZE)
                .forEach(s -> review.add(toJson(s).put("current", current.test(s))));

        ArrayNode dead = out.putArray("deadLetterList");
        Iterator<DeadLetter> deadNewestFirst = deadLetters.descendingIterator();
        while (deadNewestFirst.hasNext()) {
            DeadLetter d = deadNewestFirst.next();
            ObjectNode n = dead.addObject();
            n.put("receivedAt", d.receivedAt());
            n.put("reason", d.reason());
            n.put("message", d.message());
            n.put("value", d.value());
            n.put("sourceTopic", d.sourceTopic());
        }

        ObjectNode feedback = out.putObject("feedback");
        feedback.put("sentHere", labelsSent);
        if (pendingLabels < 0) {
            feedback.putNull("pending");
        } else {
            feedback.put("pending", pendingLabels);
        }
        return out;
    }

    /** Counts in the task's label order, then any label of older results that the task no longer has. */
    private void putPerLabel(ObjectNode out, Map<String, Long> counts) {
        labels.forEach(l -> out.put(l, counts.getOrDefault(l, 0L)));
        counts.forEach((l, n) -> {
            if (!out.has(l)) {
                out.put(l, n);
            }
        });
    }

    private static ObjectNode toJson(Seen s) {
        Classification c = s.record;
        ObjectNode n = json.createObjectNode();
        n.put("seq", s.seq);
        n.put("id", c.getId());
        n.put("text", c.getText());
        n.put("label", c.getLabel());
        n.put("top", s.top);
        n.put("confidence", s.confidence);
        n.put("abstained", c.getAbstained());
        if (c.getLabelMass() == null) {
            n.putNull("labelMass");
        } else {
            n.put("labelMass", c.getLabelMass());
        }
        ArrayNode probabilities = n.putArray("probabilities");
        for (LabelProbability p : c.getProbabilities()) {
            probabilities.addObject().put("label", p.getLabel()).put("p", p.getProbability());
        }
        if (c.getAdapterVersion() == null) {
            n.putNull("adapterVersion");
        } else {
            n.put("adapterVersion", c.getAdapterVersion());
        }
        n.put("latencyMs", c.getLatencyMs());
        n.put("processingTime", c.getProcessingTime().toEpochMilli());
        n.put("truncated", c.getTruncated());
        n.put("receivedAt", s.receivedAt);
        if (s.labeledAs == null) {
            n.putNull("labeledAs");
        } else {
            n.put("labeledAs", s.labeledAs);
        }
        return n;
    }

    /** Nearest-rank percentile of sorted values. */
    static long percentile(long[] sorted, double q) {
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private Second second(long now) {
        return seconds.computeIfAbsent(now / 1000, s -> new Second());
    }

    private void trim(long now) {
        long oldest = now / 1000 - Math.max(TIMELINE_SECONDS, RATE_WINDOW_SECONDS);
        seconds.headMap(oldest, false).clear();
    }
}
