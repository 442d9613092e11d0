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
 * What Kafka Streams does with a record the producer or the broker refuses (too large, say). Kafka's default
 * fails the stream thread, the replacement fails on the same record, and one record stops its partition for good.
 * Here the record is logged and counted, a copy of at most {@link #COPY_MAX_BYTES} goes to the dead-letter topic
 * where that can be done (Kafka Streams' dead-letter records, KIP-1034), and the stream thread carries on.
 * Retriable errors (a broker away for a moment) are retried, as Kafka's default does.
 *
 * <p>This is the last line, not the first: under exactly-once a refused record leaves the producer's transaction
 * unable to commit whatever the handler answers, so the processor keeps every record within the limits it knows
 * ({@code dlq.record.max.bytes}, {@code max.request.size}, the topics' {@code max.message.bytes}) before sending.
 * What reaches this handler is what no limit foresaw, such as a topic whose limit was lowered while running.
 */
public final class ProductionFailureHandler implements ProductionExceptionHandler {
    /** Streams configuration keys (passed through Streams' configuration as objects) that this handler reads. */
    public static final String DLQ_TOPIC_CONFIG = "slm.production.failure.dlq.topic";
    public static final String LISTENER_CONFIG = "slm.production.failure.listener";

    /**
     * Small enough for any topic's limit: the copy of a record that did not fit must not fail the same way. The
     * error headers and the record's first bytes still identify it.
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
        if (listener != null) {
            listener.deadLettered(BadInput.Reason.PRODUCTION_FAILURE);
        }
        // A record the broker refused is reported on the producer's own network thread. A dead-letter record sent
        // from there waits for the topic's metadata, which only that thread can fetch: it would block the producer
        // for max.block.ms and then be lost all the same. So from there the failure is only logged and counted.
        if (Thread.currentThread().getName().startsWith("kafka-producer-network-thread")) {
            log.error("The broker refused a record for {} ({}); it is skipped. Source: {}-{}@{}", record.topic(),
                    exception.toString(), context.topic(), context.partition(), context.offset());
            return Response.resume();
        }
        log.error("Cannot write a record to {} ({}); a copy of at most {} bytes goes to {} instead", record.topic(),
                exception.toString(), COPY_MAX_BYTES, dlqTopic);
        // A punctuation (where batches are emitted) has no source record: the record's own topic says what failed.
        boolean fromSource = context.topic() != null;
        DeadLetters.Letter letter = DeadLetters.of(record.key(), record.value(), record.headers(),
                BadInput.Reason.PRODUCTION_FAILURE.header, "cannot write to " + record.topic() + ": " + exception, exception,
                fromSource ? context.topic() : record.topic(), fromSource ? context.partition() : -1,
                fromSource ? context.offset() : -1, COPY_MAX_BYTES);
        return Response.resume(List.of(new ProducerRecord<>(dlqTopic, null, record.timestamp(), letter.key(),
                letter.value(), letter.headers())));
    }
}
