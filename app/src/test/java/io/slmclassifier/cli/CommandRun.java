package io.slmclassifier.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * One run of the command line in this JVM, as {@code java -jar slm-classifier.jar ARGS} would run it: its exit code
 * and what it printed on stdout and stderr.
 */
public record CommandRun(int code, String out, String err) {

    public static CommandRun of(List<String> args) {
        return of(args.toArray(String[]::new));
    }

    public static CommandRun of(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        PrintStream stderr = System.err;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new CommandRun(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(stdout);
            System.setErr(stderr);
        }
    }

    /** Standard output, line by line. */
    public List<String> outLines() {
        return out.lines().toList();
    }

    /**
     * What the command said on stderr, line by line, less the Kafka clients' own log lines ("12:00:00.000 [thread]
     * WARN ..."), which are the libraries' and not the command's.
     */
    public List<String> said() {
        return err.lines().filter(l -> !l.matches("\\d\\d:\\d\\d:\\d\\d\\.\\d+ \\[.*")).toList();
    }
}
