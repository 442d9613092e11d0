package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The demo as a person uses it: typed sentences come back classified through Kafka, corrections go to feedback. */
class DemoCommandIT {

    /** Runs the demo with this standard input; returns its exit code and everything it printed. */
    private static String run(InputStream in, ByteArrayOutputStream captured, String... args) {
        InputStream stdin = System.in;
        PrintStream stdout = System.out;
        try {
            System.setIn(in);
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return code + "\n" + captured.toString(StandardCharsets.UTF_8);
        } finally {
            System.setIn(stdin);
            System.setOut(stdout);
        }
    }

    @Test
    void typedSentencesComeBackClassifiedAndCorrectionsAreSent() {
        String input = "RobLW an Zugführer, kommen.\n\nIst negativ, noch nicht.\n!disconfirm\n!nope\n/pin 9\n/adapters\n/quit\n";
        String output = run(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)), new ByteArrayOutputStream(),
                "demo", "--device", "cpu");
        assertTrue(output.startsWith("0\n"), output);
        assertTrue(output.contains("bootstrap servers  127.0.0.1:"), output);
        assertTrue(output.contains("schema registry    http://127.0.0.1:"), output);
        assertTrue(output.contains("labels mean nothing"), output);
        long answers = output.lines().filter(l -> l.contains("adapter base")).count();
        assertEquals(2, answers, output);
        assertTrue(output.contains("disconfirm ") && output.contains("confirm "), output);
        assertTrue(output.contains("feedback sent: \"Ist negativ, noch nicht.\" is disconfirm"), output);
        assertTrue(output.contains("error: 'nope' is not a label of this task"), output);
        assertTrue(output.contains("error: no adapter version 9"), output);
        assertTrue(output.contains("no adapter versions yet: the base model serves"), output);
    }

    @Test
    void theSimulationShowsTheTrainerLearning() throws Exception {
        PipedOutputStream keyboard = new PipedOutputStream();
        PipedInputStream in = new PipedInputStream(keyboard);
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        CompletableFuture<String> demo = CompletableFuture.supplyAsync(() -> run(in, captured, "demo", "--device", "cpu",
                "--simulate", "--train-after", "100"));
        // An accuracy line from a trained adapter, high enough to show learning.
        Pattern learned = Pattern.compile("accuracy of the last 50 answers: (\\d\\.\\d\\d) \\(adapter [1-9]");
        long deadline = System.nanoTime() + 240_000_000_000L;
        double accuracy = -1;
        while (System.nanoTime() < deadline && accuracy < 0.9 && !demo.isDone()) {
            Thread.sleep(500);
            Matcher m = learned.matcher(captured.toString(StandardCharsets.UTF_8));
            while (m.find()) {
                accuracy = Math.max(accuracy, Double.parseDouble(m.group(1)));
            }
        }
        keyboard.write("/quit\n".getBytes(StandardCharsets.UTF_8));
        keyboard.close();
        String output = demo.get();
        assertTrue(output.startsWith("0\n"), output);
        assertTrue(output.contains("[trainer] version 1 published"), output);
        assertTrue(accuracy >= 0.9, "live accuracy after training " + accuracy + "\n" + output);
    }
}
