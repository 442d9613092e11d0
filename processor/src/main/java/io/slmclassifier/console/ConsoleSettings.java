package io.slmclassifier.console;

import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Where the console listens and what it reads and writes: one task's part of the processor's configuration
 * ({@code console.*}, its topics and clients), built by the stream side ({@code ProcessorConfig#consoleSettings}).
 *
 * @param host the address to listen on ({@code 0.0.0.0}: every interface)
 * @param allowedHosts host names the browser may have used to reach the console (the {@code Host} header), besides
 *     the loopback names: a page of another origin that rebinds its DNS name to this address is refused
 * @param port 0 picks a free port
 * @param token what writing requests must carry as {@code Authorization: Bearer <token>}; empty: the console
 *     is read-only and refuses every write
 * @param kafka client settings passed to the console's consumer and producer (security, timeouts)
 * @param reviewTopic where the processor writes the results it abstained on; the console's review queue starts
 *     with those written before it started and not yet labeled
 * @param maxStreams open event streams (pages) in all; the next one is answered 503
 * @param maxStreamsPerAddress open event streams from one client address
 */
public record ConsoleSettings(String host, int port, String token, String bootstrapServers,
        Map<String, String> kafka, String classifiedTopic, String dlqTopic, String feedbackTopic,
        Set<String> allowedHosts, String reviewTopic, int maxStreams, int maxStreamsPerAddress) {

    /** The shortest token accepted: 16 characters, as 8 random bytes in hex are (openssl rand -hex 16 gives 32). */
    public static final int MIN_TOKEN_CHARS = 16;
    public static final int DEFAULT_MAX_STREAMS = 256;
    public static final int DEFAULT_STREAMS_PER_ADDRESS = 16;

    public ConsoleSettings {
        token = token == null ? "" : token.trim();
        checkToken(token, "configuration 'console.token'");
        if (maxStreams < 1 || maxStreamsPerAddress < 1) {
            throw new IllegalArgumentException("configuration 'console.streams.max' and 'console.streams.max.per.address' "
                    + "must be at least 1, not " + maxStreams + " and " + maxStreamsPerAddress);
        }
        kafka = Map.copyOf(kafka);
        allowedHosts = allowedHosts.stream().map(h -> h.trim().toLowerCase(Locale.ROOT)).filter(h -> !h.isEmpty())
                .collect(java.util.stream.Collectors.toUnmodifiableSet());
    }

    public ConsoleSettings(String host, int port, String token, String bootstrapServers, Map<String, String> kafka,
            String classifiedTopic, String dlqTopic, String feedbackTopic, Set<String> allowedHosts, String reviewTopic) {
        this(host, port, token, bootstrapServers, kafka, classifiedTopic, dlqTopic, feedbackTopic, allowedHosts,
                reviewTopic, DEFAULT_MAX_STREAMS, DEFAULT_STREAMS_PER_ADDRESS);
    }

    public ConsoleSettings(String host, int port, String token, String bootstrapServers, Map<String, String> kafka,
            String classifiedTopic, String dlqTopic, String feedbackTopic) {
        this(host, port, token, bootstrapServers, kafka, classifiedTopic, dlqTopic, feedbackTopic, Set.of(),
                "intents.review");
    }

    /**
     * Refuses a console token that is set but shorter than {@link #MIN_TOKEN_CHARS}: it guards writes to Kafka from
     * whoever reaches the port. {@code what} names where it was given; the message never repeats the token.
     */
    public static void checkToken(String token, String what) {
        String t = token == null ? "" : token.strip();
        if (!t.isEmpty() && t.length() < MIN_TOKEN_CHARS) {
            throw new IllegalArgumentException(what + " is " + t.length() + " characters long; it must have at least "
                    + MIN_TOKEN_CHARS + " (openssl rand -hex 16 makes one), or be empty for a read-only console");
        }
    }

    /** Whether a request's {@code Host} header names this console: a loopback name or an allowed one. */
    public boolean hostAllowed(String hostHeader) {
        if (hostHeader == null) {
            return false;
        }
        String h = hostHeader.trim().toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            h = h.substring(1, Math.max(1, h.indexOf(']')));
        } else if (h.indexOf(':') >= 0 && h.indexOf(':') == h.lastIndexOf(':')) {
            h = h.substring(0, h.indexOf(':'));
        }
        return LOOPBACK.contains(h) || allowedHosts.contains(h);
    }

    private static final Set<String> LOOPBACK = Set.of("localhost", "127.0.0.1", "::1");

    public boolean writable() {
        return !token.isEmpty();
    }

    public ConsoleSettings withToken(String newToken) {
        return new ConsoleSettings(host, port, newToken, bootstrapServers, kafka, classifiedTopic, dlqTopic,
                feedbackTopic, allowedHosts, reviewTopic, maxStreams, maxStreamsPerAddress);
    }
}
