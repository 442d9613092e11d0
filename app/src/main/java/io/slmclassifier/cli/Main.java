package io.slmclassifier.cli;

import io.slmclassifier.model.ModelLoadException;
import io.slmclassifier.model.TorchRuntime;
import java.io.IOException;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar slm-classifier.jar <command>}: one artifact, one sub-command per job. */
@Command(name = "slm-classifier", mixinStandardHelpOptions = true, version = "slm-classifier 0.1.0",
        description = "Classify text with a small causal language model in one forward pass.",
        subcommands = {ClassifyCommand.class, TrainCommand.class, EvaluateCommand.class, CalibrateCommand.class, BenchCommand.class,
                ProduceCommand.class, ProcessorCommand.class, TrainerCommand.class, AdapterCli.class,
                DemoCommand.class, SoakCommand.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        LogOptions.apply(java.util.List.of(args));
        // The JDK's HTTP servers (metrics and health, the embedded registry) wait forever for a request's headers
        // unless told otherwise: a client that opens connections and sends nothing would hold their threads.
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
            System.setProperty("sun.net.httpserver.maxReqTime", "30");
        }
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit code (tests call this instead of main). */
    public static int run(String... args) {
        TorchRuntime.configureOffline();
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof ModelLoadException || e instanceof IllegalArgumentException || e instanceof IOException
                    || e instanceof UncheckedIOException) {
                commandLine.getErr().println("error: " + describe(e instanceof UncheckedIOException u ? u.getCause() : e));
                return 2;
            }
            throw e;
        });
        return cli.execute(args);
    }

    /**
     * The message of an error for a person: the file-system exceptions carry only the path, so the reason is
     * added ("no such file", "directory does not exist", "permission denied").
     */
    static String describe(Throwable e) {
        if (e instanceof java.nio.file.NoSuchFileException missing) {
            java.nio.file.Path path = java.nio.file.Path.of(missing.getFile());
            java.nio.file.Path parent = path.toAbsolutePath().getParent();
            return parent != null && !java.nio.file.Files.isDirectory(parent)
                    ? "directory " + parent + " does not exist (for " + missing.getFile() + ")"
                    : "no such file: " + missing.getFile();
        }
        if (e instanceof java.nio.file.AccessDeniedException denied) {
            return "permission denied: " + denied.getFile();
        }
        if (e instanceof java.nio.file.NotDirectoryException notDir) {
            return "not a directory: " + notDir.getFile();
        }
        if (e instanceof java.nio.file.FileAlreadyExistsException exists) {
            return "already exists: " + exists.getFile();
        }
        return e.getMessage();
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }
}
