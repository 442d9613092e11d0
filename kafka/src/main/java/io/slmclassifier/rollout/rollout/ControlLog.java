package io.slmclassifier.rollout;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;
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
 * command and the console all speak the topic the same way.
 */
public final class ControlLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ControlLog.class);

    private final String topic;
    private final ControlRecords records;
    private final ControlSignature signature;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Properties producerSettings;
    private KafkaProducer<String, byte[]> producer;
    private final ControlState state = new ControlState();
    private List<TopicPartition> partitions;
    private Thread follower;
    private volatile boolean running = true;

    /** A control log whose records are neither signed nor checked. */
    public ControlLog(Properties kafka, String topic, ControlRecords records) {
        this(kafka, topic, records, ControlSignature.none());
    }

    /** @param signature signs what this log writes and drops what it reads without a valid signature */
    public ControlLog(Properties kafka, String topic, ControlRecords records, ControlSignature signature) {
        this.topic = topic;
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

    /** A copy of the state so far. */
    public synchronized ControlState state() {
        return state.copy();
    }

    /** Reads everything written before this call; the state then reflects it. */
    public void catchUp(Duration timeout) {
        if (follower != null) {
            throw new IllegalStateException("already following; read state() instead");
        }
        assign(timeout);
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
    }

    private int poll() {
        int applied = 0;
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
            if (r.value() == null) {
                continue; // a tombstone: nothing to fold
            }
            if (!signature.verify(r.key(), r.value(), r.headers())) {
                log.warn("Ignoring record {} at {}-{}@{}: it carries no valid signature (control.signing.key)", r.key(),
                        topic, r.partition(), r.offset());
                continue;
            }
            SpecificRecord record;
            try {
                record = records.decode(topic, r.value());
            } catch (RuntimeException e) {
                log.warn("Skipping unreadable record at {}-{}@{}: {}", topic, r.partition(), r.offset(), e.getMessage());
                continue;
            }
            synchronized (this) {
                state.apply(record);
            }
            applied++;
        }
        return applied;
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

    private synchronized void send(String key, SpecificRecord record) throws IOException {
        if (producer == null) {
            producer = new KafkaProducer<>(producerSettings, new StringSerializer(), new ByteArraySerializer());
        }
        try {
            ProducerRecord<String, byte[]> out = new ProducerRecord<>(topic, key, records.encode(topic, record));
            signature.sign(key, out.value(), out.headers());
            producer.send(out).get();
        } catch (ExecutionException e) {
            throw new IOException("could not write to " + topic + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
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
