package io.slmclassifier.console;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.classify.Texts;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.DeadLetterHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The console's own reader of the results and dead-letter topics. It joins no consumer group (partitions are
 * assigned by hand, so it takes nothing away from any other reader and commits nothing) and starts at the end:
 * the console shows what happens from now on. It also counts the feedback records written since the newest
 * adapter version, from offsets alone.
 */
final class LiveFeed implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LiveFeed.class);
    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration METADATA_TIMEOUT = Duration.ofSeconds(5);
    /** Until every topic has partitions, look for them this often; afterwards, for added partitions. */
    private static final long ASSIGN_RETRY_MS = 2_000;
    private static final long ASSIGN_REFRESH_MS = 60_000;
    private static final long PENDING_REFRESH_MS = 2_000;
    private static final int DEAD_LETTER_PREVIEW_CHARS = 300;
    /** Records read back per partition of the review topic at start-up, and of the feedback topic to leave out. */
    static final int REVIEW_BACKLOG_PER_PARTITION = 500;
    static final int FEEDBACK_LOOKBACK_PER_PARTITION = 5_000;
    private static final Duration BACKLOG_TIMEOUT = Duration.ofSeconds(15);

    private final ConsoleSettings settings;
    private final LiveState state;
    private final AvroSerde<Classification> classifications;
    private final Supplier<Instant> newestAdapterCreated;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Thread thread;
    private volatile boolean closing;
    private boolean started;

    LiveFeed(ConsoleSettings settings, LiveState state, AvroSerde<Classification> classifications,
            Supplier<Instant> newestAdapterCreated) {
        this.settings = settings;
        this.state = state;
        this.classifications = classifications;
        this.newestAdapterCreated = newestAdapterCreated;
        this.consumer = new KafkaConsumer<>(consumerSettings(settings), new ByteArrayDeserializer(),
                new ByteArrayDeserializer());
        this.thread = new Thread(this::run, "console-feed");
        thread.setDaemon(true);
    }

    private static Properties consumerSettings(ConsoleSettings settings) {
        Properties p = new Properties();
        p.putAll(settings.kafka());
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "slm-console-" + Long.toHexString(System.nanoTime()));
        // Results are written in transactions (exactly once): show only committed ones, as any reader sees them.
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // Looking a topic up must not create it.
        p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
        return p;
    }

    void start() {
        started = true;
        thread.start();
    }

    private void run() {
        long nextAssign = 0;
        long nextPending = 0;
        boolean backlogRead = false;
        try {
            while (!closing) {
                long now = System.currentTimeMillis();
                if (now >= nextAssign) {
                    boolean complete = assign();
                    nextAssign = now + (complete ? ASSIGN_REFRESH_MS : ASSIGN_RETRY_MS);
                }
                if (!backlogRead) {
                    // After the live topics' ends are fixed: what is abstained from then on comes live, and a result
                    // in both is kept once.
                    readReviewBacklog();
                    backlogRead = true;
                }
                if (now >= nextPending) {
                    countPendingLabels();
                    nextPending = now + PENDING_REFRESH_MS;
                }
                if (consumer.assignment().isEmpty()) {
                    Thread.sleep(POLL.toMillis());
                    continue;
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(POLL)) {
                    handle(r);
                }
            }
        } catch (WakeupException | InterruptedException e) {
            // close() asked us to stop
        } catch (RuntimeException e) {
            if (!closing) {
                log.error("The console stopped reading {} and {}", settings.classifiedTopic(), settings.dlqTopic(), e);
            }
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private void handle(ConsumerRecord<byte[], byte[]> r) {
        long now = System.currentTimeMillis();
        if (r.topic().equals(settings.classifiedTopic())) {
            Classification c;
            try {
                c = classifications.deserializer().deserialize(r.topic(), r.headers(), r.value());
            } catch (RuntimeException e) {
                state.undecodable();
                log.warn("Unreadable record on {} at partition {} offset {}: {}", r.topic(), r.partition(), r.offset(),
                        e.getMessage());
                return;
            }
            if (c != null) {
                state.classified(c, now);
            }
        } else {
            state.deadLetter(header(r, DeadLetterHeaders.ERROR_TYPE, "unknown"), header(r, DeadLetterHeaders.ERROR_MESSAGE, ""),
                    preview(r.value()), header(r, DeadLetterHeaders.SOURCE_TOPIC, ""), now);
        }
    }

    /**
     * The review queue people left when the console last stopped: the newest abstained results on the review topic,
     * less those whose id is the key of a record on the feedback topic (labeled since, here or elsewhere).
     */
    private void readReviewBacklog() {
        try (KafkaConsumer<byte[], byte[]> reader = new KafkaConsumer<>(consumerSettings(settings),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            Set<String> labeled = new HashSet<>();
            readTail(reader, settings.feedbackTopic(), FEEDBACK_LOOKBACK_PER_PARTITION, r -> {
                if (r.key() != null) {
                    labeled.add(new String(r.key(), StandardCharsets.UTF_8));
                }
            });
            List<Classification> waiting = new ArrayList<>();
            readTail(reader, settings.reviewTopic(), REVIEW_BACKLOG_PER_PARTITION, r -> {
                try {
                    Classification c = classifications.deserializer().deserialize(r.topic(), r.headers(), r.value());
                    if (c != null && !labeled.contains(c.getId())) {
                        waiting.add(c);
                    }
                } catch (RuntimeException e) {
                    log.debug("Unreadable record on {} at partition {} offset {}: {}", r.topic(), r.partition(),
                            r.offset(), e.getMessage());
                }
            });
            state.reviewBacklog(waiting);
            if (!waiting.isEmpty()) {
                log.info("Console review queue: {} abstained results from {} not labeled yet", waiting.size(),
                        settings.reviewTopic());
            }
        } catch (WakeupException e) {
            throw e;
        } catch (RuntimeException e) {
            log.warn("Could not read the review backlog from {}: {}", settings.reviewTopic(), e.toString());
        }
    }

    /** Hands the last {@code perPartition} records of each partition of {@code topic} to {@code each}, oldest first. */
    private void readTail(KafkaConsumer<byte[], byte[]> reader, String topic, int perPartition,
            Consumer<ConsumerRecord<byte[], byte[]>> each) {
        List<TopicPartition> tps = partitionsFor(topic).stream()
                .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
        if (tps.isEmpty()) {
            return;
        }
        Map<TopicPartition, Long> ends = reader.endOffsets(tps, METADATA_TIMEOUT);
        Map<TopicPartition, Long> begins = reader.beginningOffsets(tps, METADATA_TIMEOUT);
        reader.assign(tps);
        for (TopicPartition tp : tps) {
            reader.seek(tp, Math.max(begins.get(tp), ends.get(tp) - perPartition));
        }
        long deadline = System.nanoTime() + BACKLOG_TIMEOUT.toNanos();
        while (!closing && System.nanoTime() < deadline
                && tps.stream().anyMatch(tp -> reader.position(tp, METADATA_TIMEOUT) < ends.get(tp))) {
            for (ConsumerRecord<byte[], byte[]> r : reader.poll(POLL)) {
                if (r.offset() < ends.get(new TopicPartition(r.topic(), r.partition()))) {
                    each.accept(r);
                }
            }
        }
        reader.unsubscribe();
    }

    /**
     * Assigns every partition of the two topics, starting new ones at their end and keeping the position of
     * those already read. Returns whether both topics were found.
     */
    private boolean assign() {
        Set<TopicPartition> wanted = new HashSet<>();
        boolean complete = true;
        for (String topic : List.of(settings.classifiedTopic(), settings.dlqTopic())) {
            List<PartitionInfo> partitions = partitionsFor(topic);
            if (partitions.isEmpty()) {
                complete = false;
            }
            partitions.forEach(info -> wanted.add(new TopicPartition(info.topic(), info.partition())));
        }
        Set<TopicPartition> current = consumer.assignment();
        if (wanted.equals(current) || !wanted.containsAll(current)) {
            return complete; // unchanged, or a metadata hiccup made partitions vanish: keep reading what we have
        }
        Map<TopicPartition, Long> positions = new HashMap<>();
        for (TopicPartition tp : current) {
            positions.put(tp, consumer.position(tp, METADATA_TIMEOUT));
        }
        List<TopicPartition> added = new ArrayList<>(wanted);
        added.removeAll(current);
        consumer.assign(wanted);
        positions.forEach(consumer::seek);
        consumer.seekToEnd(added);
        // Resolve the end now, so what is written from here on is shown, however long the first poll waits.
        for (TopicPartition tp : added) {
            consumer.position(tp, METADATA_TIMEOUT);
        }
        log.info("Console reading {} from their end", added);
        state.partitions(wanted.size());
        return complete;
    }

    /**
     * Feedback records with a timestamp at or after the newest adapter's creation (all of them while no adapter
     * is known): the labels the next training run would learn from.
     */
    private void countPendingLabels() {
        try {
            List<PartitionInfo> partitions = partitionsFor(settings.feedbackTopic());
            if (partitions.isEmpty()) {
                state.pendingLabels(0);
                return;
            }
            List<TopicPartition> tps = partitions.stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            Map<TopicPartition, Long> ends = consumer.endOffsets(tps, METADATA_TIMEOUT);
            Instant since = newestAdapterCreated.get();
            long pending = 0;
            if (since == null) {
                Map<TopicPartition, Long> begins = consumer.beginningOffsets(tps, METADATA_TIMEOUT);
                for (TopicPartition tp : tps) {
                    pending += ends.get(tp) - begins.get(tp);
                }
            } else {
                Map<TopicPartition, Long> query = new HashMap<>();
                tps.forEach(tp -> query.put(tp, since.toEpochMilli()));
                Map<TopicPartition, OffsetAndTimestamp> from = consumer.offsetsForTimes(query, METADATA_TIMEOUT);
                for (TopicPartition tp : tps) {
                    OffsetAndTimestamp first = from.get(tp);
                    pending += first == null ? 0 : ends.get(tp) - first.offset();
                }
            }
            state.pendingLabels(pending);
        } catch (WakeupException e) {
            throw e;
        } catch (RuntimeException e) {
            log.debug("Could not count the records on {}: {}", settings.feedbackTopic(), e.toString());
            state.pendingLabels(-1);
        }
    }

    private List<PartitionInfo> partitionsFor(String topic) {
        try {
            List<PartitionInfo> partitions = consumer.partitionsFor(topic, METADATA_TIMEOUT);
            return partitions == null ? List.of() : partitions;
        } catch (WakeupException e) {
            throw e;
        } catch (RuntimeException e) {
            log.debug("No partitions for {} yet: {}", topic, e.toString());
            return List.of();
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String key, String fallback) {
        Header h = r.headers().lastHeader(key);
        return h == null || h.value() == null ? fallback : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** The start of a dead letter's value as text; bytes that are not UTF-8 become replacement characters. */
    private static String preview(byte[] value) {
        if (value == null) {
            return "";
        }
        String text = new String(value, 0, Math.min(value.length, DEAD_LETTER_PREVIEW_CHARS * 4), StandardCharsets.UTF_8);
        return text.length() > DEAD_LETTER_PREVIEW_CHARS ? Texts.cut(text, DEAD_LETTER_PREVIEW_CHARS) + "…" : text;
    }

    @Override
    public void close() {
        closing = true;
        if (!started) {
            consumer.close(Duration.ZERO);
            return;
        }
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
