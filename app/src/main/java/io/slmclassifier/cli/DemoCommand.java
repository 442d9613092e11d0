package io.slmclassifier.cli;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.config.ConfigDefinitions;
import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.console.ConsoleSettings;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.devkit.LocalKafkaBroker;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.model.ModelConfig;
import io.slmclassifier.model.hub.HubException;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import io.slmclassifier.rollout.ControlSignature;
import io.slmclassifier.rollout.ControlState;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.stream.ProcessorService;
import io.slmclassifier.train.ColourTask;
import io.slmclassifier.train.TrainerConfig;
import io.slmclassifier.train.TrainerService;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Everything on one machine: a real single-node Kafka broker and the embedded schema registry on loopback, the
 * stream processor and the trainer, and a prompt where typed sentences go to {@code intents.in}, their
 * classifications come back from {@code intents.classified}, and corrections go to {@code intents.feedback}.
 * With {@code --simulate}, synthetic traffic and labels show the model learning by itself. With several tasks
 * ({@code --task A --task B}, {@code --tasks-dir}) one processor serves them all and one trainer keeps a lineage per
 * task, each on its own topics; the prompt ({@link DemoPrompt}) says which task a line goes to.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run a local broker, registry, processor and trainer, and classify sentences typed at the prompt.")
public final class DemoCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    LogOptions logging;


    static final String DEFAULT_MODEL = "Qwen/Qwen3-0.6B";

    @Option(names = "--model", description = ModelOptions.DESCRIPTION + " Default: " + DEFAULT_MODEL
            + ", or demo-tiny when it cannot be downloaded.")
    String model;

    @Option(names = "--task", paramLabel = "FILE_OR_NAME", description = "Task file, or a name: 'colours' (the "
            + "built-in task of --simulate) or that of a file in tasks/ ('emotion': tasks/emotion.yaml). Default: "
            + "tasks/radr-intents.yaml; with --simulate, colours. Repeatable: several tasks run on one processor and "
            + "one trainer, each on its own topics (<name>.in, ...) with its own adapter lineage.")
    List<String> tasks = new ArrayList<>();

    @Option(names = "--tasks-dir", paramLabel = "DIR", description = "Every .yaml, .yml and .json task file of this "
            + "directory is a task of the demo (with or instead of --task).")
    Path tasksDir;

    @Option(names = "--registry-port", defaultValue = "0", description = "Registry port (default: a free one).")
    int registryPort;

    @Option(names = "--kafka-port", defaultValue = "0", description = "Broker port (default: a free one).")
    int kafkaPort;

    @Option(names = "--data-dir", description = "Keep broker data, processor state and training runs here across restarts.")
    Path dataDir;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, gpu, gpu:N or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--train-after", description = "Train a new adapter after this many new labels (default: 20; "
            + "150 with --simulate).")
    Integer trainAfter;

    @Option(names = "--simulate", description = "Feed synthetic colour sentences and their labels, and report the "
            + "live accuracy as the trainer learns.")
    boolean simulate;

    @Option(names = "--abstain-threshold", defaultValue = "0", description = "Results whose calibrated confidence is "
            + "below this abstain: flagged, sent to intents.review too, and first in the console's review queue "
            + "(default: ${DEFAULT-VALUE}, never).")
    double abstainThreshold;

    @Option(names = "--abstain-min-label-mass", defaultValue = "0", description = "Results whose label mass (the "
            + "share of the next-token probability on the class tokens) is below this abstain too; above 0 it is "
            + "computed, which needs the whole LM head: slower (default: ${DEFAULT-VALUE}, off).")
    double abstainMinLabelMass;

    @Option(names = "--console-port", defaultValue = "0", description = "Web console port (default: a free one; -1: none).")
    int consolePort;

    @Option(names = "--console-token", defaultValue = "${env:SLM_CONSOLE_TOKEN}",
            description = "Token the web console asks for before labeling or commanding adapters (default: "
                    + "SLM_CONSOLE_TOKEN, else none: read-only). On a shared machine prefer the variable or "
                    + "--console-token-file: ps shows command lines.")
    String consoleToken;

    @Option(names = "--console-token-file", description = "Read the console token from this file.")
    Path consoleTokenFile;

    @Option(names = "--control-signing-key-file", defaultValue = "${env:SLM_CONTROL_SIGNING_KEY_FILE}",
            description = "Sign the control topic with the key in this file (32+ characters). Default: "
                    + "SLM_CONTROL_SIGNING_KEY_FILE, else the key in SLM_CONTROL_SIGNING_KEY, else " + SIGNING_KEY_FILE
                    + " in the data directory, made on the first start and kept.")
    Path controlSigningKeyFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Any processor or trainer setting "
            + "(docs/configuration.md), over the demo's own: --set calibration.temperature=0.7 (repeatable).")
    List<String> settings = new ArrayList<>();

    /** The demo's own signing key, beside its broker data: a second processor on the same data signs with it too. */
    static final String SIGNING_KEY_FILE = "control-signing.key";

    @Override
    public Integer call() throws Exception {
        consoleToken = consoleToken();
        checkBeforeAnythingStarts();
        try (DemoDataDirLock lock = dataDir == null ? null : DemoDataDirLock.acquire(dataDir)) {
            return run();
        }
    }

    /**
     * The demo from start to stop: what can fail without a broker first (the tasks, the model, the signing key), then
     * the broker and the registry, the services, and the prompt until it ends; everything is closed in the reverse
     * order, the broker last.
     */
    private Integer run() throws Exception {
        PrintStream out = System.out;
        Path work = dataDir != null ? dataDir : Files.createTempDirectory("slm-demo-");
        // A task that is not there is said before anything starts, the prompt's reader included.
        List<Path> taskFiles = taskFiles(tasks, tasksDir, simulate, work);
        CountDownLatch stopped = new CountDownLatch(1);
        DemoInput input = readInput(out);
        ModelResolver resolver = modelResolver();
        SigningKey signing = SigningKey.of(controlSigningKeyFile, System.getenv("SLM_CONTROL_SIGNING_KEY"), work);
        ControlSignature signature = ControlSignature.of(signing.key());
        Path modelDir = resolveModel(model, resolver, out);
        out.println("starting a local Kafka broker...");
        try {
            try (LocalKafkaBroker broker = startBroker();
                    EmbeddedSchemaRegistry registry = startRegistry(broker)) {
                ServiceSettings services = serviceSettings(broker, registry, modelDir, taskFiles, work, signing);
                boolean randomWeights = modelDir.equals(resolver.demoTinyDir()) || modelDir.endsWith("qwen3-tiny");
                serve(out, input, broker, registry, services, taskFiles, signing, signature, randomWeights, stopped);
            }
            // The last line: everything is closed, the broker last, so nothing of the demo's prints after it.
            out.println("stopped");
        } finally {
            stopped.countDown();
        }
        return 0;
    }

    /**
     * Runs the services and the prompt until it ends, then closes the clients and the services (the registry and the
     * broker are closed after them by the caller).
     */
    private void serve(PrintStream out, DemoInput input, LocalKafkaBroker broker, EmbeddedSchemaRegistry registry,
            ServiceSettings services, List<Path> taskFiles, SigningKey signing, ControlSignature signature,
            boolean randomWeights, CountDownLatch stopped) throws Exception {
        SchemaRegistryClient registryClient = SchemaRegistryClient.builder(registry.url()).build();
        try (ProcessorService processor = new ProcessorService(ProcessorConfig.of(services.processor()));
                TrainerService trainer = new TrainerService(TrainerConfig.of(services.trainer()));
                KafkaProducer<byte[], byte[]> producer = producer(broker);
                Clients clients = new Clients()) {
            stopOnSignal(input, stopped);
            startAndAwaitReady(processor, trainer);
            boolean several = processor.pipelines().size() > 1 || severalTasks(taskFiles);
            List<DemoPrompt.DemoTask> served = servedTasks(processor, broker, registryClient, signature, several,
                    clients);
            KafkaConsumer<byte[], byte[]> results = clients.add(consumer(broker,
                    served.stream().map(DemoPrompt.DemoTask::outputTopic).toList()));
            DemoPrompt prompt = new DemoPrompt(out, producer, results,
                    AvroSerde.forType(Classification.class, registryClient),
                    AvroSerde.forType(LabeledExample.class, registryClient), processor, trainer, served);
            Simulation simulation = simulate ? new Simulation(broker, registryClient, out, served, prompt::prompt) : null;
            Map<String, ControlState> history = followAdapterNews(out, served, several, prompt);
            printWhereEverythingIs(out, broker, registry, processor, trainer, served, several, signing);
            history.forEach((task, state) -> DemoAdapterNews.history(state)
                    .ifPresent(line -> out.println(several ? task + " " + line : line)));
            if (randomWeights) {
                out.println("\n" + RANDOM_WEIGHTS_NOTE + (simulate ? "" : " Try --simulate to watch that happen."));
            }
            if (simulation != null) {
                simulation.start();
            }
            printHowToUse(out, served, several);
            prompt.run(input);
            if (simulation != null) {
                simulation.close();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The steps, in the order they run

    /** The console token from --console-token (or SLM_CONSOLE_TOKEN) or --console-token-file; empty: read-only. */
    private String consoleToken() throws IOException {
        String token = consoleToken == null ? "" : consoleToken;
        if (consoleTokenFile != null) {
            if (!token.isBlank()) {
                throw new IllegalArgumentException("give the console token once: --console-token (or SLM_CONSOLE_TOKEN) "
                        + "or --console-token-file");
            }
            token = Files.readString(consoleTokenFile).strip();
        }
        ConsoleSettings.checkToken(token, consoleTokenFile != null ? "the token in --console-token-file"
                : "--console-token (or SLM_CONSOLE_TOKEN)");
        return token;
    }

    /**
     * Everything that can be checked is checked before anything starts: a taken port found after 30 s of start-up
     * (and as much teardown) is no way to learn it.
     */
    private void checkBeforeAnythingStarts() {
        requireFree("--kafka-port", kafkaPort);
        requireFree("--registry-port", registryPort);
        requireFree("--console-port", consolePort);
        String labelMassRefusal = ProcessorConfig.LABEL_MASS_FLOOR.refusal(abstainMinLabelMass);
        if (labelMassRefusal != null) {
            throw new IllegalArgumentException("--abstain-min-label-mass must be " + labelMassRefusal + ", not '"
                    + abstainMinLabelMass + "'");
        }
        Settings.of(ServiceConfig.parseOverrides(settings)); // an unknown key is refused now, not after the start-up
    }

    private static void requireFree(String option, int port) {
        if (port <= 0) {
            return; // 0: a free one is picked; -1: off
        }
        if (!LocalKafkaBroker.isFree(port)) {
            throw new IllegalArgumentException(option + " " + port + ": the port is already in use on 127.0.0.1");
        }
    }

    /** The task --simulate runs without --task, which --task also knows by this name. */
    static final String COLOURS = "colours";

    /**
     * The task files the demo runs: each {@code --task} as a file or by name; without {@code --task}, the tasks of
     * {@code --tasks-dir} alone, or the one default task (colours with {@code --simulate}).
     */
    static List<Path> taskFiles(List<String> given, Path tasksDir, boolean simulate, Path work) throws IOException {
        if (tasksDir != null && !Files.isDirectory(tasksDir)) {
            throw new IllegalArgumentException("--tasks-dir " + tasksDir + ": no such directory");
        }
        if (given.isEmpty()) {
            return tasksDir != null ? List.of() : List.of(taskFile(simulate ? COLOURS : "tasks/radr-intents.yaml", work));
        }
        List<Path> files = new ArrayList<>();
        for (String task : given) {
            files.add(taskFile(task, work));
        }
        return List.copyOf(files);
    }

    /** A file as it is; {@code colours}, written to the work directory; another name, its file in tasks/. */
    static Path taskFile(String given, Path work) throws IOException {
        Path file = Path.of(given);
        if (Files.isRegularFile(file)) {
            return file;
        }
        if (given.equals(COLOURS)) {
            return Files.writeString(work.resolve(COLOURS + ".yaml"), ColourTask.YAML);
        }
        Path named = Path.of("tasks", given + ".yaml");
        if (!given.contains("/") && Files.isRegularFile(named)) {
            return named;
        }
        throw new IllegalArgumentException("--task " + given + ": no such task file, nor a task of that name ("
                + COLOURS + ", or the name of a file in tasks/)");
    }

    /** Several tasks: more than one --task, or a --tasks-dir (whose tasks are always each on their own topics). */
    private boolean severalTasks(List<Path> taskFiles) {
        return taskFiles.size() > 1 || tasksDir != null;
    }

    /** Standard input for the prompt; without a terminal the demo serves on at its end, and says so once. */
    private static DemoInput readInput(PrintStream out) {
        AtomicBoolean toldToServe = new AtomicBoolean();
        return new DemoInput(System.in, System.console() != null, () -> {
            if (!toldToServe.getAndSet(true)) {
                out.printf("%nNo terminal: serving until stopped (kill %d, or SIGTERM from a service manager).%n",
                        ProcessHandle.current().pid());
            }
        });
    }

    /** The Hugging Face cache; with a data directory, demo-tiny is made there once and kept. */
    private ModelResolver modelResolver() {
        ModelResolver resolver = ModelResolver.fromEnvironment();
        if (dataDir != null) {
            resolver = resolver.withDemoTinyDir(dataDir.resolve("models").resolve(ModelResolver.DEMO_TINY));
        }
        return resolver;
    }

    static final String RANDOM_WEIGHTS_NOTE = "This model has random weights: its labels mean nothing until the "
            + "trainer has learned from feedback.";

    /**
     * The model directory for a {@code --model} value; without one, the default model, or demo-tiny when the
     * default cannot be had (no network, offline, not cached), so the demo always starts.
     */
    static Path resolveModel(String spec, ModelResolver resolver, PrintStream out) throws IOException {
        if (spec != null) {
            return resolver.resolve(spec);
        }
        try {
            return resolver.resolve(DEFAULT_MODEL);
        } catch (HubException e) {
            out.println(DEFAULT_MODEL + " could not be downloaded: " + e.getMessage() + ".");
            out.println("Falling back to " + ModelResolver.DEMO_TINY + ", a tiny model with random weights.");
            return resolver.resolve(ModelResolver.DEMO_TINY);
        }
    }

    /** The local broker; with a data directory, on its data there, so topics and offsets outlive a restart. */
    private LocalKafkaBroker startBroker() throws Exception {
        LocalKafkaBroker.Builder broker = LocalKafkaBroker.builder().port(kafkaPort).graceOnExit(Duration.ofSeconds(20));
        if (dataDir != null) {
            broker.dataDir(dataDir.resolve("kafka"));
        }
        return broker.start();
    }

    private EmbeddedSchemaRegistry startRegistry(LocalKafkaBroker broker) throws Exception {
        return EmbeddedSchemaRegistry.builder().kafka(broker.bootstrapServers()).port(registryPort).start();
    }

    /** The configuration of each service: the processor's and the trainer's keys and values. */
    record ServiceSettings(Map<String, String> processor, Map<String, String> trainer) {}

    /**
     * What the demo's options make of the processor's and the trainer's configuration: the one place where they are
     * set. Both reach the local broker and registry and read the same model and tasks; {@code --set} wins over the
     * demo's own choices, as it is there for.
     */
    private ServiceSettings serviceSettings(LocalKafkaBroker broker, EmbeddedSchemaRegistry registry, Path modelDir,
            List<Path> taskFiles, Path work, SigningKey signing) throws IOException {
        Map<String, String> shared = new HashMap<>();
        shared.put("bootstrap.servers", broker.bootstrapServers());
        shared.put("schema.registry.url", registry.url());
        shared.put("model.dir", modelDir.toString());
        if (severalTasks(taskFiles)) {
            // One processor serves every task and one trainer keeps a lineage per task: each its own topics.
            shared.put("task.file", "");
            shared.put("tasks", String.join(",", taskFiles.stream().map(Path::toString).toList()));
            shared.put("tasks.dir", tasksDir == null ? "" : tasksDir.toString());
        } else {
            shared.put("task.file", taskFiles.get(0).toString());
        }
        shared.put("device", device);
        shared.put("metrics.port", "0");
        shared.put("topics.partitions", "1");
        shared.put("control.signing.key", signing.key());
        Map<String, String> p = new HashMap<>(shared);
        p.put("state.dir", work.resolve("state").toString());
        p.put("adapter.cache.dir", work.resolve("adapters").toString());
        p.put("console.port", String.valueOf(consolePort));
        p.put("abstain.threshold", String.valueOf(abstainThreshold));
        p.put("abstain.min.label.mass", String.valueOf(abstainMinLabelMass));
        p.put("console.host", "127.0.0.1");
        p.put("console.token", consoleToken);
        Map<String, String> t = new HashMap<>(shared);
        t.put("work.dir", work.resolve("training").toString());
        t.put("trigger.examples", Integer.toString(trainAfter != null ? trainAfter : simulate ? 150 : 20));
        if (ModelConfig.load(modelDir).hiddenSize() < 256) {
            // A toy model learns only with large steps; real models keep the trainer's defaults.
            t.put("train.learning.rate", "1e-2");
            t.put("train.epochs", "4");
            t.put("train.warmup.steps", "5");
            t.put("lora.r", "8");
            t.put("lora.alpha", "16");
            t.put("lora.dropout", "0");
        }
        Settings given = Settings.of(ServiceConfig.parseOverrides(settings));
        p.putAll(given.processor());
        t.putAll(given.trainer());
        return new ServiceSettings(p, t);
    }

    /**
     * SIGTERM or Ctrl-C ends the session: the prompt stops, {@link #serve} closes the clients and the services and
     * {@link #run} the registry and the broker, in that order (a broker stopped first leaves every client waiting on
     * it), and the hook lets the JVM go once that is done.
     */
    private static void stopOnSignal(DemoInput input, CountDownLatch stopped) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            input.stop();
            try {
                stopped.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "demo-shutdown"));
    }

    private static void startAndAwaitReady(ProcessorService processor, TrainerService trainer) throws Exception {
        processor.start();
        trainer.start();
        while (processor.state() != KafkaStreams.State.RUNNING || !trainer.ready()) {
            Thread.sleep(100);
        }
    }

    /**
     * The tasks as the processor serves them, each with its control log: the topics of each task's view of the
     * configuration, so that {@code --set task.<name>.input.topic=...} is where the prompt sends too.
     */
    private static List<DemoPrompt.DemoTask> servedTasks(ProcessorService processor, LocalKafkaBroker broker,
            SchemaRegistryClient registryClient, ControlSignature signature, boolean several, Clients clients) {
        List<DemoPrompt.DemoTask> served = new ArrayList<>();
        for (var pipeline : processor.pipelines()) {
            ProcessorConfig view = pipeline.config();
            ControlLog control = clients.add(new ControlLog(properties(broker), view.get("control.topic"),
                    new ControlRecords(registryClient), signature, several ? pipeline.name() : null));
            served.add(new DemoPrompt.DemoTask(pipeline.name(), pipeline.classifier().task().labels(),
                    view.get("input.topic"), view.get("output.topic"), view.get("feedback.topic"), control));
        }
        return served;
    }

    /**
     * Reads each task's control log to its end and follows it from there: what it held before this start is history
     * (returned, by task, to be told in one line), and only what comes after is news.
     */
    private static Map<String, ControlState> followAdapterNews(PrintStream out, List<DemoPrompt.DemoTask> served,
            boolean several, DemoPrompt prompt) {
        Map<String, ControlState> before = new LinkedHashMap<>();
        for (DemoPrompt.DemoTask task : served) {
            task.control().catchUp(Duration.ofSeconds(30));
            before.put(task.name(), task.control().state());
            task.control().follow(new DemoAdapterNews(out, before.get(task.name()), several ? task.name() : null,
                    prompt::prompt));
        }
        return before;
    }

    /** The addresses of the broker, the registry, each task's topics, the metrics and the console. */
    private void printWhereEverythingIs(PrintStream out, LocalKafkaBroker broker, EmbeddedSchemaRegistry registry,
            ProcessorService processor, TrainerService trainer, List<DemoPrompt.DemoTask> served, boolean several,
            SigningKey signing) {
        out.printf("%nbootstrap servers  %s%nschema registry    %s%n", broker.bootstrapServers(), registry.url());
        for (DemoPrompt.DemoTask task : served) {
            ProcessorConfig view = processor.pipeline(task.name()).config();
            out.printf("topics             %s%s -> %s (dead letters: %s)%n                   %s -> trainer "
                    + "-> %s + %s%n", several ? task.name() + ": " : "", task.inputTopic(), task.outputTopic(),
                    view.get("dlq.topic"), task.feedbackTopic(), view.get("control.topic"),
                    view.get("adapters.topic"));
        }
        out.printf("metrics            processor http://127.0.0.1:%d/metrics, trainer http://127.0.0.1:%d/metrics%n",
                processor.operationsPort(), trainer.operationsPort());
        out.printf("control topic%s signed with %s%n", several ? "s    " : "     ", signing.source());
        if (processor.consolePort() >= 0) {
            out.printf("web console        http://127.0.0.1:%d/%s%s%n", processor.consolePort(),
                    consoleToken.isBlank() ? "  (read-only: --console-token T lets it label)" : "",
                    several ? "\n                   a selector picks the task; http://127.0.0.1:"
                            + processor.consolePort() + "/?task=" + served.get(0).name() + " opens one" : "");
        }
    }

    /** What to type at the prompt. */
    private static void printHowToUse(PrintStream out, List<DemoPrompt.DemoTask> served, boolean several) {
        if (several) {
            out.printf("%nType a sentence and press Enter: it goes to the task the prompt names (%s). Then "
                    + "!LABEL corrects that task's last answer.%n/task NAME moves to another task, /tasks lists "
                    + "them. /train trains the task now, /adapters lists its versions, /rollback [V], /pin V, "
                    + "/unpin, /resume. /quit, Ctrl-D or Ctrl-C stops.%n",
                    String.join(", ", served.stream().map(DemoPrompt.DemoTask::name).toList()));
        } else {
            out.printf("%nType a sentence and press Enter. Then !LABEL corrects the last answer (labels: %s).%n"
                    + "/train trains now, /adapters lists versions, /rollback [V], /pin V, /unpin, /resume. "
                    + "/quit, Ctrl-D or Ctrl-C stops.%n", String.join(", ", served.get(0).labels()));
        }
    }

    /**
     * The demo's {@code --set} pairs, each to the service whose key it is (to both for the keys they share). A key
     * neither has is refused with the nearest known one, before anything starts: each service would refuse it too,
     * but only once the broker and the registry are up, and a key of one service must not reach the other.
     */
    record Settings(Map<String, String> processor, Map<String, String> trainer) {
        static Settings of(Map<String, String> pairs) {
            Map<String, String> processor = new HashMap<>();
            Map<String, String> trainer = new HashMap<>();
            List<String> unknown = new ArrayList<>();
            // accepts: a key either defines, as <key>.file (read from a file) or task.<name>.<key> (one task of
            // several); kafka.* goes to every Kafka client as it is.
            for (Map.Entry<String, String> pair : pairs.entrySet()) {
                String key = pair.getKey();
                boolean forProcessor = ProcessorConfig.DEFINITIONS.accepts(key);
                boolean forTrainer = TrainerConfig.DEFINITIONS.accepts(key);
                if (forProcessor) {
                    processor.put(key, pair.getValue());
                }
                if (forTrainer) {
                    trainer.put(key, pair.getValue());
                }
                if (!forProcessor && !forTrainer) {
                    unknown.add("unknown key '" + key + "'" + EITHER_SERVICE.nearest(key)
                            .map(nearest -> " (did you mean '" + nearest + "'?)").orElse(""));
                }
            }
            if (!unknown.isEmpty()) {
                throw new IllegalArgumentException("--set: " + String.join("; ", unknown)
                        + " (the processor's and trainer's keys are in docs/configuration.md)");
            }
            return new Settings(Map.copyOf(processor), Map.copyOf(trainer));
        }

        /** The keys of either service, for the nearest one to a key neither has. */
        private static final ConfigDefinitions EITHER_SERVICE = new ConfigDefinitions()
                .alsoAccepting(ProcessorConfig.DEFINITIONS, TrainerConfig.DEFINITIONS);
    }

    /**
     * The key the demo signs the control topic with, and where it came from: a file given, the environment, or the
     * data directory's own key, made on the first start (random, owner-only) and read again on every later one, so
     * that a restarted demo, or a second processor given the file, reads the versions the first one signed.
     */
    record SigningKey(String key, String source) {
        static SigningKey of(Path given, String fromEnvironment, Path dataDir) throws IOException {
            if (given != null) {
                return new SigningKey(Files.readString(given, StandardCharsets.UTF_8).strip(), "the key in " + given);
            }
            if (fromEnvironment != null && !fromEnvironment.isBlank()) {
                return new SigningKey(fromEnvironment.strip(), "the key in SLM_CONTROL_SIGNING_KEY");
            }
            Path file = dataDir.resolve(SIGNING_KEY_FILE);
            if (!Files.exists(file)) {
                byte[] random = new byte[32];
                new java.security.SecureRandom().nextBytes(random);
                // Created owner-only, never readable by others even for a moment.
                Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                        java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
                Files.writeString(file, java.util.HexFormat.of().formatHex(random) + "\n", StandardCharsets.UTF_8);
            }
            return new SigningKey(Files.readString(file, StandardCharsets.UTF_8).strip(), "the key in " + file
                    + " (another processor: --set control.signing.key.file=" + file + ")");
        }
    }

    /** The clients made once the tasks are known, closed together (the last made first) before the services. */
    private static final class Clients implements AutoCloseable {
        private final java.util.Deque<AutoCloseable> opened = new java.util.ArrayDeque<>();

        <T extends AutoCloseable> T add(T client) {
            opened.push(client);
            return client;
        }

        @Override
        public void close() throws Exception {
            while (!opened.isEmpty()) {
                opened.pop().close();
            }
        }
    }

    private static Properties properties(LocalKafkaBroker broker) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        return p;
    }

    private static KafkaProducer<byte[], byte[]> producer(LocalKafkaBroker broker) {
        return new KafkaProducer<>(properties(broker), new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** A consumer of the results on {@code topics}, from now on. */
    static KafkaConsumer<byte[], byte[]> consumer(LocalKafkaBroker broker, List<String> topics) {
        Properties p = properties(broker);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "demo-console-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.subscribe(topics);
        consumer.poll(Duration.ofMillis(500)); // join the group before the first sentence is sent
        return consumer;
    }
}
