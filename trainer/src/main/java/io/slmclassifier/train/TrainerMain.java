package io.slmclassifier.train;

import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.model.ModelLoadException;
import io.slmclassifier.model.TorchRuntime;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The trainer image's entry point, {@code java -jar slm-classifier-trainer.jar --config FILE}: what
 * {@code slm-classifier trainer} runs, in a jar without the other commands, the local broker or the benchmarks.
 * It takes the command line of {@code slm-classifier trainer}, with or without the word {@code trainer} first, so
 * the images' command, Compose and Kubernetes run either jar with the same arguments.
 */
@Command(name = "trainer", mixinStandardHelpOptions = true,
        description = "Learn from labeled feedback and publish better adapters on the control topic.")
public final class TrainerMain implements Callable<Integer> {

    @Option(names = "--config", description = "Properties file (see trainer/trainer.properties).")
    Path file;

    @Option(names = "--set", description = "Override one setting: key=value (repeatable). Every key can also come from "
            + "the environment (SLM_ + the key upper-cased, dots as underscores) or from a file named by <key>.file.")
    List<String> overrides = new ArrayList<>();

    public static void main(String[] args) {
        // The JDK's HTTP servers (metrics) wait forever for a request's headers unless told otherwise.
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
            System.setProperty("sun.net.httpserver.maxReqTime", "30");
        }
        TorchRuntime.configureOffline();
        CommandLine cli = new CommandLine(new TrainerMain());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof ModelLoadException || e instanceof IllegalArgumentException || e instanceof IOException
                    || e instanceof UncheckedIOException) {
                Throwable cause = e instanceof UncheckedIOException u ? u.getCause() : e;
                commandLine.getErr().println("error: " + cause.getMessage());
                return 2;
            }
            throw e;
        });
        boolean named = args.length > 0 && args[0].equals("trainer");
        System.exit(cli.execute(named ? Arrays.copyOfRange(args, 1, args.length) : args));
    }

    @Override
    public Integer call() throws Exception {
        TrainerService service = new TrainerService(
                TrainerConfig.load(file, System.getenv(), ServiceConfig.parseOverrides(overrides)));
        Runtime.getRuntime().addShutdownHook(new Thread(service::close, "trainer-shutdown"));
        service.start();
        service.awaitStop();
        return 0;
    }
}
