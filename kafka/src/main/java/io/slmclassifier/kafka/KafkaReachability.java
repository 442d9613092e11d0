package io.slmclassifier.kafka;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether any bootstrap server answers at all, asked with plain TCP connections before a service builds its
 * Kafka clients: a client left to find out itself retries for minutes, warning on every attempt, and ends with a
 * bare timeout. This one gives up after the start-up timeout with one line naming the addresses and the cause.
 */
public final class KafkaReachability {

    /** No broker answered within the start-up timeout. */
    public static final class Unreachable extends IOException {
        Unreachable(String message) {
            super(message);
        }
    }

    private KafkaReachability() {}

    /** Returns once a bootstrap server accepts a connection; throws {@link Unreachable} when none did in time. */
    public static void await(String bootstrapServers, Duration timeout) throws Unreachable {
        await(bootstrapServers, timeout, "bootstrap.servers; startup.timeout.ms");
    }

    /**
     * As {@link #await(String, Duration)}, the message ending with {@code settings}: the names under which this
     * command takes the addresses and the timeout, so the one line says what to change.
     */
    public static void await(String bootstrapServers, Duration timeout, String settings) throws Unreachable {
        List<InetSocketAddress> servers = parse(bootstrapServers);
        long deadline = System.nanoTime() + timeout.toNanos();
        String cause = "no answer";
        while (true) {
            for (InetSocketAddress server : servers) {
                try (Socket socket = new Socket()) {
                    socket.connect(server.isUnresolved() ? new InetSocketAddress(server.getHostString(), server.getPort())
                            : server, 2000);
                    return;
                } catch (IOException e) {
                    cause = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                    if (e instanceof java.net.UnknownHostException) {
                        cause = "unknown host " + server.getHostString();
                    }
                }
            }
            if (System.nanoTime() > deadline) {
                throw new Unreachable("cannot reach Kafka at " + bootstrapServers + " within " + timeout.toSeconds()
                        + " s: " + cause + " (" + settings + ")");
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Unreachable("interrupted while waiting for Kafka at " + bootstrapServers);
            }
        }
    }

    private static List<InetSocketAddress> parse(String bootstrapServers) {
        List<InetSocketAddress> servers = new ArrayList<>();
        for (String entry : bootstrapServers.split(",")) {
            String s = entry.strip().replaceFirst("^[A-Za-z_]+://", "");
            int colon = s.lastIndexOf(':');
            if (s.isEmpty() || colon <= 0) {
                throw new IllegalArgumentException("bootstrap.servers entry '" + entry.strip() + "' is not host:port");
            }
            String host = s.substring(0, colon).replace("[", "").replace("]", "");
            try {
                servers.add(InetSocketAddress.createUnresolved(host, Integer.parseInt(s.substring(colon + 1))));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("bootstrap.servers entry '" + entry.strip() + "' is not host:port");
            }
        }
        return servers;
    }
}
