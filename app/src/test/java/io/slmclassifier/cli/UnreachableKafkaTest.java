package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command that talks to a broker, pointed at an address where none listens, gives up within its timeout with
 * one line naming the address and exit code 2: no Kafka client warning once per retry, no bare TimeoutException.
 */
class UnreachableKafkaTest {

    /** Generous: the timeouts below are seconds, this only catches a command that waits for a client's own. */
    private static final double BOUND_SECONDS = 60;

    private record Run(int code, List<String> err, double seconds) {}

    /** A loopback port nothing listens on: taken from the system, then let go. */
    private static int deadPort() throws Exception {
        try (ServerSocket free = new ServerSocket(0)) {
            return free.getLocalPort();
        }
    }

    /** Through {@link Main#run} in this JVM; slf4j-simple writes to whatever System.err is now, so its lines land here. */
    private static Run inThisJvm(String... args) {
        long started = System.nanoTime();
        CommandRun run = CommandRun.of(args);
        return new Run(run.code(), run.err().lines().toList(), (System.nanoTime() - started) / 1e9);
    }

    /** In a JVM of its own, as from a shell: the logging a person at a terminal gets is set up there. */
    private static Run inItsOwnJvm(Path dir, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true", "-cp", QuietTerminalIT.shippedClassPath(), "io.slmclassifier.cli.Main"));
        command.addAll(List.of(args));
        Path err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(err.toFile());
        pb.environment().put("OPT_OUT_TRACKING", "true");
        pb.environment().put("DJL_OFFLINE", "true");
        long started = System.nanoTime();
        Process p = pb.start();
        p.getOutputStream().close();
        if (!p.waitFor((long) BOUND_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", args) + " still running after " + BOUND_SECONDS + " s:\n"
                    + Files.readString(err));
        }
        return new Run(p.exitValue(), Files.readAllLines(err), (System.nanoTime() - started) / 1e9);
    }

    private static void assertOneLineNaming(String address, String settings, Run run, String what) {
        assertEquals(2, run.code(), what + ":\n" + String.join("\n", run.err()));
        assertEquals(1, run.err().size(), what + " printed more than one line:\n" + String.join("\n", run.err()));
        String line = run.err().get(0);
        assertTrue(line.startsWith("error: cannot reach Kafka at " + address + " within "), what + ": " + line);
        assertTrue(line.endsWith("(" + settings + ")"), what + " does not name its settings: " + line);
        assertTrue(run.seconds() < BOUND_SECONDS, what + " gave up after " + run.seconds() + " s");
    }

    @Test
    void produceGivesUpWithOneLine() throws Exception {
        String address = "127.0.0.1:" + deadPort();
        Run run = inThisJvm("produce", "--bootstrap-servers", address, "--count", "5", "--timeout-ms", "2000");
        assertOneLineNaming(address, "--bootstrap-servers; --timeout-ms", run, "produce");
    }

    @Test
    void consumeGivesUpWithOneLine() throws Exception {
        String address = "127.0.0.1:" + deadPort();
        Run run = inThisJvm("consume", "--topic", "intents.classified", "--bootstrap-servers", address,
                "--timeout-ms", "2000");
        assertOneLineNaming(address, "--bootstrap-servers; --timeout-ms", run, "consume");
    }

    @Test
    void everyAdapterActionGivesUpWithOneLine() throws Exception {
        String address = "127.0.0.1:" + deadPort();
        for (List<String> action : List.of(List.of("list"), List.of("rollback", "0"), List.of("pin", "1"),
                List.of("unpin"), List.of("train"))) {
            List<String> args = new ArrayList<>(List.of("adapter"));
            args.addAll(action);
            args.addAll(List.of("--set", "bootstrap.servers=" + address, "--set", "startup.timeout.ms=2000",
                    "--set", "schema.registry.url=http://127.0.0.1:1"));
            Run run = inThisJvm(args.toArray(String[]::new));
            assertOneLineNaming(address, "bootstrap.servers; startup.timeout.ms", run, "adapter " + String.join(" ", action));
        }
    }

    @Test
    void fromAShellToo(@TempDir Path dir) throws Exception {
        // The two commands of the report and consume, each with the logging a terminal gets (WARN and up from the libraries).
        String address = "127.0.0.1:" + deadPort();
        Run produce = inItsOwnJvm(dir, "produce", "--bootstrap-servers", address, "--count", "5", "--timeout-ms", "3000");
        assertOneLineNaming(address, "--bootstrap-servers; --timeout-ms", produce, "produce in its own JVM");
        Run list = inItsOwnJvm(dir, "adapter", "list", "--set", "bootstrap.servers=" + address,
                "--set", "startup.timeout.ms=3000");
        assertOneLineNaming(address, "bootstrap.servers; startup.timeout.ms", list, "adapter list in its own JVM");
        Run consume = inItsOwnJvm(dir, "consume", "--topic", "intents.dlq", "--from-beginning", "--bootstrap-servers",
                address, "--timeout-ms", "3000");
        assertOneLineNaming(address, "--bootstrap-servers; --timeout-ms", consume, "consume in its own JVM");
    }
}
