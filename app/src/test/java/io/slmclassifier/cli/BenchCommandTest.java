package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code bench} on a CPU, as a user without a GPU runs it: the GPU column says there is no figure. */
class BenchCommandTest {

    private static List<String> bench(String... extra) {
        List<String> args = new ArrayList<>(List.of("bench", "--model", Fixtures.model("qwen3-tiny").toString(),
                "--task", Fixtures.task("radr-intents").toString(), "--device", "cpu", "--batch-sizes", "2"));
        args.addAll(List.of(extra));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            code = Main.run(args.toArray(String[]::new));
        } finally {
            System.setOut(stdout);
        }
        String said = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, said);
        return said.lines().toList();
    }

    /** The row under the header that ends in "GPU MB". */
    private static String rowUnderGpuHeader(List<String> lines) {
        for (int i = 0; i + 1 < lines.size(); i++) {
            if (lines.get(i).strip().endsWith("GPU MB")) {
                return lines.get(i + 1);
            }
        }
        throw new AssertionError("no GPU MB column in\n" + String.join("\n", lines));
    }

    @Test
    void inferenceOnACpuShowsADashForGpuMemory() {
        String row = rowUnderGpuHeader(bench("--iterations", "1", "--prefix-cache", "on"));
        assertTrue(row.startsWith("on ") && row.endsWith(" -"), row);
        assertTrue(!row.contains("-1"), row);
    }

    @Test
    void trainingStepsOnACpuShowADashForGpuMemory() {
        String row = rowUnderGpuHeader(bench("--train", "--steps", "1"));
        assertTrue(row.strip().startsWith("2 ") && row.endsWith(" -"), row);
        assertTrue(!row.contains("-1"), row);
    }

    @Test
    void theJsonFileHoldsTheFiguresOfEachPrintedRow(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path json = dir.resolve("train.json");
        String[] printed = rowUnderGpuHeader(bench("--train", "--steps", "1", "--json", json.toString())).strip()
                .split(" +");
        var rows = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.toFile());
        assertEquals(1, rows.size(), rows.toString());
        assertEquals(2, rows.get(0).get("batchSize").asInt());
        assertEquals(printed[1], String.format("%.1f", rows.get(0).get("msPerStep").asDouble()), rows.toString());
        assertEquals(-1, rows.get(0).get("gpuMb").asLong(), "no GPU figure on a CPU");
    }

    @Test
    void severalTasksReportEachTaskBesideOneTaskAlone() {
        List<String> lines = bench("--tasks", "3", "--mix", "60,20,20", "--messages", "40", "--repeats", "1");
        String said = String.join("\n", lines);
        for (String row : List.of("1 task, merged ", "1 task, merged, full prompts", "3 tasks, unmerged",
                "  radr-intents-1 ", "  emotion-2 ", "  radr-intents-letters-3 ")) {
            assertTrue(lines.stream().anyMatch(l -> l.startsWith(row)), row + " in\n" + said);
        }
        assertTrue(said.contains("aggregate of 3 tasks: "), said);
        assertTrue(said.contains("one resident adapter (rank 16, seven projections, float32): "), said);
    }

    @Test
    void residentAdaptersOnACpuReportTheirComputedBytesAndNoGpuFigure() {
        List<String> lines = bench("--resident-adapters", "3");
        String said = String.join("\n", lines);
        assertTrue(said.contains("3 adapters (rank 16, seven projections, unmerged), one task each:"), said);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("  computed: ")), said);
        assertTrue(!said.contains("GPU memory"), said);
    }

    @Test
    void severalTasksThroughKafkaRefuseAMixThatDoesNotFitBeforeStartingAnything() {
        String[] args = {"bench", "--model", Fixtures.model("qwen3-tiny").toString(), "--device", "cpu", "--kafka",
            "--tasks", "3", "--mix", "60,40"};
        long started = System.nanoTime();
        assertTrue(Main.run(args) != 0, "two shares for three tasks");
        assertTrue(Main.run(new String[] {"bench", "--model", Fixtures.model("qwen3-tiny").toString(), "--device", "cpu",
            "--kafka", "--tasks", "0"}) != 0, "no task");
        assertTrue(System.nanoTime() - started < java.util.concurrent.TimeUnit.SECONDS.toNanos(60),
                "refused at once, not after starting a broker and processors");
    }

    @Test
    void probabilitiesForTheFidelityComparisonAreTheClassifiersOnTheSameIds(@org.junit.jupiter.api.io.TempDir
            java.nio.file.Path dir) throws Exception {
        java.nio.file.Path file = dir.resolve("p.jsonl");
        bench("--probabilities", file.toString(), "--texts", "20");
        List<String> lines = java.nio.file.Files.readAllLines(file);
        assertEquals(20, lines.size());
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        List<String> texts = FidelityProbabilities.texts(20, 23);
        assertEquals(20, texts.stream().distinct().count(), "distinct texts");
        try (var model = io.slmclassifier.classify.LanguageModel.load(Fixtures.model("qwen3-tiny"), ai.djl.Device.cpu(), null);
                var classifier = new io.slmclassifier.classify.Classifier(model,
                        io.slmclassifier.classify.Task.load(Fixtures.task("radr-intents")),
                        io.slmclassifier.classify.Classifier.Options.defaults())) {
            for (int i = 0; i < lines.size(); i++) {
                var line = json.readTree(lines.get(i));
                assertEquals(texts.get(i), line.get("text").asText());
                assertEquals(classifier.prompt().render(texts.get(i)), line.get("rendered").asText());
                int[] ids = classifier.prompt().encode(texts.get(i)).tokens();
                assertEquals(ids.length, line.get("ids").size());
                for (int t = 0; t < ids.length; t++) {
                    assertEquals(ids[t], line.get("ids").get(t).asInt());
                }
                assertTrue(line.get("prefix_cached").asBoolean());
                double[] expected = classifier.classify(List.of(texts.get(i))).get(0).probabilities();
                assertEquals(expected.length, line.get("probabilities").size());
                assertEquals(expected.length, line.get("class_token_ids").size());
                for (int c = 0; c < expected.length; c++) {
                    assertEquals(expected[c], line.get("probabilities").get(c).asDouble(), 1e-6);
                }
            }
        }
    }

    @Test
    void theGpuCellIsTheFigureOrADash() {
        assertEquals("-", BenchCommand.gpuColumn(-1));
        assertEquals("0", BenchCommand.gpuColumn(0));
        assertEquals("1834", BenchCommand.gpuColumn(1834));
    }
}
