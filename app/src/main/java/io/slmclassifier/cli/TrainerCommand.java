package io.slmclassifier.cli;

import io.slmclassifier.train.TrainerConfig;
import io.slmclassifier.train.TrainerService;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Runs the trainer service until SIGTERM (or Ctrl-C). */
@Command(name = "trainer", mixinStandardHelpOptions = true,
        description = "Learn from labeled feedback and publish better adapters on the control topic.")
public final class TrainerCommand implements Callable<Integer> {

    @Mixin
    ConfigOptions config;

    @Override
    public Integer call() throws Exception {
        TrainerService service = new TrainerService(TrainerConfig.load(config.file, System.getenv(), config.overrides()));
        Runtime.getRuntime().addShutdownHook(new Thread(service::close, "trainer-shutdown"));
        service.start();
        service.awaitStop();
        return 0;
    }
}
