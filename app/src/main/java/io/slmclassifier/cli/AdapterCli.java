package io.slmclassifier.cli;

import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.classify.TaskCatalog;
import io.slmclassifier.config.ConfigDefinitions;
import io.slmclassifier.config.ConfigDefinitions.Type;
import io.slmclassifier.config.ConfigDefinitions.Validator;
import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.ops.ServiceKeys;
import io.slmclassifier.kafka.KafkaReachability;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.kafka.registry.SchemaRegistryException;
import io.slmclassifier.ops.ConfigOptions;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import io.slmclassifier.rollout.ControlSignature;
import io.slmclassifier.rollout.ControlState;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.train.TrainerConfig;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Lists adapter versions and sends rollout commands on the control topic of one task's lineage. Which topic:
 * <ul>
 *   <li>{@code --task X} with a configuration declaring several tasks ({@code tasks}, {@code tasks.dir}): X's control
 *       topic as X's view of that configuration says ({@code X.control}, or {@code task.X.control.topic});</li>
 *   <li>{@code --task X} without: {@code X.control};</li>
 *   <li>no {@code --task}: {@code control.topic} ({@code intents.control}), the single task's, as always; a
 *       configuration declaring several tasks then needs {@code --task}.</li>
 * </ul>
 * {@code --control-topic} names the topic outright. With {@code --task} the commands sent name the task, and the
 * listing refuses (and lists as not applied) records of another task.
 */
@Command(name = "adapter", mixinStandardHelpOptions = true,
        description = "List adapter versions with their metrics, or send rollback, pin, unpin, resume or train.")
