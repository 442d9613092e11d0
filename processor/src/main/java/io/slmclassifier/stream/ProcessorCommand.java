package io.slmclassifier.stream;

import io.slmclassifier.ops.CommandLines;
import io.slmclassifier.ops.ConfigOptions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Runs the stream processor until SIGTERM (or Ctrl-C), then stops cleanly. */
@Command(name = "processor", mixinStandardHelpOptions = true,
        description = "Classify intents.in into intents.classified with Kafka Streams (exactly once).")
public final class ProcessorCommand implements Callable<Integer> {

    @Mixin
    ConfigOptions config;

    /**
     * The processor image's entry point ({@code java -jar slm-classifier-processor.jar --config FILE}): this
     * command alone, in a jar without the other commands, the local broker or the benchmarks. The word
     * {@code processor} may come first, so the images, Compose and Kubernetes run either jar with the same arguments.
     */
    public static void main(String[] args) {
        CommandLines.serviceMain(new ProcessorCommand(), "processor", args);
    }

    @Override
    public Integer call() throws Exception {
        ProcessorService service = new ProcessorService(
                ProcessorConfig.load(config.file(), System.getenv(), config.overrides()));
        Runtime.getRuntime().addShutdownHook(new Thread(service::close, "processor-shutdown"));
        service.start();
        service.awaitStop();
        return 0;
    }
}
