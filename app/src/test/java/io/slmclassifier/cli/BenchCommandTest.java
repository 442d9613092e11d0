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
    void theGpuCellIsTheFigureOrADash() {
        assertEquals("-", BenchCommand.gpuColumn(-1));
        assertEquals("0", BenchCommand.gpuColumn(0));
        assertEquals("1834", BenchCommand.gpuColumn(1834));
    }
}
