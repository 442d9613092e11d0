package io.slmclassifier.cli;

import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.stream.ProcessorService;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs the stream processor until SIGTERM (or Ctrl-C), then stops cleanly. */
@Command(name = "processor", mixinStandardHelpOptions = true,
        description = "Classify intents.in into intents.classified with Kafka Streams (exactly once).")
public final class ProcessorCommand implements Callable<Integer> {

    @Option(names = "--config", description = "Properties file (see processor/processor.properties).")
    Path config;

    @Option(names = "--set", description = "Override one setting: key=value (repeatable).")
    List<String> overrides = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        ProcessorService service = new ProcessorService(ProcessorConfig.load(config, System.getenv(),
                ServiceConfig.parseOverrides(overrides)));
        Runtime.getRuntime().addShutdownHook(new Thread(service::close, "processor-shutdown"));
        service.start();
        service.awaitStop();
        return 0;
    }
}
