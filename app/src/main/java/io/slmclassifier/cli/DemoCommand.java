package io.slmclassifier.cli;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
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
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
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
    List<String> tasks = new java.util.ArrayList<>();

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
    List<String> settings = new java.util.ArrayList<>();

    /** The demo's own signing key, beside its broker data: a second processor on the same data signs with it too. */
    static final String SIGNING_KEY_FILE = "control-signing.key";

    @Override
    public Integer call() throws Exception {
        if (consoleToken == null) {
            consoleToken = "";
        }
        if (consoleTokenFile != null) {
            if (!consoleToken.isBlank()) {
                throw new IllegalArgumentException("give the console token once: --console-token (or SLM_CONSOLE_TOKEN) "
                        + "or --console-token-file");
            }
            consoleToken = java.nio.file.Files.readString(consoleTokenFile).strip();
        }
        ConsoleSettings.checkToken(consoleToken, consoleTokenFile != null ? "the token in --console-token-file"
                : "--console-token (or SLM_CONSOLE_TOKEN)");
        // Everything that can be checked is checked before anything starts: a taken port found after 30 s of
        // start-up (and as much teardown) is no way to learn it.
        requireFree("--kafka-port", kafkaPort);
        requireFree("--registry-port", registryPort);
        requireFree("--console-port", consolePort);
        String labelMassRefusal = ProcessorConfig.LABEL_MASS_FLOOR.refusal(abstainMinLabelMass);
        if (labelMassRefusal != null) {
            throw new IllegalArgumentException("--abstain-min-label-mass must be " + labelMassRefusal + ", not '"
                    + abstainMinLabelMass + "'");
        }
        Settings.of(ServiceConfig.parseOverrides(settings)); // an unknown key is refused now, not after the start-up
        try (DataDirLock lock = dataDir == null ? null : DataDirLock.acquire(dataDir)) {
            return run();
        }
    }

    private static void requireFree(String option, int port) {
        if (port <= 0) {
            return; // 0: a free one is picked; -1: off
        }
        if (!LocalKafkaBroker.isFree(port)) {
            throw new IllegalArgumentException(option + " " + port + ": the port is already in use on 127.0.0.1");
        }
    }

    /** One demo per data directory: a second one would find the broker's files locked and fail without saying why. */
    static final class DataDirLock implements AutoCloseable {
        private final java.nio.channels.FileChannel channel;
        private final java.nio.channels.FileLock lock;

        private DataDirLock(java.nio.channels.FileChannel channel, java.nio.channels.FileLock lock) {
            this.channel = channel;
            this.lock = lock;
        }

        static DataDirLock acquire(Path dir) throws IOException {
            Files.createDirectories(dir);
            Path file = dir.resolve(".demo.lock");
            java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(file,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.READ,
                    java.nio.file.StandardOpenOption.WRITE);
            java.nio.channels.FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (java.nio.channels.OverlappingFileLockException heldInThisJvm) {
                lock = null;
            }
            if (lock == null) {
                String holder = new String(Files.readAllBytes(file), java.nio.charset.StandardCharsets.UTF_8).strip();
                channel.close();
                throw new IllegalArgumentException("data directory " + dir + " is in use by another demo"
                        + (holder.isEmpty() ? "" : " (pid " + holder + ")"));
            }
            channel.truncate(0);
            channel.write(java.nio.ByteBuffer.wrap(Long.toString(ProcessHandle.current().pid())
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            return new DataDirLock(channel, lock);
        }

        @Override
        public void close() throws IOException {
            lock.release();
            channel.close();
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
        List<Path> files = new java.util.ArrayList<>();
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

    private Integer run() throws Exception {
        PrintStream out = System.out;
        Path work = dataDir != null ? dataDir : Files.createTempDirectory("slm-demo-");
        // A task that is not there is said before anything starts, the prompt's reader included.
        List<Path> taskFiles = taskFiles(tasks, tasksDir, simulate, work);
        java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean toldToServe = new java.util.concurrent.atomic.AtomicBoolean();
        Lines input = new Lines(System.in, System.console() != null, () -> {
            if (!toldToServe.getAndSet(true)) {
                out.printf("%nNo terminal: serving until stopped (kill %d, or SIGTERM from a service manager).%n",
                        ProcessHandle.current().pid());
            }
        });
        ModelResolver resolver = ModelResolver.fromEnvironment();
        if (dataDir != null) {
            resolver = resolver.withDemoTinyDir(dataDir.resolve("models").resolve(ModelResolver.DEMO_TINY));
        }
        SigningKey signing = SigningKey.of(controlSigningKeyFile, System.getenv("SLM_CONTROL_SIGNING_KEY"), work);
        ControlSignature signature = ControlSignature.of(signing.key());
        Path modelDir = resolveModel(model, resolver, out);
        LocalKafkaBroker.Builder brokerBuilder = LocalKafkaBroker.builder().port(kafkaPort).graceOnExit(Duration.ofSeconds(20));
        if (dataDir != null) {
            brokerBuilder.dataDir(dataDir.resolve("kafka"));
        }
        out.println("starting a local Kafka broker...");
        try {
            serve(out, input, brokerBuilder, modelDir, taskFiles, work, signing, signature, resolver, stopped);
            // The last line: everything is closed, the broker last, so nothing of the demo's prints after it.
            out.println("stopped");
        } finally {
            stopped.countDown();
        }
        return 0;
    }

    /** Starts everything, runs the prompt until it ends, and closes all of it: clients, services, registry, broker. */
    private void serve(PrintStream out, Lines input, LocalKafkaBroker.Builder brokerBuilder, Path modelDir, List<Path> taskFiles,
            Path work, SigningKey signing, ControlSignature signature, ModelResolver resolver,
            java.util.concurrent.CountDownLatch stopped) throws Exception {
        try (LocalKafkaBroker broker = brokerBuilder.start();
                EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.builder().kafka(broker.bootstrapServers())
                        .port(registryPort).start()) {
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
            // What --set gives wins over the demo's choices above: that is what it is for.
            Settings given = Settings.of(ServiceConfig.parseOverrides(settings));
            p.putAll(given.processor());
            t.putAll(given.trainer());
            SchemaRegistryClient registryClient = SchemaRegistryClient.builder(registry.url()).build();
            try (ProcessorService processor = new ProcessorService(ProcessorConfig.of(p));
                    TrainerService trainer = new TrainerService(TrainerConfig.of(t));
                    KafkaProducer<byte[], byte[]> producer = producer(broker);
                    Clients clients = new Clients()) {
                // SIGTERM or Ctrl-C ends the session; this method then closes the clients, the services, the
                // registry and the broker, in that order (a broker stopped first leaves every client waiting on it),
                // and the hook lets the JVM go once that is done.
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    input.stop();
                    try {
                        stopped.await(20, java.util.concurrent.TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }, "demo-shutdown"));
                processor.start();
                trainer.start();
                while (processor.state() != KafkaStreams.State.RUNNING || !trainer.ready()) {
                    Thread.sleep(100);
                }
                // The tasks as the processor serves them: the topics of each task's view of the configuration, so
                // that --set task.<name>.input.topic=... is where the prompt sends too.
                boolean several = processor.pipelines().size() > 1 || severalTasks(taskFiles);
                List<DemoPrompt.DemoTask> served = new java.util.ArrayList<>();
                for (var pipeline : processor.pipelines()) {
                    ProcessorConfig view = pipeline.config();
                    ControlLog control = clients.add(new ControlLog(properties(broker), view.get("control.topic"),
                            new ControlRecords(registryClient), signature, several ? pipeline.name() : null));
                    served.add(new DemoPrompt.DemoTask(pipeline.name(), pipeline.classifier().task().labels(),
                            view.get("input.topic"), view.get("output.topic"), view.get("feedback.topic"), control));
                }
                KafkaConsumer<byte[], byte[]> results = clients.add(consumer(broker,
                        served.stream().map(DemoPrompt.DemoTask::outputTopic).toList()));
                DemoPrompt prompt = new DemoPrompt(out, producer, results,
                        AvroSerde.forType(Classification.class, registryClient),
                        AvroSerde.forType(LabeledExample.class, registryClient), processor, trainer, served);
                Simulation simulation = simulate ? new Simulation(broker, registryClient, out, served, prompt::prompt)
                        : null;
                // What each log held before this start is history: one line for it, and news only from here on.
                Map<String, ControlState> before = new java.util.LinkedHashMap<>();
                for (DemoPrompt.DemoTask task : served) {
                    task.control().catchUp(Duration.ofSeconds(30));
                    before.put(task.name(), task.control().state());
                    task.control().follow(new AdapterNews(out, before.get(task.name()), several ? task.name() : null,
                            prompt::prompt));
                }
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
                before.forEach((task, state) -> history(state)
                        .ifPresent(line -> out.println(several ? task + " " + line : line)));
                if (modelDir.equals(resolver.demoTinyDir()) || modelDir.endsWith("qwen3-tiny")) {
                    out.println("\n" + RANDOM_WEIGHTS_NOTE + (simulate ? "" : " Try --simulate to watch that happen."));
                }
                if (simulation != null) {
                    simulation.start();
                }
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
                prompt.run(input);
                if (simulation != null) {
                    simulation.close();
                }
            }
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
            List<String> unknown = new java.util.ArrayList<>();
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

    /**
     * Standard input, line by line, read on a thread of its own: a stop (SIGTERM, Ctrl-C) must not wait for a line.
     * At the end of the input an interactive demo stops (Ctrl-D); one without a terminal (started in the
     * background, by a service manager, in a container) goes on serving until it is stopped.
     */
    static final class Lines {
        private static final String END = new String("end of input");
        private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
        private final boolean stopAtEnd;
        private final Runnable onEndWithoutTerminal;
        private volatile boolean stopping;

        Lines(java.io.InputStream in, boolean stopAtEnd, Runnable onEndWithoutTerminal) {
            this.stopAtEnd = stopAtEnd;
            this.onEndWithoutTerminal = onEndWithoutTerminal;
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        queue.add(line);
                    }
                } catch (IOException e) {
                    // the input is gone: same as its end
                }
                queue.add(END);
            }, "demo-input");
            reader.setDaemon(true);
            reader.start();
        }

        void stop() {
            stopping = true;
            queue.add(END);
        }

        /** The next line; null when the demo should stop. */
        String next() throws InterruptedException {
            while (true) {
                String line = queue.take();
                if (line != END) {
                    return stopping ? null : line;
                }
                if (stopping || stopAtEnd) {
                    return null;
                }
                onEndWithoutTerminal.run();
            }
        }
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

    /** What {@code /adapters} prints: the dataset's size, then the versions, or that there are none yet. */
    static void printAdapters(ControlState state, long labeled, long trainAfter, PrintStream out) {
        out.printf("%d labeled examples in the dataset%n", labeled);
        if (state.events().isEmpty()) {
            // A bare table header would read as a listing that failed; say what a user waits for instead.
            out.printf("no adapter versions yet: the base model serves until the trainer publishes one "
                    + "(training starts after %d new labels, or now with /train)%n", trainAfter);
            return;
        }
        AdapterCli.print(state, out);
    }

    /** Why {@code /rollback [V]} would change nothing, so nothing is sent (see {@link AdapterCli#nothingToRollBack}). */
    static Optional<String> nothingToRollBack(ControlState state, Long version) {
        return AdapterCli.nothingToRollBack(state, version, "/adapters");
    }

    /**
     * The control log of an earlier run in one line, e.g. "history: versions 1-24 (20 published, 4 rejected),
     * serving v7"; empty on a first start. A restarted demo says this instead of replaying each old event as news.
     */
    static Optional<String> history(ControlState state) {
        List<AdapterEvent> events = state.events();
        if (events.isEmpty()) {
            return Optional.empty();
        }
        long first = events.get(0).getVersion();
        long last = events.get(events.size() - 1).getVersion();
        Map<String, Long> byStatus = new java.util.TreeMap<>();
        for (AdapterEvent e : events) {
            String status = e.getStatus() == AdapterStatus.ACTIVE ? "published"
                    : e.getStatus().name().toLowerCase().replace('_', ' ');
            byStatus.merge(status, 1L, Long::sum);
        }
        List<String> counts = byStatus.entrySet().stream().map(c -> c.getValue() + " " + c.getKey()).toList();
        OptionalLong serving = state.serving();
        return Optional.of("history: " + (first == last ? "version " + first : "versions " + first + "-" + last)
                + " (" + String.join(", ", counts) + "), serving " + (serving.isPresent() ? "v" + serving.getAsLong()
                : "the base model") + state.describeHold().map(hold -> "; " + hold).orElse(""));
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

    /**
     * Prints a line when the trainer publishes or rejects a version of a task, or a processor refuses one, then the
     * prompt again, as it is now.
     */
    private static final class AdapterNews implements java.util.function.Consumer<ControlState> {
        private final PrintStream out;
        /** "emotion: " before each line with several tasks; empty with one. */
        private final String task;
        private final java.util.function.Supplier<String> prompt;
        private final Set<String> told = new HashSet<>();

        /**
         * @param history what the log held at the start, told already (by {@link #history})
         * @param task the task whose lineage this is, named in each line; null with one task
         */
        AdapterNews(PrintStream out, ControlState history, String task, java.util.function.Supplier<String> prompt) {
            this.out = out;
            this.task = task == null ? "" : task + ": ";
            this.prompt = prompt;
            for (AdapterEvent e : history.events()) {
                told.add(e.getVersion() + "/" + e.getStatus());
                history.errors(e.getVersion()).keySet()
                        .forEach(instance -> told.add(e.getVersion() + "/error/" + instance));
            }
        }

        @Override
        public void accept(ControlState state) {
            for (AdapterEvent e : state.events()) {
                if (told.add(e.getVersion() + "/" + e.getStatus())) {
                    boolean waits = state.status(e.getVersion()) == ControlState.Status.WAITING;
                    out.printf("%n[trainer] %sversion %d %s: %s%s%n%s", task, e.getVersion(),
                            e.getStatus() == AdapterStatus.ACTIVE ? "published" : e.getStatus().name().toLowerCase(),
                            e.getMessage(), waits ? "; it waits: a rollback holds new versions until /resume or /pin "
                                    + e.getVersion() : "", prompt.get());
                }
                state.errors(e.getVersion()).forEach((instance, reason) -> {
                    if (told.add(e.getVersion() + "/error/" + instance)) {
                        out.printf("%n[processor] %s%s%n%s", task, reason, prompt.get());
                    }
                });
            }
            out.flush();
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
