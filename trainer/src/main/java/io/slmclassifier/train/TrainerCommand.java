package io.slmclassifier.train;

import io.slmclassifier.ops.CommandLines;
import io.slmclassifier.ops.ConfigOptions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Runs the trainer service until SIGTERM (or Ctrl-C). */
@Command(name = "trainer", mixinStandardHelpOptions = true,
        description = "Learn from labeled feedback and publish better adapters on the control topic.")
public final class TrainerCommand implements Callable<Integer> {

    @Mixin
    ConfigOptions config;

    /**
     * The trainer image's entry point ({@code java -jar slm-classifier-trainer.jar --config FILE}): this
     * command alone, in a jar without the other commands, the local broker or the benchmarks. The word
     * {@code trainer} may come first, so the images, Compose and Kubernetes run either jar with the same arguments.
     */
    public static void main(String[] args) {
        CommandLines.serviceMain(new TrainerCommand(), "trainer", args);
    }

    @Override
    public Integer call() throws Exception {
        TrainerService service = new TrainerService(TrainerConfig.load(config.file(), System.getenv(), config.overrides()));
        Runtime.getRuntime().addShutdownHook(new Thread(service::close, "trainer-shutdown"));
        service.start();
        service.awaitStop();
        return 0;
    }
}
