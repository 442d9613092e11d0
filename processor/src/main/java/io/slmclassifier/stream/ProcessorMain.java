package io.slmclassifier.stream;

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
 * The processor image's entry point, {@code java -jar slm-classifier-processor.jar --config FILE}: what
 * {@code slm-classifier processor} runs, in a jar without the other commands, the local broker or the benchmarks.
 * It takes the command line of {@code slm-classifier processor}, with or without the word {@code processor} first, so
 * the images' command, Compose and Kubernetes run either jar with the same arguments.
 */
@Command(name = "processor", mixinStandardHelpOptions = true,
        description = "Classify intents.in into intents.classified with Kafka Streams (exactly once).")
public final class ProcessorMain implements Callable<Integer> {

    @Option(names = "--config", description = "Properties file (see processor/processor.properties).")
    Path file;

    @Option(names = "--set", description = "Override one setting: key=value (repeatable). Every key can also come from "
            + "the environment (SLM_ + the key upper-cased, dots as underscores) or from a file named by <key>.file.")
    List<String> overrides = new ArrayList<>();

    public static void main(String[] args) {
        // The JDK's HTTP server (metrics and health) waits forever for a request's headers unless told otherwise.
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
            System.setProperty("sun.net.httpserver.maxReqTime", "30");
        }
        TorchRuntime.configureOffline();
        CommandLine cli = new CommandLine(new ProcessorMain());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof ModelLoadException || e instanceof IllegalArgumentException || e instanceof IOException
                    || e instanceof UncheckedIOException) {
                Throwable cause = e instanceof UncheckedIOException u ? u.getCause() : e;
                commandLine.getErr().println("error: " + cause.getMessage());
                return 2;
            }
            throw e;
        });
        boolean named = args.length > 0 && args[0].equals("processor");
        System.exit(cli.execute(named ? Arrays.copyOfRange(args, 1, args.length) : args));
    }

    @Override
    public Integer call() throws Exception {
        ProcessorService service = new ProcessorService(
                ProcessorConfig.load(file, System.getenv(), ServiceConfig.parseOverrides(overrides)));
        Runtime.getRuntime().addShutdownHook(new Thread(service::close, "processor-shutdown"));
        service.start();
        service.awaitStop();
        return 0;
    }
}
