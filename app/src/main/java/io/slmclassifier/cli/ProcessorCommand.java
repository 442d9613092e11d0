package io.slmclassifier.cli;

import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.stream.ProcessorService;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Runs the stream processor until SIGTERM (or Ctrl-C), then stops cleanly. */
@Command(name = "processor", mixinStandardHelpOptions = true,
        description = "Classify intents.in into intents.classified with Kafka Streams (exactly once).")
public final class ProcessorCommand implements Callable<Integer> {

    @Mixin
    ConfigOptions config;

    @Override
    public Integer call() throws Exception {
        ProcessorService service = new ProcessorService(ProcessorConfig.load(config.file, System.getenv(), config.overrides()));
        Runtime.getRuntime().addShutdownHook(new Thread(service::close, "processor-shutdown"));
        service.start();
        service.awaitStop();
        return 0;
    }
}
