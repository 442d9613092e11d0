package io.slmclassifier.console;

import io.slmclassifier.stream.ProcessorConfig;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Where the console listens and what it reads and writes.
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
 */
public record ConsoleSettings(String host, int port, String token, String bootstrapServers,
        Map<String, String> kafka, String classifiedTopic, String dlqTopic, String feedbackTopic,
        Set<String> allowedHosts, String reviewTopic) {

    public ConsoleSettings {
        token = token == null ? "" : token.trim();
        kafka = Map.copyOf(kafka);
        allowedHosts = allowedHosts.stream().map(h -> h.trim().toLowerCase(Locale.ROOT)).filter(h -> !h.isEmpty())
                .collect(java.util.stream.Collectors.toUnmodifiableSet());
    }

    public ConsoleSettings(String host, int port, String token, String bootstrapServers, Map<String, String> kafka,
            String classifiedTopic, String dlqTopic, String feedbackTopic) {
        this(host, port, token, bootstrapServers, kafka, classifiedTopic, dlqTopic, feedbackTopic, Set.of(),
                "intents.review");
    }

    /** The console's part of the processor's configuration: {@code console.*}, the topics and the clients. */
    public static ConsoleSettings of(ProcessorConfig config) {
        return new ConsoleSettings(config.get("console.host"), config.getInt("console.port"),
                config.get("console.token"), config.require("bootstrap.servers"), config.kafkaPassThrough(),
                config.get("output.topic"), config.get("dlq.topic"), config.get("feedback.topic"),
                Set.of(config.get("console.allowed.hosts").split(",")), config.get("review.topic"));
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
                feedbackTopic, allowedHosts, reviewTopic);
    }
}
