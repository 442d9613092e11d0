package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.Fixtures;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code classify} command on the committed tiny model, through files, as a user runs it. */
class ClassifyCommandTest {

    @Test
    void aMissingFileOrDirectorySaysSoInOneLine(@TempDir Path dir) throws Exception {
        java.io.PrintStream stderr = System.err;
        for (String[] files : new String[][] {{dir.resolve("nope.txt").toString(), "-"},
                {"-", dir.resolve("missing/dir/out.jsonl").toString()}}) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            java.io.InputStream stdin = System.in;
            int code;
            try {
                System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
                System.setIn(new java.io.ByteArrayInputStream("Ist negativ.\n".getBytes(StandardCharsets.UTF_8)));
                code = Main.run("classify", "--model", Fixtures.model("qwen3-tiny").toString(), "--task",
                        Fixtures.task("radr-intents").toString(), "--input", files[0], "--output", files[1], "--device", "cpu");
            } finally {
                System.setErr(stderr);
                System.setIn(stdin);
            }
            String said = err.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("error:")).findFirst().orElse("");
            assertEquals(2, code);
            assertEquals(files[0].equals("-") ? "error: directory " + dir.resolve("missing/dir") + " does not exist (for "
                    + files[1] + ")" : "error: no such file: " + files[0], said);
        }
        assertEquals("permission denied: /etc/x", io.slmclassifier.ops.CommandLines.describe(new java.nio.file.AccessDeniedException("/etc/x")));
    }

    @Test
    void classifiesTextAndJsonLinesAndReportsBadLines(@TempDir Path dir) throws Exception {
        Path input = dir.resolve("in.txt");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.write("Ist negativ, noch nicht.\n\n".getBytes(StandardCharsets.UTF_8));
        bytes.write("{\"id\": \"m-7\", \"text\": \"RobLW an Zugführer, kommen.\"}\n".getBytes(StandardCharsets.UTF_8));
        bytes.write("{\"text\": oops}\n".getBytes(StandardCharsets.UTF_8));
        bytes.write(new byte[] {(byte) 0xC3, (byte) 0x28, '\n'});
        bytes.write("Ja, hier ist Zugführer, kommen.".getBytes(StandardCharsets.UTF_8)); // no final newline
        Files.write(input, bytes.toByteArray());
        Path output = dir.resolve("out.jsonl");

        int code = Main.run("classify", "--model", Fixtures.model("qwen3-tiny").toString(), "--task",
                Fixtures.task("radr-intents").toString(), "--input", input.toString(), "--output", output.toString(),
                "--device", "cpu", "--batch-size", "2");
        assertEquals(0, code);

        List<JsonNode> lines = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(output)) {
            lines.add(json.readTree(line));
        }
        assertEquals(5, lines.size(), "the blank line is skipped, every other line answered");
        assertEquals("1", lines.get(0).get("id").asText());
        assertEquals("Ist negativ, noch nicht.", lines.get(0).get("text").asText());
        assertEquals("m-7", lines.get(1).get("id").asText());
        assertTrue(lines.get(2).get("error").asText().startsWith("invalid JSON"));
        assertEquals(4, lines.get(2).get("line").asInt());
        assertEquals("line is not valid UTF-8", lines.get(3).get("error").asText());
        assertEquals("Ja, hier ist Zugführer, kommen.", lines.get(4).get("text").asText());

        // Probabilities in task label order, summing to one, the label is the most probable one.
        JsonNode first = lines.get(0);
        List<String> order = new ArrayList<>();
        double sum = 0;
        String best = null;
        double bestP = -1;
        for (Iterator<String> it = first.get("probabilities").fieldNames(); it.hasNext(); ) {
            String label = it.next();
            order.add(label);
            double p = first.get("probabilities").get(label).asDouble();
            sum += p;
            if (p > bestP) {
                bestP = p;
                best = label;
            }
        }
        assertEquals(List.of("disconfirm", "order", "provide_info", "request_info", "call", "response_call", "other",
                "confirm"), order);
        assertEquals(1.0, sum, 1e-9);
        assertEquals(best, first.get("label").asText());
        assertEquals(8, first.get("logits").size());
        // The same numbers transformers computed for this sentence.
        Fixtures.Case reference = Fixtures.parityCases().stream().filter(c -> c.model().equals("qwen3-tiny")
                && c.task().equals("radr-intents") && c.text().equals("Ist negativ, noch nicht.")).findFirst().orElseThrow();
        for (int i = 0; i < order.size(); i++) {
            assertEquals(reference.probabilities()[i], first.get("probabilities").get(order.get(i)).asDouble(), 1e-4);
        }
    }

    /** A temperature fitted elsewhere, applied: classify serves softmax(logits / T); evaluate scores it on new data. */
    @Test
    void aGivenTemperatureIsAppliedByClassifyAndScoredByEvaluate(@TempDir Path dir) throws Exception {
        Path output = dir.resolve("out.jsonl");
        String model = Fixtures.model("qwen3-tiny").toString();
        String task = Fixtures.task("radr-intents").toString();
        Path data = Fixtures.RESOURCES.resolve("data/radr-sample.jsonl");
        assertEquals(0, Main.run("classify", "--model", model, "--task", task, "--input", data.toString(), "--output",
                output.toString(), "--device", "cpu", "--temperature", "0.25"));
        ObjectMapper json = new ObjectMapper();
        JsonNode first = json.readTree(Files.readAllLines(output).get(0));
        List<String> labels = new ArrayList<>();
        first.get("logits").fieldNames().forEachRemaining(labels::add);
        float[] logits = new float[labels.size()];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) first.get("logits").get(labels.get(i)).asDouble();
        }
        double[] expected = io.slmclassifier.classify.SlicedHead.softmax(logits, 0.25);
        for (int i = 0; i < logits.length; i++) {
            assertEquals(expected[i], first.get("probabilities").get(labels.get(i)).asDouble(), 1e-12, labels.get(i));
        }
        assertEquals(0.25, first.get("calibration_temperature").asDouble(), 0);

        Path metrics = dir.resolve("metrics.json");
        assertEquals(0, Main.run("evaluate", "--model", model, "--task", task, "--data", data.toString(), "--json",
                metrics.toString(), "--device", "cpu", "--temperature", "1"));
        JsonNode calibration = json.readTree(metrics.toFile()).get("calibration");
        JsonNode scaled = calibration.get("temperature_scaling");
        assertEquals("other data (given)", scaled.get("fitted_on").asText());
        assertEquals(1, scaled.get("temperature").asDouble(), 0);
        assertEquals(calibration.get("ece").asDouble(), scaled.get("ece").asDouble(), 0, "T = 1 is the model as it is");
        assertEquals(calibration.get("nll").asDouble(), scaled.get("nll").asDouble(), 0);

        assertEquals(2, Main.run("evaluate", "--model", model, "--task", task, "--data", data.toString(), "--device",
                "cpu", "--temperature", "-1"), "a temperature must be positive");
    }

    @Test
    void pipelineFormatGivesTheTopKLabelsAndScoresAsTransformersDoes(@TempDir Path dir) throws Exception {
        Path input = dir.resolve("in.txt");
        Files.writeString(input, "Ist negativ, noch nicht.\n{\"text\": oops}\nRobLW an Zugführer, kommen.\n");
        Path asJson = dir.resolve("json.jsonl");
        Path top3 = dir.resolve("top3.jsonl");
        Path top1 = dir.resolve("top1.jsonl");
        String model = Fixtures.model("qwen3-tiny").toString();
        String taskFile = Fixtures.task("radr-intents").toString();
        assertEquals(0, Main.run("classify", "--model", model, "--task", taskFile, "--input", input.toString(),
                "--output", asJson.toString(), "--device", "cpu"));
        assertEquals(0, Main.run("classify", "--model", model, "--task", taskFile, "--input", input.toString(),
                "--output", top3.toString(), "--device", "cpu", "--format", "pipeline", "--top-k", "3"));
        assertEquals(0, Main.run("classify", "--model", model, "--task", taskFile, "--input", input.toString(),
                "--output", top1.toString(), "--device", "cpu", "--format", "pipeline"));

        ObjectMapper json = new ObjectMapper();
        List<String> full = Files.readAllLines(asJson);
        List<String> pipeline = Files.readAllLines(top3);
        List<String> best = Files.readAllLines(top1);
        assertEquals(3, pipeline.size());
        assertEquals(3, best.size());
        assertEquals(json.readTree(full.get(1)), json.readTree(pipeline.get(1)), "a bad line is the same error line");
        for (int line : new int[] {0, 2}) {
            JsonNode probabilities = json.readTree(full.get(line)).get("probabilities");
            List<Double> sorted = new ArrayList<>();
            probabilities.forEach(p -> sorted.add(p.asDouble()));
            sorted.sort(java.util.Comparator.reverseOrder());
            JsonNode top = json.readTree(pipeline.get(line));
            assertTrue(top.isArray(), pipeline.get(line));
            assertEquals(3, top.size());
            for (int i = 0; i < 3; i++) {
                JsonNode entry = top.get(i);
                List<String> keys = new ArrayList<>();
                entry.fieldNames().forEachRemaining(keys::add);
                assertEquals(List.of("label", "score"), keys, "exactly the pipeline's keys");
                assertEquals(sorted.get(i), entry.get("score").asDouble(), 1e-12, "best first");
                assertEquals(probabilities.get(entry.get("label").asText()).asDouble(), entry.get("score").asDouble(),
                        1e-12, "the score is the label's probability");
            }
            assertEquals(json.readTree(full.get(line)).get("label").asText(), top.get(0).get("label").asText());
            assertEquals(json.readTree("[" + top.get(0) + "]"), json.readTree(best.get(line)), "top 1 by default");
        }

        java.io.PrintStream stderr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try {
            System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
            code = Main.run("classify", "--model", model, "--task", taskFile, "--input", input.toString(), "--top-k", "2");
        } finally {
            System.setErr(stderr);
        }
        assertEquals(2, code);
        assertEquals("error: --top-k is for --format pipeline", err.toString(StandardCharsets.UTF_8).strip());
    }

    @Test
    void readsAFifoAsItReadsAFile(@TempDir Path dir) throws Exception {
        // What the shell hands over for --input <(...): a pipe, which has no size and cannot seek.
        Path fifo = dir.resolve("texts.fifo");
        Assumptions.assumeTrue(new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start().waitFor() == 0,
                "mkfifo is not available here");
        Thread writer = new Thread(() -> {
            try {
                Files.write(fifo, "Ist negativ, noch nicht.\n{\"id\": \"m-7\", \"text\": \"Verstanden.\"}\n"
                        .getBytes(StandardCharsets.UTF_8));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        writer.start();
        Path output = dir.resolve("out.jsonl");
        int code = Main.run("classify", "--model", Fixtures.model("qwen3-tiny").toString(), "--task",
                Fixtures.task("radr-intents").toString(), "--input", fifo.toString(), "--output", output.toString(),
                "--device", "cpu");
        writer.join(10_000);

        assertEquals(0, code);
        List<String> lines = Files.readAllLines(output);
        assertEquals(2, lines.size(), String.join("\n", lines));
        ObjectMapper json = new ObjectMapper();
        assertEquals("Ist negativ, noch nicht.", json.readTree(lines.get(0)).get("text").asText());
        assertEquals("m-7", json.readTree(lines.get(1)).get("id").asText());
        assertTrue(json.readTree(lines.get(1)).has("label"));
    }

    @Test
    void missingModelIsAClearError(@TempDir Path dir) {
        int code = Main.run("classify", "--model", dir.resolve("nope").toString(), "--task",
                Fixtures.task("radr-intents").toString(), "--input", "/dev/null");
        assertEquals(2, code);
    }
}
