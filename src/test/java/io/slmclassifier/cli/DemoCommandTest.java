package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The demo as a person uses it: sentences typed at the prompt come back classified through Kafka. */
class DemoCommandTest {

    @Test
    void typedSentencesComeBackClassified() {
        InputStream stdin = System.in;
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int code;
        try {
            System.setIn(new ByteArrayInputStream("RobLW an Zugführer, kommen.\n\nIst negativ, noch nicht.\n"
                    .getBytes(StandardCharsets.UTF_8)));
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = Main.run("demo", "--device", "cpu");
        } finally {
            System.setIn(stdin);
            System.setOut(stdout);
        }
        String output = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, output);
        assertTrue(output.contains("bootstrap servers  127.0.0.1:"), output);
        assertTrue(output.contains("schema registry    http://127.0.0.1:"), output);
        assertTrue(output.contains("labels mean nothing"), output);
        long answers = output.lines().filter(l -> l.contains("adapter base")).count();
        assertEquals(2, answers, output);
        assertTrue(output.contains("disconfirm ") && output.contains("confirm "), output);
    }
}
