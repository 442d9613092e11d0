package io.slmclassifier.cli;

import io.slmclassifier.ops.CommandLines;
import io.slmclassifier.stream.ProcessorCommand;
import io.slmclassifier.train.TrainerCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar slm-classifier.jar <command>}: one artifact, one sub-command per job. */
@Command(name = "slm-classifier", mixinStandardHelpOptions = true, version = "slm-classifier 0.1.0",
        description = "Classify text with a small causal language model in one forward pass.",
        subcommands = {ClassifyCommand.class, TrainCommand.class, EvaluateCommand.class, CalibrateCommand.class, BenchCommand.class,
                ProduceCommand.class, ConsumeCommand.class, ProcessorCommand.class, TrainerCommand.class, AdapterCli.class,
                DemoCommand.class, SoakCommand.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        LogOptions.apply(java.util.List.of(args));
        CommandLines.guardHttpServers();
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit code (tests call this instead of main). */
    public static int run(String... args) {
        return CommandLines.execute(new Main(), args);
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }
}
