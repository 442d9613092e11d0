package io.slmclassifier.devkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * A stream processor in a child JVM ({@code ProcessorMain --set key=value ...}, the processor image's entry point)
 * with the class path of this one, its output appended to a log file: what the crash test and the soak kill and
 * restart. The class is named, not linked: this module is below the processor's.
 */
public final class ProcessorProcess {

    private ProcessorProcess() {}

    /** Starts {@code ProcessorMain} with these settings; stdout and stderr are appended to {@code log}. */
    public static Process start(Map<String, String> config, Path log) throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
                "io.slmclassifier.stream.ProcessorMain"));
        for (Map.Entry<String, String> e : new TreeMap<>(config).entrySet()) {
            command.add("--set");
            command.add(e.getKey() + "=" + e.getValue());
        }
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        // The child may not reach the network: no usage reporting, no downloads of native libraries.
        pb.environment().put("OPT_OUT_TRACKING", "true");
        pb.environment().put("DJL_OFFLINE", "true");
        return pb.start();
    }

    /**
     * Waits until {@code log} has {@code occurrences} lines containing {@code text} (a restarted child appends
     * to the same file), failing early when the child has exited.
     */
    public static void awaitLog(Process child, Path log, String text, int occurrences, Duration timeout)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (count(log, text) < occurrences) {
            if (!child.isAlive()) {
                throw new IllegalStateException("the processor exited (" + child.exitValue() + "); see " + log);
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no '" + text + "' from the processor within " + timeout.toSeconds()
                        + " s; see " + log);
            }
            Thread.sleep(200);
        }
    }

    /** SIGTERM (the shutdown hook finishes the batch in flight and commits), then SIGKILL after the grace time. */
    public static boolean stop(Process child, Duration grace) throws InterruptedException {
        child.destroy();
        boolean exited = child.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS);
        child.destroyForcibly();
        child.waitFor(10, TimeUnit.SECONDS);
        return exited;
    }

    private static long count(Path log, String text) throws IOException {
        if (!Files.exists(log)) {
            return 0;
        }
        // Bytes as Latin-1: a line being written may end inside a UTF-8 character.
        try (var lines = Files.lines(log, StandardCharsets.ISO_8859_1)) {
            return lines.filter(l -> l.contains(text)).count();
        }
    }
}
