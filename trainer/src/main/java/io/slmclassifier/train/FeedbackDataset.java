package io.slmclassifier.train;

import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.classify.Task;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The labeled dataset as the compacted dataset topic holds it: one example per id, the last label winning, so a
 * correction replaces the earlier label and a duplicate changes nothing. The split into training and validation
 * is decided by a hash of the id alone, so an example stays on its side across runs, restarts and machines.
 */
public final class FeedbackDataset {
    /** One example with the time it was last written, which tells whether a run has seen it. */
    public record Entry(String id, LabeledData.Example example, long writtenAtMillis) {}

    public record Split(List<LabeledData.Example> train, List<LabeledData.Example> validation, long cutoffMillis) {}

    private final Task task;
    private final int validationPercent;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    public FeedbackDataset(Task task, int validationPercent) {
        if (validationPercent < 1 || validationPercent > 99) {
            throw new IllegalArgumentException("validation.percent must be between 1 and 99, not " + validationPercent);
        }
        this.task = task;
        this.validationPercent = validationPercent;
    }

    /**
     * Adds or replaces an example.
     *
     * @throws IllegalArgumentException when its label is not one of the task's or its text is empty
     */
    public synchronized void put(LabeledExample example, long writtenAtMillis) {
        entries.put(example.getId(), new Entry(example.getId(), toExample(task, example), writtenAtMillis));
    }

    /** Checks an example against the task and returns it in training form. */
    public static LabeledData.Example toExample(Task task, LabeledExample example) {
        if (example.getText() == null || example.getText().isBlank()) {
            throw new IllegalArgumentException("example " + example.getId() + " has an empty text");
        }
        int label = task.indexOf(example.getLabel());
        if (label < 0) {
            throw new IllegalArgumentException("example " + example.getId() + " has label '" + example.getLabel()
                    + "', which is not one of the task's labels " + task.labels());
        }
        return new LabeledData.Example(example.getText(), label);
    }

    public synchronized void remove(String id) {
        entries.remove(id);
    }

    public synchronized int size() {
        return entries.size();
    }

    /** Examples written after {@code cutoffMillis}: what the next run would see for the first time. */
    public synchronized int newerThan(long cutoffMillis) {
        return (int) entries.values().stream().filter(e -> e.writtenAtMillis() > cutoffMillis).count();
    }

    public static boolean isValidation(String id, int validationPercent) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
            int bucket = (((h[0] & 0xff) << 8) | (h[1] & 0xff)) % 100;
            return bucket < validationPercent;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Everything now, split by id; the cutoff is the newest write time included. */
    public synchronized Split split() {
        List<LabeledData.Example> train = new ArrayList<>();
        List<LabeledData.Example> validation = new ArrayList<>();
        long cutoff = 0;
        for (Entry e : entries.values()) {
            (isValidation(e.id(), validationPercent) ? validation : train).add(e.example());
            cutoff = Math.max(cutoff, e.writtenAtMillis());
        }
        return new Split(train, validation, cutoff);
    }
}
