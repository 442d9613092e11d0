package io.slmclassifier.rollout;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the whole control topic, from the beginning, into a {@link ControlState}, and keeps following it. Every
 * reader is on its own (partitions assigned, no consumer group): each processor instance must see every event,
 * not a share of them. Also writes events and commands, so the trainer, the processors, the {@code adapter}
 * command and the console all speak the topic the same way: every record written gets its issuer, the issuer's
 * next sequence and a nonce (under the signature), which is how {@link ControlState} applies each record once.
 *
 * <p>Nothing that is not applied changes the state: tombstones (no writer of ours deletes a control record),
 * records without a valid signature and refused copies are logged and listed ({@link #ignored()}). With a
 * {@linkplain #keepJournal journal} the applied records also survive their deletion from the topic by compaction.
 *
 * <p>With several tasks each task has its own control topic, read by a log built for the task: its state is a
 * {@link ControlState#forTask task's state} (records of another task are refused and listed), the commands it writes
 * name the task, and it writes no event of another task, which every reader of the topic would refuse.
 */
public final class ControlLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ControlLog.class);

    private final String topic;
    private final ControlRecords records;
    private final ControlSignature signature;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Properties producerSettings;
    private KafkaProducer<String, byte[]> producer;
    private final ControlState state;
    private List<TopicPartition> partitions;
    private Thread follower;
    private volatile boolean running = true;
    /** The records applied, with their signatures; on disk when {@link #journalFile} is set. */
    private ControlJournal journal = new ControlJournal();
    private Path journalFile;
    /** Key -> the latest record read for it, applied or not: what the topic holds now. */
    private final Map<String, Seen> latest = new HashMap<>();
    private final List<Ignored> ignored = new ArrayList<>();
    private int ignoredTotal;
    /** Issuer -> the last sequence this log wrote for it, so two records written in one millisecond still rise. */
    private final Map<String, Long> lastWritten = new HashMap<>();
    /** Held while a record is written (not while it is read: a slow broker must not stop the follower). */
    private final Object writing = new Object();
    /** Key -> offset of this log's rewrite of a vanished record, until it is read back. */
    private final Map<String, Long> rewrites = new HashMap<>();

    /** The issuer of the trainer's events (the ERROR events of processors name their instance). */
    public static final String TRAINER_ISSUER = "trainer";
    /** The journal's file name in a processor's cache directory and the trainer's work directory. */
    public static final String JOURNAL_FILE = "control-journal.json";
    /** At most this many ignored records are listed (the count goes on). */
    private static final int MAX_IGNORED_LISTED = 1000;

    /** A record read but not applied, and why. */
    public record Ignored(int partition, long offset, String key, String reason) {
    }

    /** The latest record read for a key: its offset, and why it was not applied (null when it was). */
    private record Seen(long offset, String refusal) {
    }

    /** A control log whose records are neither signed nor checked. */
    public ControlLog(Properties kafka, String topic, ControlRecords records) {
        this(kafka, topic, records, ControlSignature.none());
    }

    /** @param signature signs what this log writes and drops what it reads without a valid signature */
    public ControlLog(Properties kafka, String topic, ControlRecords records, ControlSignature signature) {
        this(kafka, topic, records, signature, null);
    }

    /**
     * The control log of one task's lineage.
     *
     * @param task the task whose control topic {@code topic} is; null: records of any task apply (the single task)
     */
    public ControlLog(Properties kafka, String topic, ControlRecords records, ControlSignature signature, String task) {
        this.topic = topic;
        this.state = task == null ? new ControlState() : ControlState.forTask(task);
        this.records = records;
        this.signature = signature;
        Properties c = new Properties();
        c.putAll(kafka);
        c.remove(ConsumerConfig.GROUP_ID_CONFIG);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
        this.producerSettings = new Properties();
        producerSettings.putAll(kafka);
        producerSettings.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        producerSettings.put(ProducerConfig.ACKS_CONFIG, "all");
    }

    public String topic() {
        return topic;
    }

    /** The task whose lineage this log holds; empty when it applies records of any task. */
    public java.util.Optional<String> task() {
        return state.task();
    }

    /**
     * Keeps the applied records in {@code file} (e.g. in the processor's cache directory): read before the topic,
     * updated after every poll that read something. Call before {@link #catchUp} or {@link #follow}.
     */
    public void keepJournal(Path file) {
        if (partitions != null) {
            throw new IllegalStateException("keep the journal before reading the topic");
        }
        this.journalFile = file;
    }

    /** Records read but not applied (tombstones, unsigned or unreadable records, copies), oldest first. */
    public synchronized List<Ignored> ignored() {
        return List.copyOf(ignored);
    }

    /** How many records were read but not applied (more than {@link #ignored()} lists when there were many). */
    public synchronized int ignoredTotal() {
        return ignoredTotal;
    }

    /** Whether a record of this key was applied (this run or, with a journal, before). */
    public synchronized boolean applied(String key) {
        return journal.entry(key) != null;
    }

    /** A copy of the state so far. */
    public synchronized ControlState state() {
        return state.copy();
    }

    /** Reads everything written before this call; the state then reflects it. Again later: what came since. */
    public void catchUp(Duration timeout) {
        if (follower != null) {
            throw new IllegalStateException("already following; read state() instead");
        }
        if (partitions == null) {
            assign(timeout);
        }
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (partitions.stream().anyMatch(p -> consumer.position(p, timeout) < end.get(p))) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("could not read " + topic + " to its end within " + timeout);
            }
            poll();
        }
    }

    /** Follows new records on a background thread; {@code onChange} gets a copy of the state after each poll that changed it. */
    public void follow(Consumer<ControlState> onChange) {
        if (partitions == null) {
            assign(Duration.ofSeconds(30));
        }
        follower = new Thread(() -> {
            while (running) {
                try {
                    if (poll() > 0) {
                        onChange.accept(state());
                    }
                } catch (WakeupException e) {
                    return;
                } catch (RuntimeException | OutOfMemoryError e) {
                    // The thread outlives any one record: without it no new version or rollback would be seen.
                    log.error("Reading {} failed; retrying", topic, e);
                    sleep();
                }
            }
        }, "control-log");
        follower.setDaemon(true);
        follower.start();
    }

    private void assign(Duration timeout) {
        List<PartitionInfo> infos = consumer.partitionsFor(topic, timeout);
        if (infos == null || infos.isEmpty()) {
            throw new IllegalStateException("control topic " + topic + " does not exist");
        }
        if (infos.size() > 1) {
            // Order across partitions is not defined: events and commands must share one partition.
            log.warn("Control topic {} has {} partitions; it should have one so every reader sees one order",
                    topic, infos.size());
        }
        partitions = infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        if (journalFile != null) {
            resumeFromJournal(timeout);
        }
    }

    /**
     * Folds the journal's records: the topic's records it covers are then only looked at (what the topic holds
     * now), not applied again. A journal that does not verify is left aside and the topic is read as it is.
     */
    private void resumeFromJournal(Duration timeout) {
        ControlJournal loaded;
        try {
            loaded = ControlJournal.load(journalFile, topic, signature);
        } catch (IOException | RuntimeException e) {
            log.error("Not using the control journal {}: {}; reading {} as it is", journalFile, e.getMessage(), topic);
            return;
        }
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
        if (partitions.stream().anyMatch(p -> end.get(p) < loaded.nextOffset(p.partition()))) {
            log.warn("{} holds fewer records than the control journal {} has read: the topic was recreated;"
                    + " reading it whole over the journal", topic, journalFile);
            loaded.rewind();
        }
        synchronized (this) {
            for (ControlJournal.Entry e : loaded.entries()) {
                try {
                    state.apply(records.decode(topic, e.value())).ifPresent(why ->
                            log.warn("Control journal record {} not applied: {}", e.key(), why));
                } catch (RuntimeException ex) {
                    log.warn("Control journal record {} is unreadable: {}", e.key(), ex.getMessage());
                }
            }
            journal = loaded;
        }
        if (!loaded.isEmpty()) {
            log.info("Control state from the journal {}: {} records{}", journalFile, loaded.entries().size(),
                    state.serving().isPresent() ? ", serving version " + state.serving().getAsLong() : "");
        }
    }

    private int poll() {
        int applied = 0;
        int read = 0;
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
            read++;
            String refusal = read(r);
            synchronized (this) {
                latest.put(String.valueOf(r.key()), new Seen(r.offset(), refusal));
                rewrites.computeIfPresent(String.valueOf(r.key()), (k, at) -> at <= r.offset() ? null : at);
                journal.read(r.partition(), r.offset());
                if (refusal == null) {
                    applied++;
                } else {
                    ignoredTotal++;
                    if (ignored.size() < MAX_IGNORED_LISTED) {
                        ignored.add(new Ignored(r.partition(), r.offset(), String.valueOf(r.key()), refusal));
                    }
                }
            }
        }
        if (read > 0 && journalFile != null) {
            saveJournal();
        }
        return applied;
    }

    /** Applies one record; returns why it was not applied, or null. */
    private String read(ConsumerRecord<String, byte[]> r) {
        String where = topic + "-" + r.partition() + "@" + r.offset();
        boolean readBefore = r.offset() < journalNextOffset(r.partition());
        if (r.value() == null) {
            log.warn("Ignoring the tombstone for {} at {}: control records are never deleted; what was applied stays",
                    r.key(), where);
            return "a tombstone";
        }
        if (!signature.verify(r.key(), r.value(), r.headers())) {
            log.warn("Ignoring record {} at {}: it carries no valid signature (control.signing.key)", r.key(), where);
            return "no valid signature";
        }
        if (readBefore) {
            // The journal holds what was applied up to here: the topic's copy is only looked at, not applied again.
            return journalRefused(r);
        }
        SpecificRecord record;
        try {
            record = records.decode(topic, r.value());
        } catch (RuntimeException e) {
            log.warn("Skipping unreadable record {} at {}: {}", r.key(), where, e.getMessage());
            return "unreadable: " + e.getMessage();
        }
        synchronized (this) {
            var refused = state.apply(record);
            if (refused.isPresent()) {
                log.warn("Refusing record {} at {}: {}", r.key(), where, refused.get());
                return refused.get();
            }
            Header sig = r.headers().lastHeader(ControlSignature.HEADER);
            journal.applied(new ControlJournal.Entry(r.partition(), r.offset(), r.key(), r.value(),
                    sig == null ? null : sig.value()));
        }
        return null;
    }

    private synchronized long journalNextOffset(int partition) {
        return journal.nextOffset(partition);
    }

    /**
     * Null when a valid record the journal covers was applied: it is the journal's record of its key, or one that
     * record superseded. One read after the journal's record of its key, or of a key it lacks, was refused then.
     */
    private synchronized String journalRefused(ConsumerRecord<String, byte[]> r) {
        ControlJournal.Entry e = journal.entry(r.key());
        return e != null && e.partition() == r.partition() && e.offset() >= r.offset() ? null
                : "refused when it was read before (a copy, or overtaken by a newer record of its issuer)";
    }

    private void saveJournal() {
        try {
            synchronized (this) {
                journal.save(journalFile, topic);
            }
        } catch (IOException e) {
            // The state in memory is right; only a restart during compaction of an erased record would miss it.
            log.error("Could not write the control journal {}: {}", journalFile, e.getMessage());
        }
    }

    /**
     * Writes again each applied record chosen by {@code mine} that the topic no longer holds under its key: deleted
     * by compaction after a tombstone or another record of that key, or followed by one that was not applied. The
     * copy is the same record with a new sequence and nonce, signed, so readers that never saw the original apply
     * it. Call only when the log has been read to its end (after {@link #catchUp}, or while following).
     *
     * @return how many records were written again
     */
    public int restore(Predicate<SpecificRecord> mine) throws IOException {
        List<ControlJournal.Entry> vanished = new ArrayList<>();
        synchronized (this) {
            for (ControlJournal.Entry e : journal.entries()) {
                Seen now = latest.get(e.key());
                boolean held = now != null && now.offset() == e.offset() && now.refusal() == null;
                Long rewrite = rewrites.get(e.key());
                if (!held && (rewrite == null || now != null && now.offset() >= rewrite)) {
                    vanished.add(e);
                }
            }
        }
        int written = 0;
        for (ControlJournal.Entry e : vanished) {
            SpecificRecord record = records.decode(topic, e.value());
            if (!mine.test(record)) {
                continue;
            }
            Seen now;
            synchronized (this) {
                now = latest.get(e.key());
            }
            log.warn("Record {} (applied from {}-{}@{}) is gone from {}: {}; writing it again", e.key(), topic,
                    e.partition(), e.offset(), topic, now == null ? "no record of its key is left"
                            : "the key's latest record (offset " + now.offset() + ") is " + now.refusal());
            long offset = send(e.key(), record);
            synchronized (this) {
                rewrites.put(e.key(), offset);
            }
            written++;
        }
        return written;
    }

    public void publish(AdapterEvent event) throws IOException {
        send(ControlRecords.key(event), event);
    }

    /**
     * An operator's command, checked against the log before it is sent so that a typo does not become a silent
     * no-op: PIN needs a version, and only a version that was published ACTIVE can be pinned or rolled back to.
     */
    public void command(AdapterCommandType type, Long version, String requestedBy) throws IOException {
        ControlState state = state();
        if (type == AdapterCommandType.PIN && version == null) {
            throw new IllegalArgumentException("pin needs a version");
        }
        if (version != null && version != 0 && (type == AdapterCommandType.PIN || type == AdapterCommandType.ROLLBACK)) {
            AdapterEvent e = state.event(version).orElseThrow(() -> new IllegalArgumentException("no adapter version " + version));
            if (e.getStatus() != AdapterStatus.ACTIVE) {
                throw new IllegalArgumentException("version " + version + " is " + e.getStatus() + " and cannot be served");
            }
        }
        publish(AdapterCommand.newBuilder().setCommand(type).setVersion(version).setRequestedBy(requestedBy)
                .setRequestedAt(Instant.now()).build());
    }

    public void publish(AdapterCommand command) throws IOException {
        send(ControlRecords.key(command), command);
    }

    /**
     * Writes the record stamped with its issuer, the issuer's next sequence and a nonce; returns its offset. One
     * write at a time, so the topic holds each issuer's records in the order of their sequences (a record that
     * overtook an earlier one of its issuer would make readers refuse that one), while reading goes on.
     */
    private long send(String key, SpecificRecord record) throws IOException {
        synchronized (writing) {
            return write(key, stamp(record));
        }
    }

    private long write(String key, SpecificRecord stamped) throws IOException {
        synchronized (this) {
            if (producer == null) {
                producer = new KafkaProducer<>(producerSettings, new StringSerializer(), new ByteArraySerializer());
            }
        }
        try {
            ProducerRecord<String, byte[]> out = new ProducerRecord<>(topic, key, records.encode(topic, stamped));
            signature.sign(key, out.value(), out.headers());
            return producer.send(out).get().offset();
        } catch (ExecutionException e) {
            throw new IOException("could not write to " + topic + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /**
     * The record as this log writes it: the issuer is who the record says wrote it (the operator of a command, the
     * instance of an ERROR event, else the trainer); the sequence the issue time, or one more than the issuer's
     * last one read or written when that is later (another host's clock may be ahead).
     */
    private SpecificRecord stamp(SpecificRecord record) {
        String nonce = UUID.randomUUID().toString();
        String task = state.task().orElse(null);
        if (record instanceof AdapterEvent e && task != null && !task.equals(e.getTaskName())) {
            throw new IllegalArgumentException("an event of task '" + e.getTaskName() + "' does not belong on " + topic
                    + ", the control topic of task '" + task + "'");
        }
        if (record instanceof AdapterCommand c && task != null) {
            if (c.getTask() != null && !task.equals(c.getTask())) {
                throw new IllegalArgumentException("a command for task '" + c.getTask() + "' does not belong on " + topic
                        + ", the control topic of task '" + task + "'");
            }
            record = AdapterCommand.newBuilder(c).setTask(task).build();
        }
        if (record instanceof AdapterEvent e) {
            String issuer = e.getStatus() == AdapterStatus.ERROR ? String.valueOf(e.getInstance()) : TRAINER_ISSUER;
            return AdapterEvent.newBuilder(e).setIssuer(issuer).setSequence(nextSequence(issuer)).setNonce(nonce).build();
        }
        if (record instanceof AdapterCommand c) {
            String issuer = c.getRequestedBy();
            return AdapterCommand.newBuilder(c).setIssuer(issuer).setSequence(nextSequence(issuer)).setNonce(nonce).build();
        }
        throw new IllegalArgumentException("not a control record: " + record.getClass());
    }

    private synchronized long nextSequence(String issuer) {
        long next = Math.max(System.currentTimeMillis(),
                Math.max(state.lastSequence(issuer), lastWritten.getOrDefault(issuer, 0L)) + 1);
        lastWritten.put(issuer, next);
        return next;
    }

    private static void sleep() {
        try {
            Thread.sleep(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        running = false;
        if (follower != null) {
            consumer.wakeup();
            try {
                follower.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        consumer.close();
        synchronized (this) {
            if (producer != null) {
                producer.close(Duration.ofSeconds(10));
            }
        }
    }
}
