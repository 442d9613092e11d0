package io.slmclassifier.devkit;

import java.io.IOException;
import java.io.UncheckedIOException;
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
 * A stream processor in a child JVM ({@code ProcessorCommand --set key=value ...}, the processor image's entry point)
 * with the class path of this one, its output appended to a log file: what the crash test and the soak kill and
 * restart. The class is named, not linked: this module is below the processor's.
 */
public final class ProcessorProcess {

    private ProcessorProcess() {}

    /** Starts {@code ProcessorCommand} with these settings; stdout and stderr are appended to {@code log}. */
    public static Process start(Map<String, String> config, Path log) throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
                "io.slmclassifier.stream.ProcessorCommand"));
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

    /** The longest a child may take to get there however busy the machine: a log still growing after this is a hang. */
    public static final Duration START_CAP = Duration.ofMinutes(15);

    /**
     * Waits until {@code log} has {@code occurrences} lines containing {@code text} (a restarted child appends to the
     * same file) for as long as the child lives and works: it gives up when neither its log nor its CPU time has
     * grown for {@code stall}, or after {@link #START_CAP}. On a busy machine a JVM starts slowly, not idly.
     */
    public static void awaitLog(Process child, Path log, String text, int occurrences, Duration stall)
            throws InterruptedException {
        ProgressWait.Result waited = ProgressWait.await(() -> {
            if (count(log, text) >= occurrences) {
                return true;
            }
            if (!child.isAlive()) {
                throw new IllegalStateException("the processor exited (" + child.exitValue() + "); see " + log);
            }
            return false;
        }, () -> size(log) + ProgressWait.cpuSeconds(child), stall, START_CAP);
        if (!waited.done()) {
            throw new IllegalStateException("no '" + text + "' in the processor's log: " + waited.describe() + "; see " + log);
        }
    }

    /** Bytes in the log so far: it grows while the child starts, restores and works. */
    public static long size(Path log) {
        try {
            return Files.exists(log) ? Files.size(log) : 0;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
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

    private static long count(Path log, String text) {
        if (!Files.exists(log)) {
            return 0;
        }
        // Bytes as Latin-1: a line being written may end inside a UTF-8 character.
        try (var lines = Files.lines(log, StandardCharsets.ISO_8859_1)) {
            return lines.filter(l -> l.contains(text)).count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
