package io.slmclassifier.rollout;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * The control records a reader applied, as they were read (key, value and signature), in topic order, and how far
 * it has read. The control topic is compacted: a record of any writer with the same key (a tombstone included)
 * makes the broker delete the genuine one, so a reader that rebuilt its state from the topic alone would forget
 * it. A reader that keeps this journal folds it first and reads the topic past it, and keeps serving what was
 * signed. Like the topic, it keeps the latest record per key; it is written atomically (a temporary file moved
 * over the old one) and trusted no more than the topic: every record is verified again when it is loaded.
 */
final class ControlJournal {
    /** One applied record as it was on the topic. */
    record Entry(int partition, long offset, String key, byte[] value, byte[] signature) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();
    /** Partition -> the offset after the last record read. */
    private final Map<Integer, Long> nextOffsets = new TreeMap<>();

    /** Entries oldest first. */
    List<Entry> entries() {
        return List.copyOf(entries.values());
    }

    Entry entry(String key) {
        return entries.get(key);
    }

    boolean isEmpty() {
        return entries.isEmpty() && nextOffsets.isEmpty();
    }

    /** The journal covers the partition's records below this offset. */
    long nextOffset(int partition) {
        return nextOffsets.getOrDefault(partition, 0L);
    }

    void read(int partition, long offset) {
        nextOffsets.merge(partition, offset + 1, Math::max);
    }

    /** Keeps the entry as its key's latest, after all others (it is the newest read). */
    void applied(Entry entry) {
        entries.remove(entry.key());
        entries.put(entry.key(), entry);
    }

    /** Forgets what was read of the topic but keeps the entries (the topic was recreated: read it all again). */
    void rewind() {
        nextOffsets.clear();
    }

    /**
     * The journal in {@code file}, each record verified again; an empty one when there is no file, and when it
     * belongs to another topic or anything in it does not verify (then the topic is read as it is).
     */
    static ControlJournal load(Path file, String topic, ControlSignature signature) throws IOException {
        ControlJournal journal = new ControlJournal();
        if (!Files.isRegularFile(file)) {
            return journal;
        }
        JsonNode root = JSON.readTree(file.toFile());
        if (!topic.equals(root.path("topic").asText())) {
            throw new IOException("it belongs to topic '" + root.path("topic").asText() + "', not " + topic);
        }
        root.path("next_offsets").fields().forEachRemaining(p -> journal.nextOffsets.put(Integer.parseInt(p.getKey()), p.getValue().asLong()));
        for (JsonNode r : root.path("records")) {
            String key = r.path("key").asText();
            byte[] value = Base64.getDecoder().decode(r.path("value").asText());
            byte[] sig = r.path("signature").isNull() || r.path("signature").isMissingNode() ? null
                    : r.path("signature").asText().getBytes(StandardCharsets.US_ASCII);
            RecordHeaders headers = new RecordHeaders();
            if (sig != null) {
                headers.add(ControlSignature.HEADER, sig);
            }
            if (!signature.verify(key, value, headers)) {
                throw new IOException("its record " + key + " carries no valid signature");
            }
            journal.applied(new Entry(r.path("partition").asInt(), r.path("offset").asLong(), key, value, sig));
        }
        return journal;
    }

    /** Writes the journal to a temporary file, forces it to disk and moves it over {@code file} in one step. */
    void save(Path file, String topic) throws IOException {
        ObjectNode root = JSON.createObjectNode().put("topic", topic);
        ObjectNode offsets = root.putObject("next_offsets");
        nextOffsets.forEach((p, o) -> offsets.put(String.valueOf(p), o));
        ArrayNode records = root.putArray("records");
        for (Entry e : entries.values()) {
            ObjectNode r = records.addObject().put("partition", e.partition()).put("offset", e.offset()).put("key", e.key())
                    .put("value", Base64.getEncoder().encodeToString(e.value()));
            if (e.signature() == null) {
                r.putNull("signature");
            } else {
                r.put("signature", new String(e.signature(), StandardCharsets.US_ASCII));
            }
        }
        AtomicFile.write(file, JSON.writeValueAsBytes(root));
    }
}
