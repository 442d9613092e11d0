package io.slmclassifier.stream;

import io.slmclassifier.kafka.DeadLetters;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What Kafka Streams does with a record the producer refuses (too large for the broker, say): Kafka's default
 * fails the stream thread, and the replacement thread fails on the same record, so one record would stop its
 * partition for good. Here the record goes to the dead-letter topic instead (Kafka Streams 4's dead-letter records,
 * KIP-1034), as a copy of at most {@link #COPY_MAX_BYTES} so that it fits where the record itself did not, and
 * the stream thread carries on. Retriable errors (a broker away for a moment) are retried as Kafka's default does.
 *
 * <p>Dead letters are already cut to fit before they are sent ({@link DeadLetters}); this is for what no bound
 * foresaw, such as a topic whose {@code max.message.bytes} is below {@code dlq.record.max.bytes}.
 */
public final class ProductionFailureHandler implements ProductionExceptionHandler {
    /** Streams configuration keys (objects, passed through Streams' configuration) this handler reads. */
    public static final String DLQ_TOPIC_CONFIG = "slm.production.failure.dlq.topic";
    public static final String LISTENER_CONFIG = "slm.production.failure.listener";

    /**
     * Small enough for any broker's and topic's limit: the copy of a record that did not fit must not fail the
     * same way. The error headers and the record's first bytes still identify it.
     */
    static final int COPY_MAX_BYTES = 65_536;

    private static final Logger log = LoggerFactory.getLogger(ProductionFailureHandler.class);

    private String dlqTopic;
    private ClassifierTopology.Listener listener;

    @Override
    public void configure(Map<String, ?> configs) {
        dlqTopic = (String) configs.get(DLQ_TOPIC_CONFIG);
        if (dlqTopic == null || dlqTopic.isBlank()) {
            throw new IllegalArgumentException(DLQ_TOPIC_CONFIG + " names no dead-letter topic");
        }
        listener = (ClassifierTopology.Listener) configs.get(LISTENER_CONFIG);
    }

    @Override
    public Response handleError(ErrorHandlerContext context, ProducerRecord<byte[], byte[]> record, Exception exception) {
        if (exception instanceof RetriableException) {
            return Response.retry();
        }
        // A punctuation (where batches are emitted) has no source record: the record's own topic says what failed.
        String sourceTopic = context.topic() != null ? context.topic() : record.topic();
        log.error("Cannot write a record to {} ({}); a copy of at most {} bytes goes to {} instead", record.topic(),
                exception.toString(), COPY_MAX_BYTES, dlqTopic);
        DeadLetters.Letter letter = DeadLetters.of(record.key(), record.value(), record.headers(),
                BadInput.Reason.PRODUCTION_FAILURE.header, "cannot write to " + record.topic() + ": " + exception,
                sourceTopic, context.topic() != null ? context.partition() : -1,
                context.topic() != null ? context.offset() : -1, COPY_MAX_BYTES);
        if (listener != null) {
            listener.deadLettered(BadInput.Reason.PRODUCTION_FAILURE);
        }
        return Response.resume(List.of(new ProducerRecord<>(dlqTopic, null, record.timestamp(), letter.key(),
                letter.value(), letter.headers())));
    }
}
