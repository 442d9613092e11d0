package io.slmclassifier.console;

import io.slmclassifier.stream.ProcessorConfig;
import java.util.Map;

/**
 * Where the console listens and what it reads and writes.
 *
 * @param host the address to listen on ({@code 0.0.0.0}: every interface)
 * @param port 0 picks a free port
 * @param token what writing requests must carry as {@code Authorization: Bearer <token>}; empty: the console
 *     is read-only and refuses every write
 * @param kafka client settings passed to the console's consumer and producer (security, timeouts)
 */
public record ConsoleSettings(String host, int port, String token, String bootstrapServers,
        Map<String, String> kafka, String classifiedTopic, String dlqTopic, String feedbackTopic) {

    public ConsoleSettings {
        token = token == null ? "" : token.trim();
        kafka = Map.copyOf(kafka);
    }

    /** The console's part of the processor's configuration: {@code console.*}, the topics and the clients. */
    public static ConsoleSettings of(ProcessorConfig config) {
        return new ConsoleSettings(config.get("console.host"), config.getInt("console.port"),
                config.get("console.token"), config.require("bootstrap.servers"), config.kafkaPassThrough(),
                config.get("output.topic"), config.get("dlq.topic"), config.get("feedback.topic"));
    }

    public boolean writable() {
        return !token.isEmpty();
    }

    public ConsoleSettings withToken(String newToken) {
        return new ConsoleSettings(host, port, newToken, bootstrapServers, kafka, classifiedTopic, dlqTopic,
                feedbackTopic);
    }
}
