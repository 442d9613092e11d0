package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import io.slmclassifier.devkit.LocalKafkaBroker;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a person at a terminal sees from the interactive commands: their output, not the libraries' INFO logs. */
class QuietTerminalIT {

    private record Run(int code, String out, List<String> err) {}

    /** The command in a JVM of its own, as from a shell: logging is set up once per JVM, before anything logs. */
    private static Run run(Path dir, String stdin, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true", "-cp", shippedClassPath(), "io.slmclassifier.cli.Main"));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("OPT_OUT_TRACKING", "true");
        pb.environment().put("DJL_OFFLINE", "true");
        Process p = pb.start();
        p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "finished");
        return new Run(p.exitValue(), Files.readString(out), Files.readAllLines(err));
    }

    /** The test class path with the test classes last, so the jar's logging settings win over the tests' own. */
    static String shippedClassPath() {
        List<String> entries = new ArrayList<>(List.of(System.getProperty("java.class.path").split(java.io.File.pathSeparator)));
        List<String> tests = entries.stream().filter(e -> e.endsWith("test-classes")).toList();
        entries.removeAll(tests);
        entries.addAll(tests);
        return String.join(java.io.File.pathSeparator, entries);
    }

    @Test
    void classifyAndAdapterListShowTheirOutputOnly(@TempDir Path dir) throws Exception {
        String[] classify = {"classify", "--model", Fixtures.model("qwen3-tiny").toString(), "--task",
                Fixtures.task("radr-intents").toString(), "--device", "cpu"};
        Run quiet = run(dir, "Ist negativ.\n", classify);
        assertEquals(0, quiet.code(), String.join("\n", quiet.err()));
        assertTrue(quiet.out().contains("\"label\""), quiet.out());
        assertEquals(List.of(), quiet.err(), "nothing but results");

        List<String> verboseArgs = new ArrayList<>(List.of(classify));
        verboseArgs.add("--verbose");
        Run verbose = run(dir, "Ist negativ.\n", verboseArgs.toArray(String[]::new));
        assertTrue(verbose.err().stream().anyMatch(l -> l.contains(" INFO ")), "--verbose brings the logs back");

        Path log = dir.resolve("classify.log");
        List<String> logged = new ArrayList<>(List.of(classify));
        logged.addAll(List.of("--log-file", log.toString()));
        Run toFile = run(dir, "Ist negativ.\n", logged.toArray(String[]::new));
        assertEquals(List.of(), toFile.err());
        assertTrue(Files.readString(log).contains(" INFO "), "the logs went to the file");

        try (LocalKafkaBroker broker = LocalKafkaBroker.start();
                EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.builder().kafka(broker.bootstrapServers()).start()) {
            io.slmclassifier.kafka.Topics.ensure(io.slmclassifier.stream.ProcessorConfig.of(java.util.Map.of(
                    "bootstrap.servers", broker.bootstrapServers())).kafkaClient(),
                    List.of(io.slmclassifier.kafka.Topics.compacted("intents.control", 1, 1)));
            Run list = run(dir, "", "adapter", "list", "--set", "bootstrap.servers=" + broker.bootstrapServers(),
                    "--set", "schema.registry.url=" + registry.url());
            assertEquals(0, list.code(), String.join("\n", list.err()));
            assertTrue(list.out().startsWith("version"), list.out());
            assertEquals(List.of(), list.err(), "no Kafka client chatter");
        }
    }
}
