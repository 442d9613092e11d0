package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.Fixtures;
import io.slmclassifier.quality.Calibration;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code train} then {@code evaluate} as a user runs them: evaluate reproduces what train reported. */
class TrainCommandTest {
    static final List<String> LABELS = List.of("red", "blue", "green");
    static final List<String> WORDS = List.of("the", "cat", "table", "runs", "over", "a", "small", "house", "river", "old");

    static void writeData(Path file, int count, long seed, boolean csv) throws Exception {
        Random random = new Random(seed);
        List<String> lines = new ArrayList<>();
        if (csv) {
            lines.add("text,label");
        }
        for (int i = 0; i < count; i++) {
            int label = random.nextInt(3);
            List<String> words = new ArrayList<>();
            for (int w = 0; w < 5; w++) {
                words.add(WORDS.get(random.nextInt(WORDS.size())));
            }
            words.add(random.nextInt(6), LABELS.get(label));
            String text = String.join(" ", words);
            // Labels by name and by index are both accepted.
            lines.add(csv ? text + "," + LABELS.get(label)
                    : "{\"text\": \"" + text + "\", \"label\": " + (i % 2 == 0 ? "\"" + LABELS.get(label) + "\"" : label) + "}");
        }
        Files.write(file, lines, StandardCharsets.UTF_8);
    }

    @Test
    void progressIsRedrawnOnATerminalAndPlainLinesElsewhere() {
        ByteArrayOutputStream terminal = new ByteArrayOutputStream();
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        for (ByteArrayOutputStream target : List.of(terminal, log)) {
            TrainCommand.ProgressBar bar = new TrainCommand.ProgressBar(new PrintStream(target, true,
                    StandardCharsets.UTF_8), target == terminal);
            for (int step = 1; step <= 40; step++) {
                bar.step(step, 40, 1.0 / step, 100);
            }
            bar.finish();
        }
        String drawn = terminal.toString(StandardCharsets.UTF_8);
        assertEquals(40, drawn.chars().filter(c -> c == '\r').count());
        assertTrue(drawn.endsWith("step 40/40  loss 0.0250  100.0 ex/s  ETA 0m00s \n"), drawn);

        List<String> lines = log.toString(StandardCharsets.UTF_8).lines().toList();
        // The first step (it has started), then each tenth of the run: steps 1, 4, 8, ..., 40.
        assertEquals(11, lines.size(), String.join("\n", lines));
        assertTrue(lines.stream().allMatch(l -> l.startsWith("step ") && !l.contains("\r") && !l.contains("#")), lines.toString());
        assertTrue(lines.get(0).startsWith("step 1/40  loss 1.0000"), lines.get(0));
        assertTrue(lines.get(1).startsWith("step 4/40  loss 0.2500"), lines.get(1));
        assertTrue(lines.get(10).startsWith("step 40/40  loss 0.0250"), lines.get(10));
    }

