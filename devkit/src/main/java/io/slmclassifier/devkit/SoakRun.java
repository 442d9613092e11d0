package io.slmclassifier.devkit;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.TextMessage;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.devkit.LocalKafkaBroker;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Crashes under load, measured: a local broker and registry, processors in child JVMs sharing one application id
 * (exactly once), a producer at a steady rate, and every {@code killEvery} one processor killed with SIGKILL and
 * started again at once (in turns). Then every message id is read back from the output topic with a
 * {@code read_committed} consumer: how many were lost, how many came more than once, how many went to the
 * dead-letter topic (all inputs are valid, so none should), and the end-to-end latency across the kills.
 *
 * <p>Everything lands in the work directory: {@code processor-N.log} (each child's output, restarts appended),
 * {@code state-N} (its Kafka Streams state, kept across its restarts as a pod's volume would be) and
 * {@code broker} (the broker's data and {@code broker.log}).
 */
public final class SoakRun {

    private static final Logger log = LoggerFactory.getLogger(SoakRun.class);
    private static final String APPLICATION_ID = "soak";
    private static final String INPUT = "intents.in";
    private static final String OUTPUT = "intents.classified";
    private static final String DEAD_LETTERS = "intents.dlq";
    /** A killed member keeps its partitions until its session expires: short, so they move within seconds. */
    private static final String SESSION_TIMEOUT_MS = "6000";
    /** After the last id arrived, read on this long to see duplicates that would come after it. */
    private static final Duration SETTLE = Duration.ofSeconds(3);
    /** How long a processor's log may stay unchanged while it starts (JVM, model, joining the group) before it is hung. */
    private static final Duration START_STALL = Duration.ofMinutes(2);
    /** The most the reading back may take however much still moves: ids missing then are reported as unclassified. */
    public static final Duration DRAIN_CAP = Duration.ofMinutes(30);

    /**
     * @param texts the inputs' texts, used in turn
     * @param rate messages per second the producer keeps to
     * @param killEvery time between kills while the producer runs
     * @param drainStall after the last send, reading back goes on while ids come back or the processors' logs grow
     *     (restarting, rebalancing, restoring); it stops when neither moved for this long, and the ids still missing
     *     then are lost. However much still moves, it stops after {@link #DRAIN_CAP}.
     * @param workDir new or empty: logs, state and the broker's data go here
     */
    public record Settings(Path modelDir, Path taskFile, String device, List<String> texts, int messages, double rate,
            Duration killEvery, int processors, int partitions, Duration drainStall, Path workDir) {}

    /**
     * The device of processor {@code n} (from 0): {@code devices} is one device for all ("cpu", "gpu") or a
     * comma-separated list taken in turns, so {@code gpu:0,gpu:1} gives each of two processors its own GPU, as a
     * host with several GPUs runs them.
     */
    static String processorDevice(String devices, int n) {
        String[] each = devices.split(",");
        return each[n % each.length].trim();
    }

    /**
     * @param sent messages the broker acknowledged
     * @param sendFailures messages the producer could not send (not counted as sent)
     * @param received distinct ids read back from the output topic
     * @param lost sent ids not read back when nothing moved any more (no id, no processor log line) for the drain stall
     * @param unclassified sent ids not read back yet when the drain cap passed while ids still came back: slow, not lost
     * @param doubled ids read back more than once
     * @param deadLettered records in the dead-letter topic
     * @param kills SIGKILLs of a processor (each restarted at once)
     * @param sendSeconds from the first send to the last acknowledgement
     * @param seconds from the first send to the last id read back
     */
    public record Result(int sent, int sendFailures, int received, int lost, int unclassified, int doubled,
            int deadLettered, int kills, double p50Ms, double p99Ms, double maxMs, double sendSeconds, double seconds,
            Path workDir) {

        /** Every id once, nothing dead-lettered, nothing failed to send. */
        public boolean exactlyOnce() {
            return sent > 0 && sendFailures == 0 && lost == 0 && unclassified == 0 && doubled == 0 && deadLettered == 0;
        }
    }

    private SoakRun() {}

    public static Result run(Settings s) throws Exception {
        if (s.processors() < 1 || s.messages() < 1 || s.rate() <= 0 || s.texts().isEmpty()) {
            throw new IllegalArgumentException("a soak needs at least one processor, one message, one text and a rate");
        }
        Files.createDirectories(s.workDir());
        if (Files.exists(s.workDir().resolve("broker"))) {
            // The old run's records would be read back as this one's.
            throw new IllegalArgumentException(s.workDir() + " holds an earlier soak run: give a new work directory");
        }
        try (LocalKafkaBroker broker = LocalKafkaBroker.builder().dataDir(s.workDir().resolve("broker")).start();
                EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.builder().kafka(broker.bootstrapServers()).start()) {
            int replication = 1;
            Properties client = new Properties();
            client.put("bootstrap.servers", broker.bootstrapServers());
            Topics.ensure(client, List.of(Topics.plain(INPUT, s.partitions(), replication),
                    Topics.plain(OUTPUT, s.partitions(), replication),
                    Topics.plain(DEAD_LETTERS, s.partitions(), replication)));
            SchemaRegistryClient registryClient = SchemaRegistryClient.builder(registry.url()).build();
            try (Fleet fleet = new Fleet(s, broker.bootstrapServers(), registry.url());
                    Reader reader = new Reader(broker.bootstrapServers(), s.messages(),
                            AvroSerde.forType(Classification.class, registryClient).deserializer())) {
                fleet.startAll();
                reader.start();
                return measure(s, broker.bootstrapServers(), fleet, reader,
                        AvroSerde.forType(TextMessage.class, registryClient).serializer());
            }
        }
    }

    /** Sends at the rate while the processors are killed in turns, then waits for every id to come back. */
    private static Result measure(Settings s, String bootstrap, Fleet fleet, Reader reader,
            Serializer<TextMessage> serializer) throws Exception {
        BitSet acknowledged = new BitSet(s.messages());
        AtomicInteger sendFailures = new AtomicInteger();
        AtomicLong lastAcknowledged = new AtomicLong();
        ScheduledExecutorService schedule = Executors.newScheduledThreadPool(1, r -> new Thread(r, "soak-schedule"));
        long started = System.nanoTime();
        try {
            long killMs = s.killEvery().toMillis();
            var killing = schedule.scheduleAtFixedRate(fleet::killNext, killMs, killMs, TimeUnit.MILLISECONDS);
            schedule.scheduleAtFixedRate(() -> log.info("{} s: {} sent, {} read back, {} kills",
                    (System.nanoTime() - started) / 1_000_000_000, acknowledged(acknowledged), reader.distinct(),
                    fleet.kills()), 10, 10, TimeUnit.SECONDS);
            try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
                for (int i = 0; i < s.messages(); i++) {
                    long wait = started + (long) (i * 1e9 / s.rate()) - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                    String id = "soak-" + i;
                    TextMessage message = TextMessage.newBuilder().setId(id)
                            .setText(s.texts().get(i % s.texts().size())).build();
                    int index = i;
                    producer.send(new ProducerRecord<>(INPUT, id.getBytes(StandardCharsets.UTF_8),
                            serializer.serialize(INPUT, message)), (meta, e) -> {
                                if (e != null) {
                                    sendFailures.incrementAndGet();
                                    log.warn("send of {} failed", id, e);
                                    return;
                                }
                                synchronized (acknowledged) {
                                    acknowledged.set(index);
                                }
                                lastAcknowledged.set(System.nanoTime());
                            });
                }
                producer.flush();
            }
            // The rest is reading back: a processor killed now would only lengthen the drain.
            killing.cancel(false);
            int sent = acknowledged(acknowledged);
            ProgressWait.Result drain = ProgressWait.await(() -> reader.distinct() >= sent,
                    () -> reader.distinct() + fleet.logBytes(), s.drainStall(), DRAIN_CAP);
            log.info("reading back: {}", drain.describe());
            double seconds = reader.distinct() == 0 ? Double.NaN : (reader.lastArrival() - started) / 1e9;
            Thread.sleep(SETTLE.toMillis());
            reader.stop();
            return reader.result(s, acknowledged, sent, sendFailures.get(), fleet.kills(),
                    (lastAcknowledged.get() - started) / 1e9, seconds, drain.outcome() == ProgressWait.Outcome.CAPPED);
        } finally {
            // Before the fleet stops: no kill may start a processor again after that.
            schedule.shutdownNow();
            schedule.awaitTermination(60, TimeUnit.SECONDS);
        }
    }

    private static int acknowledged(BitSet acknowledged) {
        synchronized (acknowledged) {
            return acknowledged.cardinality();
        }
    }

    private static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        // Idempotent, acks from all replicas (Kafka's defaults, stated): a retried send is not an extra input.
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** The processor child JVMs: started, killed and restarted in turns, stopped with SIGTERM at the end. */
    private static final class Fleet implements AutoCloseable {
        private final Settings settings;
        private final String bootstrap;
        private final String registryUrl;
        private final Process[] children;
        private final Thread killOnExit;
        private int kills;

        Fleet(Settings settings, String bootstrap, String registryUrl) {
            this.settings = settings;
            this.bootstrap = bootstrap;
            this.registryUrl = registryUrl;
            this.children = new Process[settings.processors()];
            // Ctrl-C of this JVM: take the children down with it.
            this.killOnExit = new Thread(this::killAll, "soak-processors-kill");
            Runtime.getRuntime().addShutdownHook(killOnExit);
        }

        /** Starts every processor and waits until each has joined the group and runs. */
        synchronized void startAll() throws Exception {
            for (int n = 0; n < children.length; n++) {
                children[n] = start(n);
            }
            for (int n = 0; n < children.length; n++) {
                ProcessorProcess.awaitLog(children[n], log(n), "-> RUNNING", 1, START_STALL);
            }
        }

        private Process start(int n) throws Exception {
            Map<String, String> c = new HashMap<>();
            c.put("bootstrap.servers", bootstrap);
            c.put("schema.registry.url", registryUrl);
            c.put("application.id", APPLICATION_ID);
            c.put("input.topic", INPUT);
            c.put("output.topic", OUTPUT);
            c.put("dlq.topic", DEAD_LETTERS);
            c.put("model.dir", settings.modelDir().toAbsolutePath().toString());
            c.put("task.file", settings.taskFile().toAbsolutePath().toString());
            c.put("device", processorDevice(settings.device(), n));
            c.put("metrics.port", "-1");
            c.put("instance.id", "processor-" + (n + 1));
            c.put("state.dir", settings.workDir().resolve("state-" + (n + 1)).toAbsolutePath().toString());
            c.put("adapter.cache.dir", settings.workDir().resolve("adapters-" + (n + 1)).toAbsolutePath().toString());
            c.put("topics.partitions", String.valueOf(settings.partitions()));
            c.put("kafka.consumer.session.timeout.ms", SESSION_TIMEOUT_MS);
            return ProcessorProcess.start(c, log(n));
        }

        private Path log(int n) {
            return settings.workDir().resolve("processor-" + (n + 1) + ".log");
        }

        /** SIGKILL of the next processor in turn (no shutdown hook, no flush, no commit), started again at once. */
        synchronized void killNext() {
            int n = kills % children.length;
            Process killed = children[n];
            try {
                killed.destroyForcibly(); // SIGKILL on Linux
                killed.waitFor(30, TimeUnit.SECONDS);
                children[n] = start(n);
                kills++;
                log.info("kill -9 of processor-{} (pid {}); restarted as pid {}", n + 1, killed.pid(), children[n].pid());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Exception e) {
                log.error("restarting processor-{} failed", n + 1, e);
            }
        }

        synchronized int kills() {
            return kills;
        }

        /** Bytes the processors have logged so far: they grow while one restarts, rebalances or restores. */
        long logBytes() {
            long bytes = 0;
            for (int n = 0; n < settings.processors(); n++) {
                bytes += ProcessorProcess.size(log(n));
            }
            return bytes;
        }

        private synchronized void killAll() {
            for (Process child : children) {
                if (child != null) {
                    child.destroyForcibly();
                }
            }
        }

        /** SIGTERM to all at once, so they leave the group together, then SIGKILL to any still there after 30 s. */
        @Override
        public synchronized void close() throws InterruptedException {
            for (Process child : children) {
                if (child != null) {
                    child.destroy();
                }
            }
            for (Process child : children) {
                if (child != null) {
                    ProcessorProcess.stop(child, Duration.ofSeconds(30));
                }
            }
            try {
                Runtime.getRuntime().removeShutdownHook(killOnExit);
            } catch (IllegalStateException shuttingDown) {
                // The hook is running: it kills them.
            }
        }
    }

    /**
     * Reads the output and dead-letter topics from the start as a downstream consumer would
     * ({@code read_committed}), on its own thread, and counts each id; the latency of an id is from its input's
     * timestamp (the producer's send) to its first arrival here.
     */
    private static final class Reader implements AutoCloseable {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final Deserializer<Classification> results;
        private final Map<String, Integer> timesRead;
        private final List<Double> latenciesMs;
        private final AtomicInteger distinct = new AtomicInteger();
        private final AtomicLong lastArrival = new AtomicLong();
        private final Thread thread = new Thread(this::readUntilStopped, "soak-reader");
        private volatile boolean running = true;
        private int deadLettered;

        Reader(String bootstrap, int expected, Deserializer<Classification> results) {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
            // Assigned rather than subscribed: no group to join, so reading starts before the first send.
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(OUTPUT, DEAD_LETTERS)) {
                consumer.partitionsFor(topic).forEach(info -> partitions.add(new TopicPartition(topic, info.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            this.results = results;
            this.timesRead = new HashMap<>(2 * expected);
            this.latenciesMs = new ArrayList<>(expected);
        }

        void start() {
            thread.start();
        }

        private void readUntilStopped() {
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    long now = System.currentTimeMillis();
                    if (r.topic().equals(DEAD_LETTERS)) {
                        deadLettered++;
                        continue;
                    }
                    String id = results.deserialize(r.topic(), r.value()).getId();
                    if (timesRead.merge(id, 1, Integer::sum) == 1) {
                        latenciesMs.add((double) (now - r.timestamp()));
                        distinct.incrementAndGet();
                        lastArrival.set(System.nanoTime());
                    }
                }
            }
        }

        int distinct() {
            return distinct.get();
        }

        long lastArrival() {
            return lastArrival.get();
        }

        /** Ends the poll loop and waits for it: after this the counts are final. */
        void stop() throws InterruptedException {
            running = false;
            if (thread.isAlive()) {
                thread.join();
            }
        }

        /** @param stillMoving the drain ended at its cap: the ids missing were on their way, not lost */
        Result result(Settings s, BitSet acknowledged, int sent, int sendFailures, int kills, double sendSeconds,
                double seconds, boolean stillMoving) {
            int received = 0;
            int doubled = 0;
            for (int i = acknowledged.nextSetBit(0); i >= 0; i = acknowledged.nextSetBit(i + 1)) {
                Integer times = timesRead.get("soak-" + i);
                if (times != null) {
                    received++;
                    if (times > 1) {
                        doubled++;
                    }
                }
            }
            double[] sorted = latenciesMs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            int missing = sent - received;
            return new Result(sent, sendFailures, received, stillMoving ? 0 : missing, stillMoving ? missing : 0,
                    doubled, deadLettered, kills,
                    percentile(sorted, 0.50), percentile(sorted, 0.99), percentile(sorted, 1.0), sendSeconds, seconds,
                    s.workDir());
        }

        @Override
        public void close() throws InterruptedException {
            stop();
            consumer.close();
        }
    }

    private static double percentile(double[] sorted, double q) {
        return sorted.length == 0 ? Double.NaN : sorted[Math.max(0, (int) Math.ceil(q * sorted.length) - 1)];
    }
}
