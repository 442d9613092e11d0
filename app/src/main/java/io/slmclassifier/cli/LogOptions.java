package io.slmclassifier.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Option;

/**
 * How much of the libraries' logging an interactive command shows. A person at a terminal wants the command's
 * own output and the warnings that matter, not the Kafka clients' configuration dumps and start-up notes: those
 * commands log at WARN to the terminal unless {@code --verbose}, or everything at INFO into {@code --log-file}.
 * Services ({@code processor}, {@code trainer}) keep INFO.
 *
 * <p>The logger reads its settings once, when the first logger is made, which is before picocli has parsed the
 * command line: so {@link #apply} looks at the raw arguments, and the options here exist for {@code --help} and
 * so that picocli accepts them.
 */
final class LogOptions {
    static final Set<String> INTERACTIVE = Set.of("demo", "classify", "train", "evaluate", "adapter", "produce", "consume", "bench",
            "soak", "calibrate");

    @Option(names = "--verbose", description = "Show the libraries' INFO logs on the terminal too.")
    boolean verbose;

    @Option(names = "--log-file", description = "Write all logs, INFO and up, to this file instead of the terminal.")
    Path logFile;

    /** Sets the logger up for the command these arguments name; call before anything logs. */
    static void apply(List<String> args) {
        if (args.isEmpty() || !INTERACTIVE.contains(args.get(0)) || args.contains("--verbose")) {
            return;
        }
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            String file = a.startsWith("--log-file=") ? a.substring("--log-file=".length())
                    : a.equals("--log-file") && i + 1 < args.size() ? args.get(i + 1) : null;
            if (file != null) {
                System.setProperty("org.slf4j.simpleLogger.logFile", file);
                return;
            }
        }
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
}
