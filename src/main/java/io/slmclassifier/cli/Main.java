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
        subcommands = {ClassifyCommand.class, TrainCommand.class, EvaluateCommand.class, BenchCommand.class,
                ProduceCommand.class, ProcessorCommand.class, TrainerCommand.class, AdapterCli.class,
                DemoCommand.class, SoakCommand.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        // The JDK's HTTP servers (console, metrics, registry) wait forever for a request's headers unless told
        // otherwise: a client that opens connections and sends nothing would hold their threads.
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
                commandLine.getErr().println("error: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cli.execute(args);
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }
}
