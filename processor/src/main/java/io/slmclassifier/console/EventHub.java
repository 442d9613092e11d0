package io.slmclassifier.console;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Server-sent events to the open pages. Each page has a short queue; one that falls behind (a slow network, a
 * sleeping laptop) is disconnected instead of holding memory, and its browser reconnects and starts again from a
 * fresh snapshot.
 */
final class EventHub implements AutoCloseable {
    static final int MAX_CLIENTS = 32;
    private static final int QUEUE_FRAMES = 32;
    private static final long KEEP_ALIVE_SECONDS = 15;
    private static final byte[] CLOSE = new byte[0];

    private final Set<BlockingQueue<byte[]>> clients = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    int clientCount() {
        return clients.size();
    }

    void broadcast(String event, String data) {
        byte[] frame = frame(event, data);
        for (BlockingQueue<byte[]> queue : clients) {
            if (!queue.offer(frame)) {
                queue.clear();
                queue.offer(CLOSE);
            }
        }
    }

    /** Streams events to one page until it goes away or the hub closes; the first frame is its snapshot. */
    void serve(HttpExchange exchange, String firstEvent, String firstData) throws IOException {
        if (closed || clients.size() >= MAX_CLIENTS) {
            byte[] body = "too many open consoles\n".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(503, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
            return;
        }
        BlockingQueue<byte[]> queue = new ArrayBlockingQueue<>(QUEUE_FRAMES);
        clients.add(queue);
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        exchange.getResponseHeaders().set("X-Accel-Buffering", "no");
        exchange.sendResponseHeaders(200, 0);
        try (OutputStream out = exchange.getResponseBody()) {
            // The browser waits this long before reconnecting after the stream ends.
            out.write("retry: 2000\n\n".getBytes(StandardCharsets.UTF_8));
            out.write(frame(firstEvent, firstData));
            out.flush();
            while (!closed) {
                byte[] next = queue.poll(KEEP_ALIVE_SECONDS, TimeUnit.SECONDS);
                if (next == CLOSE) {
                    break;
                }
                // A comment line keeps proxies from closing an idle stream and tells us when the page is gone.
                out.write(next != null ? next : ": keep-alive\n\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // the page went away
        } finally {
            clients.remove(queue);
            exchange.close();
        }
    }

    private static byte[] frame(String event, String data) {
        // JSON from Jackson has no raw newlines, so the data fits one "data:" line.
        return ("event: " + event + "\ndata: " + data + "\n\n").getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        closed = true;
        for (BlockingQueue<byte[]> queue : clients) {
            queue.clear();
            queue.offer(CLOSE);
        }
    }
}
