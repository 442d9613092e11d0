package io.slmclassifier.stream;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;

/**
 * {@code /metrics} (Prometheus text), {@code /health/live} (the process and its Streams client are not dead)
 * and {@code /health/ready} (Streams is RUNNING: partitions assigned and state restored).
 */
public final class OperationsServer implements AutoCloseable {
    private final HttpServer server;

    public OperationsServer(int port, ProcessorMetrics metrics, Supplier<KafkaStreams.State> state) throws IOException {
        server = HttpServer.create(new InetSocketAddress(port), 0);
        server.createContext("/metrics", ex -> respond(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape()));
        server.createContext("/health/live", ex -> {
            KafkaStreams.State s = state.get();
            boolean live = s != KafkaStreams.State.ERROR && s != KafkaStreams.State.NOT_RUNNING;
            respond(ex, live ? 200 : 503, "text/plain", s.name() + "\n");
        });
        server.createContext("/health/ready", ex -> {
            KafkaStreams.State s = state.get();
            respond(ex, s == KafkaStreams.State.RUNNING ? 200 : 503, "text/plain", s.name() + "\n");
        });
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void respond(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
