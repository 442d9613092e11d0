package io.slmclassifier.kafka;

import io.slmclassifier.classify.Texts;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.apache.kafka.common.header.Headers;

/**
 * The headers every dead letter carries, whichever service wrote it: why it was refused, and where it came from,
 * so that an operator can find the original record and replay it once the cause is fixed. Each letter carries
 * them twice: under our own {@code slm.*} names, and under the names Kafka Connect's dead-letter queue uses
 * ({@code __connect.errors.*}, written as Connect writes them: numbers as decimal text), so that the tools that
 * already read Connect's dead letters read ours.
 */
public final class DeadLetterHeaders {
    public static final String ERROR_TYPE = "slm.error.type";
    public static final String ERROR_MESSAGE = "slm.error.message";
    public static final String SOURCE_TOPIC = "slm.source.topic";
    public static final String SOURCE_PARTITION = "slm.source.partition";
    public static final String SOURCE_OFFSET = "slm.source.offset";

    public static final String CONNECT_TOPIC = "__connect.errors.topic";
    public static final String CONNECT_PARTITION = "__connect.errors.partition";
    public static final String CONNECT_OFFSET = "__connect.errors.offset";
    public static final String CONNECT_EXCEPTION_CLASS = "__connect.errors.exception.class.name";
    public static final String CONNECT_EXCEPTION_MESSAGE = "__connect.errors.exception.message";
    public static final String CONNECT_EXCEPTION_STACKTRACE = "__connect.errors.exception.stacktrace";

    /** The messages are for people; one that quotes a huge input must not crowd out the input itself. */
    static final int MAX_MESSAGE_CHARS = 1000;

    /** Longer than any real class name; a bound all the same, since the letter's size must have one. */
    static final int MAX_CLASS_NAME_CHARS = 250;

    /** The first frames and the causes say where it failed; more would take the room of the refused record. */
    static final int MAX_STACKTRACE_CHARS = 2000;

    /** Frames of each exception in the stack trace's chain; see {@link #stackTrace}. */
    static final int TRACE_FRAMES = 10;

    /** Each exception's message in the stack trace; the whole first one is in its own header. */
    private static final int TRACE_MESSAGE_CHARS = 200;

    private DeadLetterHeaders() {}

    /**
     * Adds the reason and the origin to {@code headers} (the original record's, kept as they were): the service's
     * {@code message}, and the exception it refused the record for, with its stack trace where it has one (an
     * exception that judges the input rather than reports a failure may have none). Each text is cut to its
     * bound, so that the headers added stay within what {@link DeadLetters#MIN_RECORD_BYTES} leaves room for.
     */
    public static void add(Headers headers, String errorType, String message, Throwable error, String topic,
            int partition, long offset) {
        headers.add(ERROR_TYPE, utf8(errorType));
        headers.add(ERROR_MESSAGE, utf8(Texts.cut(String.valueOf(message), MAX_MESSAGE_CHARS)));
        headers.add(SOURCE_TOPIC, utf8(topic));
        headers.add(SOURCE_PARTITION, utf8(String.valueOf(partition)));
        headers.add(SOURCE_OFFSET, utf8(String.valueOf(offset)));

        headers.add(CONNECT_TOPIC, utf8(topic));
        headers.add(CONNECT_PARTITION, utf8(String.valueOf(partition)));
        headers.add(CONNECT_OFFSET, utf8(String.valueOf(offset)));
        if (error == null) {
            return;
        }
        headers.add(CONNECT_EXCEPTION_CLASS, utf8(Texts.cut(error.getClass().getName(), MAX_CLASS_NAME_CHARS)));
        if (error.getMessage() != null) {
            headers.add(CONNECT_EXCEPTION_MESSAGE, utf8(Texts.cut(error.getMessage(), MAX_MESSAGE_CHARS)));
        }
        if (error.getStackTrace().length > 0) {
            headers.add(CONNECT_EXCEPTION_STACKTRACE, utf8(Texts.cut(stackTrace(error), MAX_STACKTRACE_CHARS)));
        }
    }

    /**
     * The stack trace as {@code printStackTrace} writes it, with the first frames of each exception in the chain
     * only: in a stream thread the frames below those are the same few hundred of Kafka Streams every time, and
     * printed whole they would fill the header's bound before the cause, the part that says most, is reached.
     */
    private static String stackTrace(Throwable error) {
        StringBuilder text = new StringBuilder();
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Throwable t = error; t != null && seen.add(t); t = t.getCause()) {
            text.append(t == error ? "" : "Caused by: ").append(t.getClass().getName());
            if (t.getMessage() != null) {
                text.append(": ").append(Texts.cut(t.getMessage(), TRACE_MESSAGE_CHARS));
            }
            text.append('\n');
            StackTraceElement[] frames = t.getStackTrace();
            for (int i = 0; i < Math.min(frames.length, TRACE_FRAMES); i++) {
                text.append("\tat ").append(frames[i]).append('\n');
            }
            if (frames.length > TRACE_FRAMES) {
                text.append("\t... ").append(frames.length - TRACE_FRAMES).append(" more\n");
            }
        }
        return text.toString();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
