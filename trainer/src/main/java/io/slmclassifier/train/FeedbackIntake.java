package io.slmclassifier.train;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.classify.Task;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.DeadLetters;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feedback -> dataset topic (or the dead-letter topic). Each feedback record is checked against the task; a good
 * one is copied, keyed by its example id, into the compacted dataset topic (the last label wins, a duplicate changes
 * nothing), a bad one goes to the dead-letter topic with the reason. Offsets are committed only once every copy is
 * written. A copy the broker refuses goes to the dead-letter topic (cut to fit) instead; when a dead letter cannot
 * be written either, the batch is read again from its first offsets (a copy written twice changes nothing).
 */
public final class FeedbackIntake {
    private static final Logger log = LoggerFactory.getLogger(FeedbackIntake.class);

    /** Where copies go, and how large one dead letter may be (checked at start). */
    public record Destinations(String dataset, String deadLetters, int maxDeadLetterBytes) {}

    private final Task task;
    private final AvroSerde<LabeledExample> examples;
    private final Destinations destinations;
    private final KafkaConsumer<byte[], byte[]> feedback;
    private final KafkaProducer<byte[], byte[]> producer;
    private final Counter accepted;
    private final Counter refused;

    /**
     * @param feedback the feedback topics' consumer (subscribed once the dataset is read), without auto-commit
     * @param producer idempotent, acks=all: a copy counts only once the broker has it
     */
    public FeedbackIntake(Task task, AvroSerde<LabeledExample> examples, Destinations destinations,
            KafkaConsumer<byte[], byte[]> feedback, KafkaProducer<byte[], byte[]> producer, MeterRegistry metrics) {
        this(task, examples, destinations, feedback, producer, metrics, Tags.empty());
    }

    /** @param tags on its counters besides the outcome (the task's, when the trainer keeps several lineages) */
    public FeedbackIntake(Task task, AvroSerde<LabeledExample> examples, Destinations destinations,
            KafkaConsumer<byte[], byte[]> feedback, KafkaProducer<byte[], byte[]> producer, MeterRegistry metrics,
            Tags tags) {
        this.task = task;
        this.examples = examples;
        this.destinations = destinations;
        this.feedback = feedback;
        this.producer = producer;
        this.accepted = Counter.builder("slm.trainer.feedback").tags(tags).tag("outcome", "accepted")
                .description("feedback records").register(metrics);
        this.refused = Counter.builder("slm.trainer.feedback").tags(tags).tag("outcome", "dead_lettered")
                .description("feedback records").register(metrics);
    }

    /** Copies what one poll returns; waits at most {@code timeout} for records. */
    public void copyNext(Duration timeout) {
        ConsumerRecords<byte[], byte[]> records = feedback.poll(timeout);
        if (records.isEmpty()) {
            return;
        }
        List<Sent> copies = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            try {
                LabeledExample example = examples.deserializer().deserialize(r.topic(), r.headers(), r.value());
                if (example == null) {
                    throw new IllegalArgumentException("empty feedback record");
                }
                FeedbackDataset.toExample(task, example);
                copies.add(new Sent(r, producer.send(new ProducerRecord<>(destinations.dataset(), null, r.timestamp(),
                        example.getId().getBytes(StandardCharsets.UTF_8), r.value())), false));
            } catch (RuntimeException e) {
                copies.add(new Sent(r, deadLetter(r, e), true));
            }
        }
        producer.flush();
        // Every dead letter of this batch: those sent above, and one for each copy the dataset topic refused.
        List<Future<?>> letters = new ArrayList<>();
        for (Sent copy : copies) {
            if (copy.deadLetter()) {
                letters.add(copy.send());
                continue;
            }
            Throwable failure = failureOf(copy.send());
            if (failure == null) {
                accepted.increment();
            } else {
                letters.add(deadLetter(copy.record(), new IllegalStateException("the dataset topic refused it: "
                        + failure.getMessage(), failure)));
            }
        }
        producer.flush();
        for (Future<?> letter : letters) {
            Throwable failure = failureOf(letter);
            if (failure != null) {
                log.warn("Could not write a dead letter ({}); reading this batch of feedback again", failure.getMessage());
                for (TopicPartition partition : records.partitions()) {
                    feedback.seek(partition, records.records(partition).get(0).offset());
                }
                return;
            }
        }
        feedback.commitSync();
    }

    /** A feedback record and the send of its copy (to the dataset, or to the dead-letter topic). */
    private record Sent(ConsumerRecord<byte[], byte[]> record, Future<?> send, boolean deadLetter) {}

    /** Why a finished send failed; null when it succeeded. */
    private static Throwable failureOf(Future<?> send) {
        try {
            send.get();
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return e;
        }
    }

    private Future<?> deadLetter(ConsumerRecord<byte[], byte[]> r, RuntimeException error) {
        log.warn("Feedback record {}-{}@{} goes to {}: {}", r.topic(), r.partition(), r.offset(),
                destinations.deadLetters(), error.getMessage());
        DeadLetters.Letter letter = DeadLetters.of(r.key(), r.value(), r.headers(), "invalid-feedback", error.getMessage(),
                error, r.topic(), r.partition(), r.offset(), destinations.maxDeadLetterBytes());
        refused.increment();
        return producer.send(new ProducerRecord<>(destinations.deadLetters(), null, r.timestamp(), letter.key(),
                letter.value(), letter.headers()));
    }
}
