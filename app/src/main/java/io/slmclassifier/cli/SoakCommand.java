package io.slmclassifier.cli;

import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.devkit.SoakRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Crashes under load: processors killed with SIGKILL while a producer runs, then every id counted. */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = {"Kill processors under load and count what comes out: a local broker and registry, an input "
                + "topic of --partitions partitions, --processors processor JVMs (one application id, exactly once), "
                + "a producer at --rate, and every --kill-every seconds one processor killed with SIGKILL and "
                + "restarted at once, in turns. Then every message id is read back from intents.classified "
                + "(read_committed): lost, doubled, dead-lettered, p50/p99 latency across the kills.",
                "Exits 0 when every id came back exactly once and nothing was dead-lettered, 1 otherwise."})
public final class SoakCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    LogOptions logging;


    @Option(names = "--model", defaultValue = ModelResolver.DEMO_TINY,
            description = ModelOptions.DESCRIPTION + " Default: ${DEFAULT-VALUE}.")
    String model;

    @Option(names = "--task", defaultValue = "tasks/radr-intents.yaml", description = "Task file (default: ${DEFAULT-VALUE}).")
    Path task;

    @Option(names = "--device", defaultValue = "cpu", description = "The processors' device: cpu, gpu, gpu:N or auto, or a list taken in turns "
            + "(gpu:0,gpu:1: a GPU per processor) (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--messages", defaultValue = "100000", description = "Messages to send, each with its own id (default: ${DEFAULT-VALUE}).")
    int messages;

    @Option(names = "--rate", defaultValue = "500", description = "Messages per second the producer keeps to (default: ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--kill-every", defaultValue = "20", description = "Seconds between two kills while the producer runs "
            + "(default: ${DEFAULT-VALUE}).")
    double killEvery;

    @Option(names = "--processors", defaultValue = "2", description = "Processor JVMs (default: ${DEFAULT-VALUE}).")
    int processors;

    @Option(names = "--partitions", defaultValue = "3", description = "Partitions of the input, output and dead-letter "
            + "topics (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--drain-stall", defaultValue = "60", description = "After the last send, reading back goes on while "
            + "ids come back or the processors log (restarting, rebalancing); it stops when neither moved for this many "
            + "seconds, and the ids missing then are lost (default: ${DEFAULT-VALUE}; at most 30 minutes in all, after "
            + "which the ids missing are reported as not yet classified).")
    int drainStall;

    @Option(names = "--work-dir", description = "New or empty directory for the processors' logs (processor-N.log), "
            + "their state and the broker's data and log (default: a new temporary directory, kept).")
    Path workDir;

    @Override
    public Integer call() throws Exception {
        Path dir = workDir != null ? workDir : Files.createTempDirectory("slm-soak-");
        SoakRun.Settings settings = new SoakRun.Settings(ModelResolver.fromEnvironment().resolve(model), task, device,
                ProduceCommand.synthetic(500, 7), messages, rate, Duration.ofMillis((long) (killEvery * 1000)),
                processors, partitions, Duration.ofSeconds(drainStall), dir);
        System.out.printf("soak: %d messages at %.0f msg/s, %d processors, %d partitions, a kill every %.0f s; "
                + "logs in %s%n", messages, rate, processors, partitions, killEvery, dir.toAbsolutePath());
        SoakRun.Result r = SoakRun.run(settings);
        System.out.printf("%8s %8s %6s %12s %8s %5s %6s %10s %10s %10s %10s %10s%n", "sent", "received", "lost",
                "unclassified", "doubled", "dlq", "kills", "p50 ms", "p99 ms", "max ms", "send s", "total s");
        System.out.printf("%8d %8d %6d %12d %8d %5d %6d %10.0f %10.0f %10.0f %10.1f %10.1f%n", r.sent(), r.received(),
                r.lost(), r.unclassified(), r.doubled(), r.deadLettered(), r.kills(), r.p50Ms(), r.p99Ms(), r.maxMs(),
                r.sendSeconds(), r.seconds());
        if (r.sendFailures() > 0) {
            System.out.printf("%d sends failed (not counted as sent)%n", r.sendFailures());
        }
        System.out.println(r.exactlyOnce() ? "every id exactly once, nothing dead-lettered"
                : "NOT exactly once: see the logs in " + r.workDir().toAbsolutePath());
        return r.exactlyOnce() ? 0 : 1;
    }
}
