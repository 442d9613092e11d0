package io.slmclassifier.devkit;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka broker (KRaft, broker and controller in one) running as a child JVM, for tests and
 * for the {@code demo} command: no Docker, no installation, only the Kafka jars already on the class path.
 *
 * <p>A child process rather than the broker inside this JVM: the broker's internal start-up API changes between
 * releases while {@code kafka.Kafka server.properties} does not, its logs go to their own file
 * ({@code broker.log} in the data directory) instead of flooding ours, and its threads and memory stay out of
 * the application's. It listens on the loopback interface only, on free ports.
 *
 * <p>The data directory may be given and reused: a restarted broker keeps its topics and records, and keeps its
 * ports when they are still free. A temporary directory is deleted on {@link #close()}. The child exits when
 * this JVM dies, even by SIGKILL: it watches its standard input, which the operating system closes then.
 */
public final class LocalKafkaBroker implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LocalKafkaBroker.class);
    private static final String CONFIG_FILE = "server.properties";
    private static final String LOG_FILE = "broker.log";
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    private final Path dataDir;
    private final boolean deleteDataDirOnClose;
    private final int brokerPort;
    private final Process process;
    private final Thread killOnExit;

    private LocalKafkaBroker(Builder builder) throws IOException {
        if (builder.port > 0) {
            requireFree(builder.port); // before anything is written, so a taken port leaves nothing behind
        }
        this.deleteDataDirOnClose = builder.dataDir == null;
        this.dataDir = builder.dataDir != null
                ? Files.createDirectories(builder.dataDir).toAbsolutePath()
                : Files.createTempDirectory("local-kafka-");
        Path configFile = dataDir.resolve(CONFIG_FILE);
        Path logDir = dataDir.resolve("kraft-logs");
        Properties previous = readProperties(configFile);

        // Same ports as last time when possible, so clients configured for a restarted broker still find it.
        this.brokerPort = builder.port > 0 ? builder.port
                : reusePortOrPickFree(previous.getProperty("slm.broker.port"));
        int controllerPort = reusePortOrPickFree(previous.getProperty("slm.controller.port"));
        while (controllerPort == brokerPort) {
            controllerPort = reusePortOrPickFree(null);
        }
        Properties config = serverConfig(logDir, brokerPort, controllerPort, builder.brokerProperties);
        writeProperties(config, configFile);

        Path logFile = dataDir.resolve(LOG_FILE);
        if (!Files.exists(logDir.resolve("meta.properties"))) {
            format(configFile, logFile, builder.startupTimeout);
        }

        long started = System.nanoTime();
        ProcessBuilder command = new ProcessBuilder(inOwnSession(javaCommand(builder.jvmOptions, ChildMain.class.getName(),
                configFile.toString())))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
        this.process = command.start();
        // Normal JVM exit: stop the child too. (SIGKILL of this JVM is covered by the child's stdin watch.)
        Duration grace = builder.graceOnExit;
        this.killOnExit = new Thread(() -> {
            // At the JVM's exit: let an owner that stops its clients first close the broker last, then kill.
            try {
                if (!grace.isZero()) {
                    process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            process.destroyForcibly();
        }, "local-kafka-broker-kill");
        Runtime.getRuntime().addShutdownHook(killOnExit);
        try {
            awaitReady(builder.startupTimeout, logFile);
        } catch (RuntimeException e) {
            stopProcess();
            throw e;
        }
        log.info("Kafka broker started on {} in {} ms (pid {}, data in {})", bootstrapServers(),
                (System.nanoTime() - started) / 1_000_000, process.pid(), dataDir);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A broker in a temporary directory, deleted when it stops. */
    public static LocalKafkaBroker start() {
        return builder().start();
    }

    /** {@code bootstrap.servers} for clients. */
    public String bootstrapServers() {
        return "127.0.0.1:" + brokerPort;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** The broker's own log file, to look at when something went wrong. */
    public Path logFile() {
        return dataDir.resolve(LOG_FILE);
    }

    public boolean isRunning() {
        return process.isAlive();
    }

    /** Stops the broker (controlled shutdown, then a kill after 30 s) and waits until the process is gone. */
    @Override
    public void close() {
        stopProcess();
        try {
            Runtime.getRuntime().removeShutdownHook(killOnExit);
        } catch (IllegalStateException shuttingDown) {
            // The hook is running or about to: nothing to remove.
        }
        if (deleteDataDirOnClose) {
            deleteRecursively(dataDir);
        }
        log.info("Kafka broker on {} stopped", bootstrapServers());
    }

    private void stopProcess() {
        if (!process.isAlive()) {
            return;
        }
        process.destroy(); // SIGTERM: the broker's shutdown hook flushes and closes its logs
        try {
            if (!process.waitFor(SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("Kafka broker (pid {}) did not stop within {} s; killing it", process.pid(),
                        SHUTDOWN_TIMEOUT.toSeconds());
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Start-up

    private static Properties serverConfig(Path logDir, int brokerPort, int controllerPort,
                                           Map<String, String> overrides) {
        Properties config = new Properties();
        config.setProperty("process.roles", "broker,controller");
        config.setProperty("node.id", "1");
        // A static voter set: unlike a --standalone format, it does not pin the controller port in the log,
        // so a restart may move to other ports.
        config.setProperty("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        config.setProperty("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:"
                + controllerPort);
        config.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        config.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        config.setProperty("controller.listener.names", "CONTROLLER");
        config.setProperty("inter.broker.listener.name", "PLAINTEXT");
        config.setProperty("log.dirs", logDir.toString());
        // One broker: every internal topic has one replica.
        config.setProperty("offsets.topic.replication.factor", "1");
        config.setProperty("transaction.state.log.replication.factor", "1");
        config.setProperty("transaction.state.log.min.isr", "1");
        config.setProperty("share.coordinator.state.topic.replication.factor", "1");
        config.setProperty("share.coordinator.state.topic.min.isr", "1");
        // Fewer internal partitions than the production defaults (50): creating them is most of the first
        // consumer group's or transaction's start-up time on a small machine.
        config.setProperty("offsets.topic.num.partitions", "4");
        config.setProperty("transaction.state.log.num.partitions", "4");
        config.setProperty("group.initial.rebalance.delay.ms", "0");
        config.setProperty("num.partitions", "1");
        config.putAll(overrides);
        // Remembered for the next start in the same directory; the broker ignores unknown keys.
        config.setProperty("slm.broker.port", Integer.toString(brokerPort));
        config.setProperty("slm.controller.port", Integer.toString(controllerPort));
        return config;
    }

    private void format(Path configFile, Path logFile, Duration timeout) throws IOException {
        String clusterId = Uuid.randomUuid().toString();
        List<String> command = javaCommand(List.of("-Xmx256m"), "kafka.tools.StorageTool",
                "format", "--cluster-id", clusterId, "--config", configFile.toString(), "--ignore-formatted");
        Process formatter = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .start();
        try {
            if (!formatter.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                formatter.destroyForcibly();
                throw new IllegalStateException("formatting the Kafka storage took over " + timeout.toSeconds()
                        + " s; see " + logFile);
            }
        } catch (InterruptedException e) {
            formatter.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while formatting the Kafka storage", e);
        }
        if (formatter.exitValue() != 0) {
            throw new IllegalStateException("formatting the Kafka storage failed (exit " + formatter.exitValue()
                    + "):\n" + tail(logFile));
        }
        log.debug("Formatted Kafka storage in {} with cluster id {}", dataDir, clusterId);
    }

    /** Waits until the broker accepts connections and reports itself in the cluster metadata. */
    private void awaitReady(Duration timeout, Path logFile) {
        long deadline = System.nanoTime() + timeout.toNanos();
        // Until the port is open, an admin client would only log connection failures: probe with a socket first.
        while (!acceptsConnections(brokerPort)) {
            checkAlive(logFile);
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("Kafka broker did not open port " + brokerPort + " within "
                        + timeout.toSeconds() + " s:\n" + tail(logFile));
            }
            sleep(100);
        }
        try (Admin admin = Admin.create(Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers(),
                AdminClientConfig.CLIENT_ID_CONFIG, "local-kafka-broker-probe"))) {
            while (true) {
                checkAlive(logFile);
                try {
                    int nodes = admin.describeCluster(new DescribeClusterOptions().timeoutMs(2_000)).nodes()
                            .get().size();
                    if (nodes > 0) {
                        return;
                    }
                } catch (ExecutionException notYet) {
                    // Broker still starting: try again.
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("Kafka broker did not become ready within "
                            + timeout.toSeconds() + " s:\n" + tail(logFile));
                }
                sleep(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the Kafka broker", e);
        }
    }

    private void checkAlive(Path logFile) {
        if (!process.isAlive()) {
            throw new IllegalStateException("Kafka broker exited with code " + process.exitValue()
                    + " during start-up:\n" + tail(logFile));
        }
    }

    /**
     * The command run through {@code setsid} where it exists (Linux, util-linux), so the broker has a session and
     * process group of its own. A terminal's Ctrl-C sends SIGINT to its whole foreground process group: a broker in
     * the owner's group would die at once, first, and leave the owner's clients retrying it (hundreds of WARN lines)
     * while the owner shuts down. Out of that group it stops when its owner closes it, last. setsid does not fork
     * here (a child of this JVM is no group leader), so the process started is still the broker's own JVM, which
     * {@link #close()} stops and whose stdin watch still sees this JVM die. Without setsid (macOS, Windows) the
     * command runs as it is.
     */
    static List<String> inOwnSession(List<String> command) {
        Path setsid = SETSID.stream().map(Path::of).filter(Files::isExecutable).findFirst().orElse(null);
        if (setsid == null) {
            return command;
        }
        List<String> wrapped = new ArrayList<>();
        wrapped.add(setsid.toString());
        wrapped.addAll(command);
        return wrapped;
    }

    private static final List<String> SETSID = List.of("/usr/bin/setsid", "/bin/setsid");

    /** The same java, with this JVM's class path: the Kafka jars are there already. */
    private static List<String> javaCommand(List<String> jvmOptions, String mainClass, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
        command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=info");
        command.add("-Dorg.slf4j.simpleLogger.log.org.apache.kafka=info");
        command.add("-Dorg.slf4j.simpleLogger.log.kafka=info");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(List.of(args));
        return command;
    }

    private static void requireFree(int port) throws IOException {
        if (!isFree(port)) {
            throw new IOException("port " + port + " is already in use on " + InetAddress.getLoopbackAddress()
                    .getHostAddress());
        }
    }

    /** Whether {@code port} can be bound on the loopback address now (bound and released at once). */
    public static boolean isFree(int port) {
        try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException taken) {
            return false;
        }
    }

    private static int reusePortOrPickFree(String previousPort) throws IOException {
        if (previousPort != null) {
            int port = Integer.parseInt(previousPort);
            if (isFree(port)) {
                return port;
            }
            log.info("Port {} of the previous run is taken; picking another", port);
        }
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }

    private static boolean acceptsConnections(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static Properties readProperties(Path file) throws IOException {
        Properties properties = new Properties();
        if (Files.exists(file)) {
            try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                properties.load(reader);
            }
        }
        return properties;
    }

    private static void writeProperties(Properties properties, Path file) throws IOException {
        try (Writer writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            properties.store(writer, "Generated by LocalKafkaBroker; rewritten on every start");
        }
    }

    private static String tail(Path logFile) {
        try {
            List<String> lines = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the Kafka broker", e);
        }
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        } catch (IOException e) {
            log.warn("Could not delete {}: {}", dir, e.toString());
        }
    }

    /** Settings of a local broker. */
    public static final class Builder {
        private Path dataDir;
        private final Map<String, String> brokerProperties = new LinkedHashMap<>();
        private List<String> jvmOptions = List.of("-Xms128m", "-Xmx1g", "-XX:+ExitOnOutOfMemoryError");
        private Duration startupTimeout = Duration.ofSeconds(90);
        private Duration graceOnExit = Duration.ZERO;
        private int port;

        private Builder() {
        }

        /** Keep data here and reuse it on the next start; by default a temporary directory, deleted on close. */
        public Builder dataDir(Path dataDir) {
            this.dataDir = dataDir;
            return this;
        }

        /** The broker's client port on loopback; 0 (the default) takes the previous run's port or a free one. */
        public Builder port(int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port must be between 0 and 65535, not " + port);
            }
            this.port = port;
            return this;
        }

        /** A broker setting, overriding the defaults (for example {@code auto.create.topics.enable=false}). */
        public Builder brokerProperty(String key, String value) {
            brokerProperties.put(key, value);
            return this;
        }

        /** Options of the broker JVM (heap size and such). */
        public Builder jvmOptions(List<String> jvmOptions) {
            this.jvmOptions = List.copyOf(jvmOptions);
            return this;
        }

        /**
         * When the JVM exits with the broker still running, wait this long for its owner to close it (after the
         * owner's clients) before killing it; by default it is killed at once.
         */
        public Builder graceOnExit(Duration graceOnExit) {
            this.graceOnExit = graceOnExit;
            return this;
        }

        public Builder startupTimeout(Duration startupTimeout) {
            this.startupTimeout = startupTimeout;
            return this;
        }

        public LocalKafkaBroker start() {
            try {
                return new LocalKafkaBroker(this);
            } catch (IOException e) {
                throw new UncheckedIOException("could not start a local Kafka broker: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Entry point of the child JVM: runs {@code kafka.Kafka} and exits when the parent's end of standard input
     * closes, which happens however the parent dies. The exit runs Kafka's shutdown hook, a clean stop.
     */
    public static final class ChildMain {
        public static void main(String[] args) {
            Thread parentWatch = new Thread(() -> {
                try (InputStream in = System.in) {
                    while (in.read() >= 0) {
                        // The parent never writes; anything read is ignored.
                    }
                } catch (IOException ignored) {
                    // Same as end of input: the parent is gone.
                }
                System.exit(0);
            }, "parent-watch");
            parentWatch.setDaemon(true);
            parentWatch.start();
            kafka.Kafka.main(args);
        }
    }
}
