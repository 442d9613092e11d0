package io.slmclassifier.cli;

import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.train.TrainerConfig;
import io.slmclassifier.train.TrainerService;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs the trainer service until SIGTERM (or Ctrl-C). */
@Command(name = "trainer", mixinStandardHelpOptions = true,
        description = "Learn from labeled feedback and publish better adapters on the control topic.")
public final class TrainerCommand implements Callable<Integer> {

    @Option(names = "--config", description = "Properties file (see trainer/trainer.properties).")
    Path config;

    @Option(names = "--set", description = "Override one setting: key=value (repeatable).")
    List<String> overrides = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        TrainerService service = new TrainerService(TrainerConfig.load(config, System.getenv(),
                ServiceConfig.parseOverrides(overrides)));
        Runtime.getRuntime().addShutdownHook(new Thread(service::close, "trainer-shutdown"));
        service.start();
        service.awaitStop();
        return 0;
    }
}