    @Test
    void trainThenEvaluateAgree(@TempDir Path dir) throws Exception {
        Path task = dir.resolve("task.yaml");
        Files.writeString(task, "name: keyword\nlabels: [red, blue, green]\n"
                + "prompt: \"Which colour is named in: {text}\\nColour:\"\nchat_template: false\n");
        Path train = dir.resolve("train.jsonl");
        writeData(train, 96, 1, false);
        Files.writeString(train, "{\"text\": \"\", \"label\": \"red\"}\n{\"text\": \"x\", \"label\": \"purple\"}\n"
                + Files.readString(train));
        Path validation = dir.resolve("validation.csv");
        writeData(validation, 30, 2, true);
        Path out = dir.resolve("adapter");

        PrintStream stdout = System.out;
        PrintStream stderr = System.err;
        ByteArrayOutputStream trainOut = new ByteArrayOutputStream();
        ByteArrayOutputStream trainErr = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(trainOut, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(trainErr, true, StandardCharsets.UTF_8));
            code = Main.run("train", "--model", Fixtures.model("qwen3-tiny").toString(), "--task", task.toString(),
                    "--train", train.toString(), "--validation", validation.toString(), "--output", out.toString(),
                    "--epochs", "2", "--lr", "1e-2", "--lora-r", "8", "--lora-alpha", "16", "--device", "cpu");
        } finally {
            System.setOut(stdout);
            System.setErr(stderr);
        }
        String log = trainErr.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, log);
        assertTrue(log.contains("train.jsonl:1: empty text"), log);
        assertTrue(log.contains("train.jsonl:2: unknown label \"purple\""), log);
        // Not a terminal here: progress as plain lines, the last step among them, no carriage returns in the log.
        assertTrue(log.indexOf('\r') < 0, log);
        assertTrue(log.lines().anyMatch(l -> l.matches("step (\\d+)/\\1  loss .*")), log);
        assertTrue(trainOut.toString(StandardCharsets.UTF_8).contains("best step"));
        assertTrue(Files.exists(out.resolve("adapter_config.json")) && Files.exists(out.resolve("adapter_model.safetensors")));

        Path metrics = dir.resolve("metrics.json");
        assertEquals(0, Main.run("evaluate", "--model", Fixtures.model("qwen3-tiny").toString(), "--task", task.toString(),
                "--adapter", out.toString(), "--data", validation.toString(), "--json", metrics.toString(), "--device", "cpu",
                "--plot", dir.resolve("plots").toString()));
        for (String chart : new String[] {"reliability", "coverage", "confusion"}) {
            byte[] png = Files.readAllBytes(dir.resolve("plots").resolve(chart + ".png"));
            assertTrue(png.length > 10_000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', chart + ".png: " + png.length);
            String svg = Files.readString(dir.resolve("plots").resolve(chart + ".svg"));
            assertTrue(svg.startsWith("<?xml") && svg.contains("<svg"), chart + ".svg");
            if (chart.equals("confusion")) {
                // Vertical axis names are drawn as outlines in SVG; the horizontal ones are text to find.
                assertTrue(svg.contains("Confusion matrix") && svg.contains("predicted label")
                        && LABELS.stream().allMatch(l -> svg.contains(">" + l + "<")), "confusion.svg has its title, axis and labels");
                continue;
            }
            assertTrue(svg.contains(chart.equals("reliability") ? "confidence (mean per bin of 1/15; the numbers: examples in the bin)" : "coverage (fraction kept)")
                    && svg.contains("T = 1 (before calibration)") && svg.contains("(fitted)"), chart + ".svg has its axis and legend");
        }
        JsonNode reported = new ObjectMapper().readTree(out.resolve("training_metrics.json").toFile()).get("validation");
        JsonNode evaluated = new ObjectMapper().readTree(metrics.toFile());
        assertEquals(reported.get("macro_f1").asDouble(), evaluated.get("macro_f1").asDouble(), 1e-12);
        assertEquals(reported.get("confusion"), evaluated.get("confusion"));
        assertTrue(evaluated.get("macro_f1").asDouble() > 0.5, "learned something: " + evaluated);
        JsonNode calibration = evaluated.get("calibration");
        double ece = calibration.get("ece").asDouble();
        assertTrue(ece >= 0 && ece <= 1, "ECE " + calibration);
        assertTrue(calibration.get("brier").asDouble() >= 0 && calibration.get("brier").asDouble() <= 2, "Brier " + calibration);
        assertEquals(Calibration.THRESHOLDS.length, calibration.get("selective").size(), calibration.toString());
        // The fitted temperature minimises the NLL on these examples, so it can only lower it.
        JsonNode scaled = calibration.get("temperature_scaling");
        assertTrue(scaled.get("nll").asDouble() <= calibration.get("nll").asDouble(), calibration.toString());

        // The adapter's calibration temperature on the validation examples: a setting for the processor, or a
        // plain statement that these examples cannot calibrate it (a fit at its bound), never a meaningless number.
        Path calibrationFile = dir.resolve("calibration.json");
        ByteArrayOutputStream calibrated = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(calibrated, true, StandardCharsets.UTF_8));
            code = Main.run("calibrate", "--model", Fixtures.model("qwen3-tiny").toString(), "--task", task.toString(),
                    "--adapter", out.toString(), "--data", validation.toString(), "--output", calibrationFile.toString(),
                    "--device", "cpu");
        } finally {
            System.setOut(stdout);
        }
        String said = calibrated.toString(StandardCharsets.UTF_8);
        JsonNode fitted = new ObjectMapper().readTree(calibrationFile.toFile());
        assertTrue(said.startsWith(fitted.get("examples").asInt() + " examples: ECE "), said);
        if (code == 0) {
            assertTrue(said.contains(String.format("calibration.temperature=%.6f", fitted.get("temperature").asDouble())), said);
        } else {
            assertEquals(1, code, said);
            assertTrue(said.contains("The fit ended at its bound"), said);
        }
        assertTrue(fitted.get("after").get("nll").asDouble() <= fitted.get("before").get("nll").asDouble() + 1e-12);

        // A second run into the same directory would replace a good adapter: refused before anything runs.
        byte[] kept = Files.readAllBytes(out.resolve("adapter_model.safetensors"));
        ByteArrayOutputStream refusal = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(refusal, true, StandardCharsets.UTF_8));
            code = Main.run("train", "--model", Fixtures.model("qwen3-tiny").toString(), "--task", task.toString(),
                    "--train", train.toString(), "--validation", validation.toString(), "--output", out.toString(),
                    "--epochs", "1", "--device", "cpu");
        } finally {
            System.setErr(stderr);
        }
        assertEquals(2, code);
        assertEquals("error: --output " + out + " already holds an adapter (adapter_config.json); choose another "
                + "directory, or pass --overwrite to replace it", refusal.toString(StandardCharsets.UTF_8).strip());
        assertTrue(java.util.Arrays.equals(kept, Files.readAllBytes(out.resolve("adapter_model.safetensors"))));
    }
}
