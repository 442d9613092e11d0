package io.slmclassifier.stream;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node KRaft broker (combined broker and controller) on loopback, run as a child JVM from the
 * Kafka jars on this process's class path: {@code StorageTool format --standalone}, then {@code kafka.Kafka}.
 * A child process keeps the broker's threads, logs and memory apart from ours and can be killed like a real
 * one. The data directory can be reused: a restart keeps topics, offsets and ports.
 */
public final class LocalKafkaBroker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LocalKafkaBroker.class);

    private final Path dataDir;
    private final int port;
    private final Process process;
    private final boolean temporary;

    private LocalKafkaBroker(Path dataDir, int port, Process process, boolean temporary) {
        this.dataDir = dataDir;
        this.port = port;
        this.process = process;
        this.temporary = temporary;
    }

    /** Starts a broker in a fresh temporary directory on free ports; deleted on close. */
    public static LocalKafkaBroker startTemporary() throws IOException, InterruptedException {
        return start(Files.createTempDirectory("slm-kafka-"), 0, true);
    }

    /**
     * @param dataDir kept across restarts (created when missing)
     * @param port client port; 0 picks a free one (remembered in the data directory for restarts)
     */
    public static LocalKafkaBroker start(Path dataDir, int port) throws IOException, InterruptedException {
        return start(dataDir, port, false);
    }

    private static LocalKafkaBroker start(Path dataDir, int requestedPort, boolean temporary)
            throws IOException, InterruptedException {
        Files.createDirectories(dataDir);
        Path ports = dataDir.resolve("ports.properties");
        Properties remembered = new Properties();
        if (Files.exists(ports)) {
            try (var in = Files.newBufferedReader(ports)) {
                remembered.load(in);
            }
        }
        int port = requestedPort != 0 ? requestedPort
                : Integer.parseInt(remembered.getProperty("client", String.valueOf(freePort())));
        int controllerPort = Integer.parseInt(remembered.getProperty("controller", String.valueOf(freePort())));
        remembered.setProperty("client", String.valueOf(port));
        remembered.setProperty("controller", String.valueOf(controllerPort));
        try (var out = Files.newBufferedWriter(ports)) {
            remembered.store(out, "ports of the local broker");
        }

        Path config = dataDir.resolve("server.properties");
        Files.writeString(config, String.join("\n",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.bootstrap.servers=127.0.0.1:" + controllerPort,
                "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort,
                "advertised.listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort,
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "log.dirs=" + dataDir.resolve("logs").toAbsolutePath(),
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "") , StandardCharsets.UTF_8);

        Path logFile = dataDir.resolve("broker.log");
        if (!Files.exists(dataDir.resolve("logs").resolve("meta.properties"))) {
            Process format = new ProcessBuilder(java(List.of("kafka.tools.StorageTool", "format", "--standalone",
                    "-t", Uuid.randomUuid().toString(), "-c", config.toString())))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
            if (!format.waitFor(60, TimeUnit.SECONDS) || format.exitValue() != 0) {
                format.destroyForcibly();
                throw new IOException("formatting the broker's storage failed; see " + logFile);
            }
        }
        Process broker = new ProcessBuilder(java(List.of("kafka.Kafka", config.toString())))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
        LocalKafkaBroker started = new LocalKafkaBroker(dataDir, port, broker, temporary);
        Runtime.getRuntime().addShutdownHook(new Thread(broker::destroyForcibly));
        try {
            started.awaitReady(Duration.ofSeconds(60), logFile);
        } catch (IOException | RuntimeException e) {
            started.close();
            throw e;
        }
        log.info("Local Kafka broker (pid {}) on {} with data in {}", broker.pid(), started.bootstrapServers(), dataDir);
        return started;
    }

    private static List<String> java(List<String> mainAndArgs) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx512m");
        command.add("-XX:+UseSerialGC");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.addAll(mainAndArgs);
        return command;
    }

    private void awaitReady(Duration timeout, Path logFile) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "2000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "3000");
        try (Admin admin = Admin.create(p)) {
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    throw new IOException("the broker exited with " + process.exitValue() + "; see " + logFile);
                }
                try {
                    if (!admin.describeCluster().nodes().get(3, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    Thread.sleep(200);
                }
            }
        }
        throw new IOException("the broker did not become ready within " + timeout + "; see " + logFile);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    public String bootstrapServers() {
        return "127.0.0.1:" + port;
    }

    public Path dataDir() {
        return dataDir;
    }

    public long pid() {
        return process.pid();
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        if (temporary) {
            deleteQuietly(dataDir);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log.debug("could not delete {}", dir, e);
        }
    }
}
