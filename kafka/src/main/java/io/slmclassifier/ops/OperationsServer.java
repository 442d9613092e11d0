package io.slmclassifier.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;

/**
 * {@code /metrics} (Prometheus text), {@code /health/live}, {@code /health/ready} and {@code /health} (all of it as
 * JSON, with whether the service signs the control topic). For the processor: live while its Streams client is not
 * dead, ready when Streams is RUNNING (partitions assigned and state restored) and its stream threads are not
 * failing again and again.
 */
public final class OperationsServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpServer server;

    /**
     * @param scrape the Prometheus text of the processor's metrics (a supplier: this module is below the processor)
     * @param steady false while stream threads keep dying (each is replaced, so Streams alone would stay RUNNING
     *     while a poison record stops every partition of the thread)
     * @param control {@code signed} or {@code unsigned}: whether the processor signs and checks control records
     */
    public OperationsServer(String host, int port, Supplier<String> scrape, Supplier<KafkaStreams.State> state,
            BooleanSupplier steady, String control) throws IOException {
        this(host, port, scrape, () -> {
            KafkaStreams.State s = state.get();
            return s != KafkaStreams.State.ERROR && s != KafkaStreams.State.NOT_RUNNING;
        }, () -> state.get() == KafkaStreams.State.RUNNING && steady.getAsBoolean(),
                () -> state.get().name() + (steady.getAsBoolean() ? "" : " (stream threads keep failing)"), control);
    }

    /**
     * @param host the address to listen on: loopback unless a deployment opens it ({@code metrics.host})
     * @param describe a word for the health endpoints' body (a state name)
     * @param control {@code signed} or {@code unsigned}: an operator who finds {@code unsigned} knows that whoever
     *     may write the control topic can steer the service
     */
    public OperationsServer(String host, int port, Supplier<String> scrape, BooleanSupplier live, BooleanSupplier ready,
            Supplier<String> describe, String control) throws IOException {
        server = HttpServer.create(new InetSocketAddress(host, port), 0);
        server.createContext("/metrics", ex -> respond(ex, 200, "text/plain; version=0.0.4; charset=utf-8", scrape.get()));
        server.createContext("/health/live", ex -> respond(ex, live.getAsBoolean() ? 200 : 503, "text/plain", describe.get() + "\n"));
        server.createContext("/health/ready", ex -> respond(ex, ready.getAsBoolean() ? 200 : 503, "text/plain", describe.get() + "\n"));
        // The JDK serves a request from the longest context that prefixes its path: /health/live and /health/ready keep theirs.
        server.createContext("/health", ex -> {
            boolean isLive = live.getAsBoolean();
            ObjectNode health = JSON.createObjectNode().put("state", describe.get()).put("live", isLive)
                    .put("ready", ready.getAsBoolean()).put("control", control);
            respond(ex, isLive ? 200 : 503, "application/json", health.toString() + "\n");
        });
        server.start();
    }

    /** Where it listens. */
    public InetSocketAddress address() {
        return server.getAddress();
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
