package io.slmclassifier.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Standard input, line by line, read on a thread of its own: a stop (SIGTERM, Ctrl-C) must not wait for a line.
 * At the end of the input an interactive demo stops (Ctrl-D); one without a terminal (started in the
 * background, by a service manager, in a container) goes on serving until it is stopped.
 */
final class DemoInput {
    private static final String END = new String("end of input");
    private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
    private final boolean stopAtEnd;
    private final Runnable onEndWithoutTerminal;
    private volatile boolean stopping;

    DemoInput(InputStream in, boolean stopAtEnd, Runnable onEndWithoutTerminal) {
        this.stopAtEnd = stopAtEnd;
        this.onEndWithoutTerminal = onEndWithoutTerminal;
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    queue.add(line);
                }
            } catch (IOException e) {
                // the input is gone: same as its end
            }
            queue.add(END);
        }, "demo-input");
        reader.setDaemon(true);
        reader.start();
    }

    void stop() {
        stopping = true;
        queue.add(END);
    }

    /** The next line; null when the demo should stop. */
    String next() throws InterruptedException {
        while (true) {
            String line = queue.take();
            if (line != END) {
                return stopping ? null : line;
            }
            if (stopping || stopAtEnd) {
                return null;
            }
            onEndWithoutTerminal.run();
        }
    }
}
