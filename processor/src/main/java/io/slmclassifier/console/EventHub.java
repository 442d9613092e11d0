package io.slmclassifier.console;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Server-sent events to the open pages. Every write is asynchronous: an open stream holds no request thread, only
 * its connection and the few frames queued for it, and the thread that broadcasts never waits for a page. One that
 * falls behind (a slow network, a sleeping laptop) is disconnected instead of holding memory, and its browser
 * reconnects and starts again from a fresh snapshot. A write the page never takes fails at the connection's idle
 * timeout. Streams are capped in all and per client address; the next one is answered 503.
 */
final class EventHub implements AutoCloseable {
    private static final int QUEUE_FRAMES = 32;
    /** The browser waits this long before reconnecting after the stream ends. */
    private static final byte[] RETRY = "retry: 2000\n\n".getBytes(StandardCharsets.UTF_8);

    private final int maxStreams;
    private final int maxStreamsPerAddress;
    private final Set<Stream> streams = ConcurrentHashMap.newKeySet();
    private boolean closed; // guarded by this

    EventHub(int maxStreams, int maxStreamsPerAddress) {
        this.maxStreams = maxStreams;
        this.maxStreamsPerAddress = maxStreamsPerAddress;
    }

    /** Open streams of one task's pages. */
    int clientCount(String task) {
        return (int) streams.stream().filter(s -> s.task.equals(task)).count();
    }

    /** Sends one event to the pages of one task. */
    void broadcast(String task, String event, String data) {
        byte[] frame = frame(event, data);
        for (Stream stream : streams) {
            if (stream.task.equals(task)) {
                stream.send(frame);
            }
        }
    }

    /**
     * Starts a stream to one page of {@code task}, its first frame {@code firstEvent}, and returns; the task's
     * broadcasts that follow go to it until it goes away or the hub closes, and only then is {@code done} completed.
     * Over a cap (counted over every task's pages) the request is answered 503 instead.
     */
    void open(Request request, Response response, Callback done, String task, String firstEvent, String firstData) {
        String address = Request.getRemoteAddr(request);
        String refusal = null;
        Stream stream = null;
        synchronized (this) {
            if (closed) {
                refusal = "the console is stopping";
            } else if (streams.size() >= maxStreams) {
                refusal = "too many open consoles: " + maxStreams + " (console.streams.max)";
            } else if (streams.stream().filter(s -> s.address.equals(address)).count() >= maxStreamsPerAddress) {
                refusal = "too many open consoles from " + address + ": " + maxStreamsPerAddress
                        + " (console.streams.max.per.address)";
            } else {
                stream = new Stream(address, task, response, done);
                streams.add(stream);
            }
        }
        if (stream == null) {
            response.setStatus(503);
            response.getHeaders().put("Content-Type", "text/plain; charset=utf-8");
            response.write(true, ByteBuffer.wrap((refusal + "\n").getBytes(StandardCharsets.UTF_8)), done);
            return;
        }
        response.setStatus(200);
        response.getHeaders().put("Content-Type", "text/event-stream; charset=utf-8");
        response.getHeaders().put("X-Accel-Buffering", "no");
        stream.send(RETRY);
        stream.send(frame(firstEvent, firstData));
    }

    private static byte[] frame(String event, String data) {
        // JSON from Jackson has no raw newlines, so the data fits one "data:" line.
        return ("event: " + event + "\ndata: " + data + "\n\n").getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        for (Stream stream : streams) {
            stream.end(new IOException("the console is stopping"));
        }
    }

    /** One page's stream: one write at a time, the frames that come meanwhile queued behind it. */
    private final class Stream implements Callback {
        final String address;
        final String task;
        private final Response response;
        private final Callback done;
        private final ArrayDeque<byte[]> queued = new ArrayDeque<>();
        private boolean writing; // guarded by this
        private boolean ended; // guarded by this

        Stream(String address, String task, Response response, Callback done) {
            this.address = address;
            this.task = task;
            this.response = response;
            this.done = done;
        }

        void send(byte[] frame) {
            boolean writeNow;
            synchronized (this) {
                if (ended) {
                    return;
                }
                if (writing && queued.size() < QUEUE_FRAMES) {
                    queued.add(frame);
                    return;
                }
                writeNow = !writing;
                writing = true;
            }
            if (writeNow) {
                response.write(false, ByteBuffer.wrap(frame), this);
            } else {
                end(new IOException("the page fell " + QUEUE_FRAMES + " frames behind"));
            }
        }

        /** The last write went out: the next queued frame follows. */
        @Override
        public void succeeded() {
            byte[] next;
            synchronized (this) {
                next = ended ? null : queued.poll();
                if (next == null) {
                    writing = false;
                    return;
                }
            }
            response.write(false, ByteBuffer.wrap(next), this);
        }

        /** The page went away, or took nothing until the idle timeout. */
        @Override
        public void failed(Throwable x) {
            end(x);
        }

        /** Ends the response without its closing chunk: the connection closes, and the browser reconnects. */
        void end(Throwable reason) {
            synchronized (this) {
                if (ended) {
                    return;
                }
                ended = true;
                queued.clear();
            }
            streams.remove(this);
            done.failed(reason);
        }
    }
}
