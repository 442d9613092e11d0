package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.Fixtures;
import io.slmclassifier.train.ColourTask;
import io.slmclassifier.train.LabeledData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java half of {@code tools/gpu-bench.sh train-fidelity}, on a CPU: the learning curve {@code train} writes
 * into training_metrics.json, which tools/train_fidelity.py compares between a GPU and a CPU run, and the
 * probabilities {@code bench --probabilities --adapter} writes, which it compares with transformers + PEFT.
 */
class TrainFidelityTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** ProgressBar's line for each evaluation. */
    private static final Pattern EVALUATED = Pattern.compile(
            "  step (\\d+): validation accuracy ([0-9.]+), macro-F1 ([0-9.]+), .*");

    private static void writeColours(Path file, int count, long seed) throws Exception {
        List<String> lines = new ArrayList<>();
        for (LabeledData.Example e : ColourTask.sentences(count, seed)) {
            lines.add(JSON.createObjectNode().put("text", e.text()).put("label", ColourTask.LABELS.get(e.label())).toString());
        }
        Files.write(file, lines, StandardCharsets.UTF_8);
    }

    private static CommandRun train(Path dir, String output) {
        return CommandRun.of("train", "--model", Fixtures.model("qwen3-tiny").toString(),
                "--task", dir.resolve("colours.yaml").toString(), "--train", dir.resolve("train.jsonl").toString(),
                "--validation", dir.resolve("validation.jsonl").toString(), "--output", dir.resolve(output).toString(),
                "--epochs", "2", "--eval-every", "3", "--lr", "1e-2", "--lora-r", "8", "--lora-alpha", "16",
                "--seed", "5", "--device", "cpu");
    }

    @Test
    void theCurveHoldsEveryEvaluationInOrderAndTheSameSeedRepeatsIt(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("colours.yaml"), ColourTask.YAML);
        writeColours(dir.resolve("train.jsonl"), 40, 1);
        writeColours(dir.resolve("validation.jsonl"), 24, 2);

        CommandRun run = train(dir, "first");
        assertEquals(0, run.code(), run.err());
        List<Matcher> printed = run.err().lines().map(EVALUATED::matcher).filter(Matcher::matches).toList();
        JsonNode report = JSON.readTree(dir.resolve("first/training_metrics.json").toFile());
        JsonNode curve = report.get("curve");

        // 40 examples in batches of 8: 5 steps an epoch, 10 in all; every 3rd step and each epoch's end, after step 0.
        List<Integer> steps = new ArrayList<>();
        curve.forEach(point -> steps.add(point.get("step").asInt()));
        assertEquals(List.of(0, 3, 5, 6, 9, 10), steps);
        assertEquals(printed.size(), curve.size(), run.err());
        assertTrue(printed.stream().anyMatch(m -> !m.group().endsWith("(best so far, kept)")),
                "an evaluation that kept nothing is in the curve too:\n" + run.err());
        double bestF1 = -1;
        int bestStep = -1;
        for (int i = 0; i < curve.size(); i++) {
            JsonNode point = curve.get(i);
            Matcher line = printed.get(i);
            assertEquals(Integer.parseInt(line.group(1)), point.get("step").asInt());
            assertEquals(line.group(2), String.format("%.4f", point.get("accuracy").asDouble()));
            assertEquals(line.group(3), String.format("%.4f", point.get("macro_f1").asDouble()));
            assertTrue(point.get("validation_loss").asDouble() > 0, point.toString());
            // Step 0 is the adapter training starts from: no training loss yet.
            assertEquals(i > 0, point.has("train_loss"), point.toString());
            assertTrue(i == 0 || point.get("train_loss").asDouble() > 0, point.toString());
            if (point.get("macro_f1").asDouble() > bestF1) {
                bestF1 = point.get("macro_f1").asDouble();
                bestStep = point.get("step").asInt();
            }
        }
        // The kept adapter is the curve's first best, as before the curve was there.
        assertEquals(bestStep, report.get("step").asInt());
        assertEquals(bestF1, report.get("validation").get("macro_f1").asDouble());
        assertTrue(bestF1 > curve.get(0).get("macro_f1").asDouble(), "learned something: " + curve);

        // Same data, seed and steps: the same batches, initialisation and dropout masks, the same curve.
        CommandRun again = train(dir, "second");
        assertEquals(0, again.code(), again.err());
        assertEquals(curve, JSON.readTree(dir.resolve("second/training_metrics.json").toFile()).get("curve"));
    }

    @Test
    void probabilitiesWithAnAdapterAreWhatClassifyGivesWithIt(@TempDir Path dir) throws Exception {
        Path adapter = Fixtures.RESOURCES.resolve("adapters/peft-r8"); // written by PEFT
        List<String> common = List.of("--model", Fixtures.model("qwen3-tiny").toString(), "--task",
                Fixtures.task("radr-intents").toString(), "--device", "cpu");
        List<JsonNode> withAdapter = probabilities(dir.resolve("adapter.jsonl"), common, "--adapter", adapter.toString());
        List<JsonNode> base = probabilities(dir.resolve("base.jsonl"), common);

        Path texts = dir.resolve("texts.txt");
        Files.write(texts, withAdapter.stream().map(line -> line.get("text").asText()).toList(), StandardCharsets.UTF_8);
        List<String> classify = new ArrayList<>(List.of("classify", "--adapter", adapter.toString(), "--input",
                texts.toString()));
        classify.addAll(common);
        CommandRun classified = CommandRun.of(classify);
        assertEquals(0, classified.code(), classified.err());
        List<String> results = classified.outLines();
        assertEquals(withAdapter.size(), results.size());

        List<String> labels = io.slmclassifier.classify.Task.load(Fixtures.task("radr-intents")).labels();
        double moved = 0;
        for (int i = 0; i < results.size(); i++) {
            JsonNode line = withAdapter.get(i);
            JsonNode result = JSON.readTree(results.get(i));
            assertEquals(line.get("text").asText(), result.get("text").asText());
            // The same lines as without an adapter: the ids PEFT is run on do not depend on it.
            assertEquals(base.get(i).get("ids"), line.get("ids"));
            assertEquals(base.get(i).get("class_token_ids"), line.get("class_token_ids"));
            for (int c = 0; c < labels.size(); c++) {
                double p = line.get("probabilities").get(c).asDouble();
                assertEquals(result.get("probabilities").get(labels.get(c)).asDouble(), p, 1e-6, "text " + i);
                moved = Math.max(moved, Math.abs(p - base.get(i).get("probabilities").get(c).asDouble()));
            }
        }
        assertTrue(moved > 0.01, "the adapter changes the probabilities: at most by " + moved);

        List<String> refused = new ArrayList<>(List.of("bench", "--adapter", adapter.toString(), "--batch-sizes", "2"));
        refused.addAll(common);
        CommandRun run = CommandRun.of(refused);
        assertNotEquals(0, run.code());
        assertTrue(run.err().contains("--adapter is for --probabilities"), run.err());
        assertFalse(run.out().contains("messages/s"), "refused before timing anything: " + run.out());
    }

    private static List<JsonNode> probabilities(Path file, List<String> common, String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("bench", "--probabilities", file.toString(), "--texts", "12",
                "--batch-sizes", "4"));
        args.addAll(common);
        args.addAll(List.of(extra));
        CommandRun run = CommandRun.of(args);
        assertEquals(0, run.code(), run.err());
        List<JsonNode> lines = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            lines.add(JSON.readTree(line));
        }
        assertEquals(12, lines.size());
        return lines;
    }
}
