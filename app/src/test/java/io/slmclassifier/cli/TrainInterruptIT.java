package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.Fixtures;
import io.slmclassifier.train.ColourTask;
import io.slmclassifier.train.LabeledData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ctrl-C during an offline {@code train}, in a JVM of its own: the command says what it stopped and leaves the best
 * adapter so far, marked as interrupted, or nothing at all when no step had beaten the start.
 */
class TrainInterruptIT {
    private static final Pattern KEPT = Pattern.compile("step (\\d+): validation .*\\(best so far, kept\\)");

    @Test
    void interruptedAfterAnImprovementItLeavesTheBestAdapterSoFarMarkedAsSuch(@TempDir Path dir) throws Exception {
        Path output = dir.resolve("adapter");
        // Evaluations every 3 steps and far more epochs than the test waits for: an improvement comes early.
        Run run = start(dir, output, "--eval-every", "3");
        int kept = -1;
        try {
            Matcher improved = KEPT.matcher(run.await(l -> KEPT.matcher(l).find() && !l.contains("step 0:")));
            assertTrue(improved.find());
            kept = Integer.parseInt(improved.group(1));
            run.interrupt();
        } finally {
            run.process.destroyForcibly();
        }
        List<String> err = run.err();
        String said = String.join("\n", err);
        String last = err.stream().filter(l -> !l.isBlank()).reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("interrupted at step ") && last.contains("the best adapter so far (step ")
                && last.contains("marked as interrupted in training_metrics.json"), "the last line says what stopped:\n" + said);
        Matcher step = Pattern.compile("best adapter so far \\(step (\\d+),").matcher(last);
        assertTrue(step.find());
        int left = Integer.parseInt(step.group(1));
        assertTrue(left >= kept, "the best kept when stopped (" + left + "), at least the one seen (" + kept + ")");
        assertTrue(Files.size(output.resolve("adapter_model.safetensors")) > 0);
        new ObjectMapper().readTree(output.resolve("adapter_config.json").toFile());
        JsonNode metrics = new ObjectMapper().readTree(output.resolve("training_metrics.json").toFile());
        assertEquals(left, metrics.get("step").asInt(), metrics.toString());
        assertTrue(metrics.get("interrupted").get("at_step").asInt() >= left, metrics.toString());
    }

    @Test
    void interruptedBeforeAnyImprovementItLeavesNothing(@TempDir Path dir) throws Exception {
        Path output = dir.resolve("adapter");
        // 2,000 examples and evaluations only at an epoch's end: the first comes after 250 steps, long after the signal.
        Run run = start(dir, output);
        try {
            run.await(l -> l.startsWith("step 1/"));
            run.interrupt();
        } finally {
            run.process.destroyForcibly();
        }
        String said = String.join("\n", run.err());
        assertTrue(said.contains("interrupted at step ") && said.contains("so nothing is left in " + output), said);
        assertFalse(Files.exists(output), "the output directory it made is gone too");
    }

    private record Run(Process process, Path errFile) {
        List<String> err() {
            try {
                return Files.readAllLines(errFile);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The first stderr line the condition holds for, however slowly a busy machine gets there. */
        String await(Predicate<String> condition) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
            while (System.nanoTime() < deadline) {
                for (String line : err()) {
                    if (condition.test(line)) {
                        return line;
                    }
                }
                assertTrue(process.isAlive(), "train ended early:\n" + String.join("\n", err()));
                Thread.sleep(100);
            }
            throw new AssertionError("never came:\n" + String.join("\n", err()));
        }

        /** SIGINT, as Ctrl-C at a terminal sends it; then the hook's work must be done within seconds. */
        void interrupt() throws Exception {
            Process kill = new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).inheritIO().start();
            assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0);
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "stopped within 30 s of Ctrl-C:\n" + String.join("\n", err()));
        }
    }

    private static Run start(Path dir, Path output, String... more) throws IOException {
        Path task = Files.writeString(dir.resolve("colours.yaml"), ColourTask.YAML);
        Path train = write(dir.resolve("train.jsonl"), ColourTask.sentences(2000, 1));
        Path validation = write(dir.resolve("validation.jsonl"), ColourTask.sentences(30, 2));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true", "-cp", QuietTerminalIT.shippedClassPath(), "io.slmclassifier.cli.Main", "train",
                "--model", Fixtures.model("qwen3-tiny").toString(), "--task", task.toString(), "--train", train.toString(),
                "--validation", validation.toString(), "--output", output.toString(), "--epochs", "50", "--lr", "1e-2",
                "--lora-r", "8", "--lora-alpha", "16", "--device", "cpu"));
        command.addAll(List.of(more));
        Path err = dir.resolve("err.txt");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(dir.resolve("out.txt").toFile()).redirectError(err.toFile());
        pb.environment().put("OPT_OUT_TRACKING", "true");
        pb.environment().put("DJL_OFFLINE", "true");
        return new Run(pb.start(), err);
    }

    private static Path write(Path file, List<LabeledData.Example> examples) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<String> lines = new ArrayList<>();
        for (LabeledData.Example e : examples) {
            lines.add(json.createObjectNode().put("text", e.text()).put("label", ColourTask.LABELS.get(e.label())).toString());
        }
        return Files.write(file, lines);
    }
}
