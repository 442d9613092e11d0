package io.slmclassifier.kafka;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Headers;

/**
 * The headers every dead letter carries, whichever service wrote it: why it was refused, and where it came from,
 * so that an operator can find the original record and replay it once the cause is fixed.
 */
public final class DeadLetterHeaders {
    public static final String ERROR_TYPE = "slm.error.type";
    public static final String ERROR_MESSAGE = "slm.error.message";
    public static final String SOURCE_TOPIC = "slm.source.topic";
    public static final String SOURCE_PARTITION = "slm.source.partition";
    public static final String SOURCE_OFFSET = "slm.source.offset";

    private DeadLetterHeaders() {}

    /** Adds the reason and the origin to {@code headers} (the original record's, kept as they were). */
    public static void add(Headers headers, String errorType, String message, String topic, int partition, long offset) {
        headers.add(ERROR_TYPE, errorType.getBytes(StandardCharsets.UTF_8));
        headers.add(ERROR_MESSAGE, String.valueOf(message).getBytes(StandardCharsets.UTF_8));
        headers.add(SOURCE_TOPIC, topic.getBytes(StandardCharsets.UTF_8));
        headers.add(SOURCE_PARTITION, String.valueOf(partition).getBytes(StandardCharsets.UTF_8));
        headers.add(SOURCE_OFFSET, String.valueOf(offset).getBytes(StandardCharsets.UTF_8));
    }
}
