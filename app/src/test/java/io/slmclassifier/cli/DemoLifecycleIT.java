package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.devkit.ProgressWait;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo as a service manager or a container runs it: no terminal, its input at an end from the start. It keeps
 * serving (and says so) until SIGTERM, then stops its clients, services, registry and broker in that order,
 * in seconds.
 */
class DemoLifecycleIT {

    @Test
    void withoutATerminalItServesUntilSigtermThenStopsQuickly(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process demo = demo(List.of(), dir).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            // As long as the demo works at its start (CPU time, output), however slowly a busy machine lets it.
            ProgressWait.await(() -> !demo.isAlive() || read(out).contains("No terminal: serving until stopped"),
                    () -> ProgressWait.cpuSeconds(demo) + read(out).length(), Duration.ofSeconds(90), Duration.ofMinutes(10));
            assertTrue(Files.readString(out).contains("No terminal: serving until stopped (kill " + demo.pid()),
                    Files.readString(out) + Files.readString(err));
            Thread.sleep(2000);
            assertTrue(demo.isAlive(), "still serving after its input ended");
            // The terminal of a demo start: its own lines on stdout, nothing from the libraries on stderr.
            assertTrue(Files.readAllLines(err).isEmpty(), "stderr of the start:\n" + Files.readString(err));
            assertTrue(Files.readAllLines(out).size() < 30, Files.readString(out));

            long stopping = System.nanoTime();
            demo.destroy(); // SIGTERM
            assertTrue(demo.waitFor(10, TimeUnit.SECONDS), "stopped within 10 s of SIGTERM");
            double seconds = (System.nanoTime() - stopping) / 1e9;
            String log = Files.readString(err);
            assertTrue(log.lines().noneMatch(l -> l.contains("could not be established")), "no client outlived the broker:\n" + log);
            assertTrue(seconds < 10, "took " + seconds + " s");
        } finally {
            demo.destroyForcibly();
        }
    }

    /**
     * Ctrl-C at a terminal: SIGINT to the demo's whole process group, as a terminal sends it. The broker child is in
     * a session of its own, so only the demo gets it, and stops the way /quit does: broker last, in seconds, and
     * nothing after its "stopped" (a broker that died first left clients warning for 20 s).
     */
    @Test
    void sigintToItsProcessGroupStopsItLikeQuit(@TempDir Path dir) throws Exception {
        Path setsid = Path.of("/usr/bin/setsid");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(setsid), "needs setsid for a process group of its own");
        Path out = dir.resolve("out.txt");
        // The demo leads a process group of its own, as a shell's job does, so the signal reaches it and not this JVM.
        Process demo = demo(List.of(setsid.toString()), dir).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        try {
            ProgressWait.await(() -> !demo.isAlive() || read(out).contains("No terminal: serving until stopped"),
                    () -> ProgressWait.cpuSeconds(demo) + read(out).length(), Duration.ofSeconds(90), Duration.ofMinutes(10));
            assertTrue(read(out).contains("No terminal: serving until stopped (kill " + demo.pid()), read(out));
            List<ProcessHandle> children = demo.children().toList();
            assertTrue(!children.isEmpty(), "the broker runs as a child");

            long interrupting = System.nanoTime();
            Process kill = new ProcessBuilder("kill", "-INT", "--", "-" + demo.pid()).inheritIO().start();
            assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "SIGINT sent to process group " + demo.pid());
            assertTrue(demo.waitFor(10, TimeUnit.SECONDS), "stopped within 10 s of Ctrl-C:\n" + read(out));
            double seconds = (System.nanoTime() - interrupting) / 1e9;
            assertTrue(seconds < 10, "took " + seconds + " s");
            List<String> lines = Files.readAllLines(out);
            assertTrue(lines.get(lines.size() - 1).equals("stopped"), "the last line is \"stopped\":\n" + read(out));
            assertTrue(lines.stream().noneMatch(l -> l.contains("WARN")), "no warnings on the way out:\n" + read(out));
            for (ProcessHandle child : children) {
                assertTrue(!child.isAlive(), "the broker (pid " + child.pid() + ") stopped with the demo");
            }
        } finally {
            demo.destroyForcibly();
        }
    }

    /**
     * The shipped demo on the tiny model, offline, its input an empty file (no terminal), its data under {@code dir};
     * {@code launcher} comes before the java command (setsid, say).
     */
    private static ProcessBuilder demo(List<String> launcher, Path dir) throws Exception {
        List<String> command = new java.util.ArrayList<>(launcher);
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Dai.djl.offline=true",
                "-cp", QuietTerminalIT.shippedClassPath(), "io.slmclassifier.cli.Main", "demo", "--model", "demo-tiny",
                "--device", "cpu", "--console-port", "-1", "--data-dir", dir.resolve("data").toString()));
        ProcessBuilder pb = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.from(Files.createFile(dir.resolve("empty-input")).toFile()));
        pb.environment().put("OPT_OUT_TRACKING", "true");
        pb.environment().put("DJL_OFFLINE", "true");
        pb.environment().put("HF_HOME", dir.resolve("hf").toString());
        return pb;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