public final class AdapterCli implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    LogOptions logging;


    /** The settings this command reads; a processor's or trainer's file works as it is (their other keys are left alone). */
    static final ConfigDefinitions DEFINITIONS = new ConfigDefinitions()
        .define(ServiceKeys.BOOTSTRAP_SERVERS)
        .define("startup.timeout.ms", Type.INT, "30000", Validator.atLeast(1), ServiceKeys.KAFKA, "how long to wait for a bootstrap server to answer before giving up with one line")
        .define("schema.registry.url", Type.STRING, "", ServiceKeys.KAFKA, "schema registry")
        .define(ServiceKeys.REGISTRY_USER_INFO)
        .define(ServiceKeys.REGISTRY_BEARER_TOKEN)
        .define("control.topic", Type.STRING, "intents.control", "adapters and rollout", "adapter events and commands")
        .define("control.signing.key", Type.STRING, "", ServiceKeys.SIGNING, "HMAC-SHA256 key of the control topic, when the processors check signatures")
        .define("tasks", Type.LIST, "", ServiceKeys.MODEL, "several tasks: their task files (a processor's or trainer's configuration), for --task")
        .define("tasks.dir", Type.STRING, "", ServiceKeys.MODEL, "several tasks: a directory of task files, for --task")
        .alsoAccepting(ProcessorConfig.DEFINITIONS, TrainerConfig.DEFINITIONS);

    @Parameters(index = "0", description = "list, rollback, pin, unpin, resume (serve new versions again after a "
            + "rollback) or train")
    String action;

    @Parameters(index = "1", arity = "0..1", description = "The version (pin; rollback to it, 0 = the base model).")
    Long version;

    @Mixin
    ConfigOptions config;

    @Option(names = "--by", defaultValue = "${sys:user.name}", description = "Who asks (default: the user name).")
    String requestedBy;

    @Option(names = "--task", description = "The task whose adapter lineage this is: its control topic (from the "
            + "configuration's tasks, else <task>.control), and the task the commands name.")
    String task;

    @Option(names = "--control-topic", description = "The control topic, whatever the configuration or --task say.")
    String controlTopic;

    /** The lineage a command is for: its control topic, the task it belongs to (null: the single task), its key. */
    record Lineage(String controlTopic, String task, String signingKey) {}

    @Override
    public Integer call() throws Exception {
        ServiceConfig settings = ServiceConfig.load(DEFINITIONS, config.file(), System.getenv(), config.overrides());
        // The broker first, with no Kafka client yet: one would retry for its whole timeout, warning on every try.
        KafkaReachability.await(settings.get("bootstrap.servers"), Duration.ofMillis(settings.getInt("startup.timeout.ms")));
        requireReachable(settings);
        Lineage lineage = lineage(settings, task, controlTopic);
        SchemaRegistryClient registry = SchemaRegistryClient.fromConfig(settings.registryClient());
        try (ControlLog control = new ControlLog(settings.kafkaClient(), lineage.controlTopic(),
                new ControlRecords(registry), ControlSignature.of(lineage.signingKey()), lineage.task())) {
            control.catchUp(Duration.ofSeconds(30));
            if (action.equals("list")) {
                print(control.state(), System.out);
                printIgnored(control, System.out);
                return 0;
            }
            AdapterCommandType type = switch (action) {
                case "rollback" -> AdapterCommandType.ROLLBACK;
                case "pin" -> AdapterCommandType.PIN;
                // Resume is an UNPIN: it clears a pin and a rollback's hold alike, so the schema needs no new command.
                case "unpin", "resume" -> AdapterCommandType.UNPIN;
                case "train" -> AdapterCommandType.TRAIN;
                default -> throw new IllegalArgumentException("unknown action '" + action
                        + "': list, rollback, pin, unpin, resume or train");
            };
            if (type == AdapterCommandType.ROLLBACK) {
                Optional<String> nothing = nothingToRollBack(control.state(), version, "adapter list");
                if (nothing.isPresent()) {
                    throw new IllegalArgumentException(nothing.get());
                }
            }
            control.command(type, version, requestedBy);
            System.out.printf("sent %s%s%s to %s%s%n", type, version == null ? "" : " " + version,
                    lineage.task() == null ? "" : " for task " + lineage.task(), control.topic(),
                    type == AdapterCommandType.ROLLBACK
                            ? "; new versions wait until 'adapter resume' or 'adapter pin V'" : "");
            return 0;
        }
    }

    /**
     * The lineage {@code task} and {@code controlTopic} (each null when not given) choose in {@code settings}; the
     * rules are in the class comment. Refuses a task the configuration does not declare, and a configuration of
     * several tasks without {@code --task}, naming the tasks it declares.
     */
    static Lineage lineage(ServiceConfig settings, String task, String controlTopic) throws java.io.IOException {
        if (!TaskCatalog.severalTasks(settings)) {
            String topic = controlTopic != null ? controlTopic : task != null ? task + ".control" : settings.get("control.topic");
            return new Lineage(topic, task, settings.get("control.signing.key"));
        }
        List<TaskCatalog.Entry> declared = TaskCatalog.load(settings);
        List<String> names = declared.stream().map(TaskCatalog.Entry::name).toList();
        if (task == null) {
            throw new IllegalArgumentException("the configuration declares several tasks (" + String.join(", ", names)
                    + "), each with its own control topic: name one with --task");
        }
        TaskCatalog.Entry entry = declared.stream().filter(e -> e.name().equals(task)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no task '" + task + "' in the configuration; it declares "
                        + String.join(", ", names)));
        Map<String, String> view = TaskCatalog.view(settings, entry, TrainerConfig.TASK_DEFAULTS);
        return new Lineage(controlTopic != null ? controlTopic : view.get("control.topic"), task,
                view.getOrDefault("control.signing.key", ""));
    }

    /**
     * Every control record names its schema by an id the registry resolves: without the registry each one would be
     * skipped as unreadable, and the listing would show no versions and "the base model" as if that were the truth.
     */
    private static void requireReachable(ServiceConfig settings) {
        Map<String, Object> once = new java.util.HashMap<>(settings.registryClient());
        // One request, no retries: a person at a terminal wants the one line below, not a warning per retry.
        once.put(SchemaRegistryClient.MAX_RETRIES_CONFIG, 0);
        SchemaRegistryClient registry = SchemaRegistryClient.fromConfig(once);
        try {
            registry.subjects();
        } catch (SchemaRegistryException e) {
            throw new IllegalArgumentException("cannot read adapter versions: the schema registry at "
                    + registry.urls() + " did not answer (" + rootCause(e) + ")", e);
        }
    }

    private static String rootCause(Throwable e) {
        Throwable cause = e;
        while (cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    }

    static void print(ControlState state, PrintStream out) {
        String row = "%-8s %-12s %-8s %-9s %-9s %-7s %-6s %-20s %s%n";
        out.printf(row, "version", "status", "parent", "macro-F1", "serving", "ECE", "T", "created", "message");
        boolean unfitted = false;
        for (AdapterEvent e : state.events()) {
            Map<String, Double> m = e.getMetrics();
            // The trainer measures every candidate's calibration (ece); no temperature beside it means none was fitted.
            boolean noTemperature = m.containsKey("ece") && !m.containsKey("temperature");
            unfitted |= noTemperature;
            out.printf(row, e.getVersion(), state.status(e.getVersion()).name().toLowerCase().replace('_', ' '),
                    e.getParentVersion() == null ? "-" : e.getParentVersion(), figure(m.get("macro_f1"), "%.4f"),
                    figure(m.get("serving_macro_f1"), "%.4f"),
                    // ECE as served: after the version's temperature when it has one.
                    figure(m.getOrDefault("ece_calibrated", m.get("ece")), "%.4f"),
                    noTemperature ? "none" : figure(m.get("temperature"), "%.2f"),
                    e.getCreatedAt().toString().substring(0, 19), e.getMessage() == null ? "" : e.getMessage());
            state.errors(e.getVersion()).forEach((instance, reason) -> out.printf("%8s error on %s: %s%n", "", instance, reason));
        }
        if (unfitted) {
            out.printf("%nT none: no calibration temperature could be fitted on the version's validation split "
                    + "(its logits do not tell the labels apart); it serves its probabilities uncalibrated%n");
        }
        out.printf("%nserving: %s%s%n", state.serving().isPresent() ? "version " + state.serving().getAsLong() : "the base model",
                state.pinned().isPresent() ? " (pinned)" : "");
        state.describeHold().ifPresent(hold -> out.printf(
                "%s ('adapter resume' serves the newest, 'adapter pin V' one of them)%n", hold));
    }

    /**
     * Why a rollback to {@code version} (null: the previous version) would change nothing, so nothing is sent: a
     * command that is applied and ignored would say "sent" and leave the operator thinking something was undone.
     * Empty when it would roll something back. {@code listCommand} is what lists the versions where it is asked.
     */
    static Optional<String> nothingToRollBack(ControlState state, Long version, String listCommand) {
        OptionalLong serving = state.serving();
        if (serving.isEmpty() && (version == null || version == 0)) {
            return Optional.of("nothing to roll back: the base model is serving, no adapter version is; nothing sent");
        }
        if (version != null && version != 0 && state.event(version).isEmpty()) {
            return Optional.of("there is no adapter version " + version + " (" + listCommand + " lists them); nothing sent");
        }
        if (version != null && serving.isPresent() && serving.getAsLong() == version) {
            return Optional.of("version " + version + " is already serving; nothing sent");
        }
        return Optional.empty();
    }

    /**
     * Where the topic disagrees with what was applied: tombstones, records without a valid signature, copies of
     * earlier records. None of them changed the listing above; a tombstone or unsigned record for a key with
     * applied records is how a writer without the key tries to erase them (compaction deletes the genuine one,
     * and the trainer writes it again).
     */
    static void printIgnored(ControlLog control, PrintStream out) {
        List<ControlLog.Ignored> ignored = control.ignored();
        if (ignored.isEmpty()) {
            return;
        }
        out.printf("%nwarning: %d record(s) on %s were not applied (the listing above is what was signed and applied):%n",
                control.ignoredTotal(), control.topic());
        for (ControlLog.Ignored i : ignored) {
            out.printf("  %s at %s-%d@%d: %s%s%n", i.key(), control.topic(), i.partition(), i.offset(), i.reason(),
                    control.applied(i.key()) ? "; the key holds applied records" : "");
        }
        if (control.ignoredTotal() > ignored.size()) {
            out.printf("  ... and %d more%n", control.ignoredTotal() - ignored.size());
        }
    }

    private static String figure(Double value, String format) {
        return value == null ? "-" : String.format(format, value);
    }
}
