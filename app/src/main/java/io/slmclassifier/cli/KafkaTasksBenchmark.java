package io.slmclassifier.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.devkit.LocalKafkaBroker;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.rollout.AdapterArchive;
import io.slmclassifier.rollout.AdapterRollout;
import io.slmclassifier.rollout.AdapterLineage;
import io.slmclassifier.rollout.AdapterStore;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.stream.ProcessorService;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Several tasks on one processor through Kafka, against one task on a processor of its own, in the same run: a
 * local broker, the embedded registry, and two processors on the same model.
 *
 * <ul>
 *   <li><b>Several:</b> one processor serving N tasks (declared with {@code tasks=}, each on its own
 *       {@code <task>.*} topics), each with its own rank-16 adapter on all seven projections, applied unmerged.</li>
 *   <li><b>Single:</b> a processor of the first task alone ({@code task.file=}, the {@code intents.*} topics), its
 *       adapter merged into the weights: the processor of one task as it is deployed today.</li>
 * </ul>
 * Every adapter is installed the real way: a random rank-16 adapter is packed as the trainer packs one, stored on the
 * task's adapters topic and announced ACTIVE (unsigned) on the task's control topic; the bench waits until each
 * task serves it.
 *
 * <p><b>Throughput</b> at saturation: all input produced up front, dealt to the tasks by the mix (smooth weighted
 * round robin, {@link TasksBenchmark#deal}); the clock stops at the last result read by a {@code read_committed}
 * consumer. Latency is from the input record's timestamp to that consumer. The two processors run in turns, each
 * run of the several tasks right after one of the single task, so that a slow spell of a shared machine falls on
 * both; the ratio is the median of those pairs.
 *
 * <p><b>Swap:</b> while a producer keeps sending at half the several tasks' measured rate (by the mix), each task in
 * turn gets version 2: its archive is stored first, then the clock starts as its control event is written, and
 * stops when the first result of that task naming version 2 reaches the consumer.
 */
public final class KafkaTasksBenchmark {

    /**
     * What the runs share.
     *
     * @param tasks the tasks of the several-task processor; the first is also the single task
     * @param shares each task's share of the messages
     * @param streamThreads stream threads of each task's Streams application, and partitions of each input topic
     * @param overrides processor configuration set on top of the bench's, on both processors
     */
    public record Settings(Path modelDir, List<Task> tasks, double[] shares, List<String> texts, int batch,
            String device, int streamThreads, int repeats, Map<String, String> overrides) {}

    /** One task's part of a configuration's runs; latencies pooled over the runs. */
    public record TaskFigures(String task, double share, int messages, double messagesPerSecond, double p50Ms,
            double p99Ms) {}

    /**
     * One configuration's measured runs.
     *
     * @param messagesPerSecond median over the runs of all messages over the time to the last result
     * @param perTask each task's messages over the time to its own last result (median over the runs)
     */
    public record Run(String what, double messagesPerSecond, List<TaskFigures> perTask) {}

    /** From a task's control event of a new version to the first result of that version at the consumer. */
    public record Swap(String task, long version, double eventToFirstResultMs) {}

    /**
     * @param ratio median over the paired runs of the several tasks' aggregate rate over the single task's
     * @param swapRate messages/s the producer kept up while the versions were swapped
     */
    public record Result(int messages, int batch, Run single, Run several, double ratio, double swapRate,
            List<Swap> singleSwaps, List<Swap> severalSwaps) {}

    /** A run whose results stop coming for this long has lost some: the bench fails rather than report it. */
    private static final Duration STALL = Duration.ofMinutes(3);

    private KafkaTasksBenchmark() {}

    public static Result run(Settings settings) throws Exception {
        Path work = Files.createTempDirectory("slm-bench-tasks-");
        List<Path> taskFiles = writeTaskFiles(settings.tasks(), work.resolve("tasks"));
        try (LocalKafkaBroker broker = LocalKafkaBroker.start();
                EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.builder().kafka(broker.bootstrapServers()).start()) {
            Map<String, String> single = processorConfig(settings, broker, registry, work.resolve("single"));
            single.put("application.id", "bench-single");
            single.put("task.file", taskFiles.get(0).toString());
            Map<String, String> several = processorConfig(settings, broker, registry, work.resolve("several"));
            several.put("application.id", "bench-tasks");
            several.put("tasks", String.join(",", taskFiles.stream().map(Path::toString).toList()));
            try (Served one = Served.start(single, List.of(Lane.single(settings.tasks().get(0))), broker, registry);
                    Served many = Served.start(several, settings.tasks().stream().map(Lane::of).toList(), broker,
                            registry);
                    KafkaProducer<byte[], byte[]> producer = producer(broker)) {
                one.publishAndAwait(1, 100);
                many.publishAndAwait(1, 1000);
                double[] alone = {1};
                // Both warm: the JIT, the first transactions, TorchScript's first passes at new shapes.
                int warmUp = Math.min(settings.texts().size(), 4 * settings.batch() * settings.tasks().size());
                one.drive(producer, alone, settings.texts().subList(0, warmUp));
                many.drive(producer, settings.shares(), settings.texts().subList(0, warmUp));
                List<Drive> singleRuns = new ArrayList<>();
                List<Drive> severalRuns = new ArrayList<>();
                double[] ratios = new double[settings.repeats()];
                for (int r = 0; r < settings.repeats(); r++) {
                    singleRuns.add(one.drive(producer, alone, settings.texts()));
                    severalRuns.add(many.drive(producer, settings.shares(), settings.texts()));
                    ratios[r] = severalRuns.get(r).rate() / singleRuns.get(r).rate();
                }
                Run singleRun = summarize("1 task, merged", one.lanes, alone, singleRuns);
                Run severalRun = summarize(settings.tasks().size() + " tasks, unmerged", many.lanes, settings.shares(),
                        severalRuns);
                double swapRate = severalRun.messagesPerSecond() / 2;
                List<Swap> severalSwaps = many.swaps(producer, settings.shares(), settings.texts(), swapRate, 2, 2000);
                List<Swap> singleSwaps = one.swaps(producer, alone, settings.texts(), swapRate, 2, 200);
                return new Result(settings.texts().size(), settings.batch(), singleRun, severalRun, median(ratios),
                        swapRate, singleSwaps, severalSwaps);
            }
        }
    }

    /** The processor configuration both share: this broker and registry, the model, batches, threads. */
    private static Map<String, String> processorConfig(Settings settings, LocalKafkaBroker broker,
            EmbeddedSchemaRegistry registry, Path dir) {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", broker.bootstrapServers());
        c.put("schema.registry.url", registry.url());
        c.put("model.dir", settings.modelDir().toString());
        c.put("device", settings.device());
        c.put("metrics.port", "-1");
        c.put("state.dir", dir.resolve("streams").toString());
        c.put("adapter.cache.dir", dir.resolve("adapters").toString());
        c.put("batch.max.size", String.valueOf(settings.batch()));
        c.put("topics.partitions", String.valueOf(settings.streamThreads()));
        c.put("num.stream.threads", String.valueOf(settings.streamThreads()));
        c.putAll(settings.overrides());
        return c;
    }

    /** The tasks as files a processor reads (JSON, a task file's other syntax), one per task, in order. */
    static List<Path> writeTaskFiles(List<Task> tasks, Path dir) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper();
        List<Path> files = new ArrayList<>();
        for (Task task : tasks) {
            Path file = dir.resolve(task.name() + ".json");
            Files.writeString(file, json.writeValueAsString(task));
            if (!Task.load(file).equals(task)) {
                throw new IllegalStateException("task " + task.name() + " does not read back as written: " + file);
            }
            files.add(file);
        }
        return files;
    }

    /** One task of a processor under test, with its topics. */
    private record Lane(Task task, String input, String output, String control, String adapters) {
        /** A task of a processor of several: its topics named after it. */
        static Lane of(Task task) {
            String n = task.name();
            return new Lane(task, n + ".in", n + ".classified", n + ".control", n + ".adapters");
        }

        /** The task of a processor of one: the topics of today. */
        static Lane single(Task task) {
            return new Lane(task, "intents.in", "intents.classified", "intents.control", "intents.adapters");
        }
    }

    /** One run: the wall time to each task's last result, and each task's latencies. */
    private record Drive(int messages, double seconds, double[] laneSeconds, List<double[]> latenciesMs) {
        double rate() {
            return messages / seconds;
        }
    }

    /** A processor under test, its tasks, and the read_committed consumer of all their outputs. */
    private static final class Served implements AutoCloseable {
        final ProcessorService service;
        final List<Lane> lanes;
        final Properties kafka;
        final SchemaRegistryClient registry;
        final List<ControlLog> controls;
        final Reader reader;
        final Thread reading;

        private Served(ProcessorService service, List<Lane> lanes, LocalKafkaBroker broker, String registryUrl) {
            this.service = service;
            this.lanes = lanes;
            this.kafka = new Properties();
            kafka.put("bootstrap.servers", broker.bootstrapServers());
            this.registry = SchemaRegistryClient.builder(registryUrl).build();
            // One control log per task, kept open: its producer connected and its schema registered by the first
            // version, so that the swaps time the event and the processor, not the publisher's start.
            this.controls = lanes.stream().map(lane -> new ControlLog(kafka, lane.control(), new ControlRecords(registry),
                    io.slmclassifier.rollout.ControlSignature.none(), lane.task().name())).toList();
            this.reader = new Reader(broker, lanes, registry);
            this.reading = new Thread(reader, "bench-reader-" + lanes.get(0).task().name());
            reading.setDaemon(true);
            reading.start();
        }

        /** Starts the processor and waits until every task's Streams application runs. */
        static Served start(Map<String, String> config, List<Lane> lanes, LocalKafkaBroker broker,
                EmbeddedSchemaRegistry registry) throws Exception {
            ProcessorService service = ProcessorService.running(ProcessorConfig.of(config));
            try {
                return new Served(service, lanes, broker, registry.url());
            } catch (Exception | Error e) {
                service.close();
                throw e;
            }
        }

        private AdapterRollout rollout(Lane lane) {
            return lanes.size() == 1 ? service.rollout() : service.pipeline(lane.task().name()).rollout();
        }

        /** Publishes {@code version} of every task (adapter seeds from {@code seed}) and waits until each serves it. */
        void publishAndAwait(long version, long seed) throws Exception {
            for (int i = 0; i < lanes.size(); i++) {
                publish(lanes.get(i), store(lanes.get(i), version, seed + i));
            }
            long deadline = System.nanoTime() + STALL.toNanos();
            for (Lane lane : lanes) {
                while (rollout(lane).serving() != version) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException(lane.task().name() + " never served version " + version);
                    }
                    Thread.sleep(20);
                }
            }
        }

        /**
         * A random rank-16 adapter on all seven projections for this model, packed as the trainer packs one and
         * stored on the task's adapters topic; returns its event, not yet published.
         */
        AdapterEvent store(Lane lane, long version, long seed) throws IOException {
            LanguageModel model = service.classifier().model();
            Path dir = Files.createTempDirectory("slm-bench-adapter-");
            try (LoraAdapter adapter = LoraAdapter.random(LoraConfig.defaults(model.id()), model.weights().config,
                    model.manager(), seed)) {
                adapter.save(dir);
            }
            byte[] archive = AdapterArchive.pack(dir);
            return AdapterLineage.of(model.id(), model.dir(), lane.task())
                    .store(new AdapterStore("kafka", kafka, lane.adapters(), ""), version, archive)
                    .setParentVersion(version > 1 ? version - 1 : null).setMessage("bench").build();
        }

        /** Writes the event on the task's control topic, as the trainer's publication does. */
        void publish(Lane lane, AdapterEvent event) throws IOException {
            controls.get(lanes.indexOf(lane)).publish(event);
        }

        /** All texts produced up front, dealt to the tasks by the shares; returns when every result was read. */
        Drive drive(KafkaProducer<byte[], byte[]> producer, double[] shares, List<String> texts) {
            int[] dealt = TasksBenchmark.deal(shares, texts.size());
            int[] expected = new int[lanes.size()];
            for (int lane : dealt) {
                expected[lane]++;
            }
            reader.expect(expected);
            long start = System.nanoTime();
            for (int i = 0; i < texts.size(); i++) {
                producer.send(record(lanes.get(dealt[i]).input(), i, texts.get(i), System.currentTimeMillis()));
            }
            producer.flush();
            reader.awaitExpected(STALL);
            double[] laneSeconds = new double[lanes.size()];
            for (int l = 0; l < lanes.size(); l++) {
                laneSeconds[l] = (reader.lastArrivalNanos(l) - start) / 1e9;
            }
            double seconds = Arrays.stream(laneSeconds).max().orElse(0);
            return new Drive(texts.size(), seconds, laneSeconds, reader.latencies());
        }

        /**
         * While a producer sends at {@code rate} by the shares, each task in turn gets {@code version}: the archive
         * is stored first, then the clock runs from its control event to the task's first result of the version.
         */
        List<Swap> swaps(KafkaProducer<byte[], byte[]> producer, double[] shares, List<String> texts, double rate,
                long version, long seed) throws Exception {
            int[] dealt = TasksBenchmark.deal(shares, texts.size());
            reader.expect(null);
            Thread sending = new Thread(() -> {
                long started = System.nanoTime();
                for (long i = 0; !Thread.currentThread().isInterrupted(); i++) {
                    long wait = started + (long) (i * 1e9 / rate) - System.nanoTime();
                    if (wait > 0) {
                        LockSupport.parkNanos(wait);
                    }
                    int m = (int) (i % texts.size());
                    producer.send(record(lanes.get(dealt[m]).input(), m, texts.get(m), System.currentTimeMillis()));
                }
            }, "bench-steady-producer");
            sending.start();
            List<Swap> swaps = new ArrayList<>();
            try {
                for (int l = 0; l < lanes.size(); l++) {
                    Lane lane = lanes.get(l);
                    AdapterEvent event = store(lane, version, seed + l);
                    reader.watch(l, version);
                    long published = System.nanoTime();
                    publish(lane, event);
                    long first = reader.awaitFirstOfVersion(STALL);
                    swaps.add(new Swap(lane.task().name(), version, (first - published) / 1e6));
                }
            } finally {
                sending.interrupt();
                sending.join();
                producer.flush();
            }
            return swaps;
        }

        @Override
        public void close() throws InterruptedException {
            reader.stop();
            reading.join();
            controls.forEach(ControlLog::close);
            service.close();
        }
    }

    /**
     * The read_committed consumer of every output topic of a processor, on a thread of its own: per task the
     * latency of each result (its record timestamp, which is its input's, to its arrival) and the time of the last
     * arrival; while a version is watched, the arrival of the task's first result naming it.
     */
    private static final class Reader implements Runnable {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final Map<String, Integer> laneOfTopic = new HashMap<>();
        private final AvroSerde<Classification> results;
        private int[] expected;
        private List<List<Double>> latencies;
        private long[] lastArrival;
        private int watchedLane = -1;
        private long watchedVersion;
        private long firstOfVersion = -1;
        private volatile boolean running = true;

        Reader(LocalKafkaBroker broker, List<Lane> lanes, SchemaRegistryClient registry) {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
            for (int l = 0; l < lanes.size(); l++) {
                laneOfTopic.put(lanes.get(l).output(), l);
            }
            this.results = AvroSerde.forType(Classification.class, registry);
            // Assigned, not subscribed: positioned at the end before any run, with no rebalance to wait for.
            var partitions = new ArrayList<org.apache.kafka.common.TopicPartition>();
            for (Lane lane : lanes) {
                consumer.partitionsFor(lane.output()).forEach(info ->
                        partitions.add(new org.apache.kafka.common.TopicPartition(info.topic(), info.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            partitions.forEach(consumer::position);
            expect(null);
        }

        /** Starts counting afresh: {@code counts} results per task (null: as many as come). */
        synchronized void expect(int[] counts) {
            int n = laneOfTopic.size();
            expected = counts;
            latencies = new ArrayList<>();
            for (int l = 0; l < n; l++) {
                latencies.add(new ArrayList<>());
            }
            lastArrival = new long[n];
        }

        synchronized void watch(int lane, long version) {
            watchedLane = lane;
            watchedVersion = version;
            firstOfVersion = -1;
        }

        @Override
        public void run() {
            try {
                while (running) {
                    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                        arrived(r, System.currentTimeMillis(), System.nanoTime());
                    }
                }
            } catch (org.apache.kafka.common.errors.WakeupException e) {
                // stopped
            } finally {
                consumer.close();
            }
        }

        void stop() {
            running = false;
            consumer.wakeup();
        }

        private synchronized void arrived(ConsumerRecord<byte[], byte[]> r, long nowMillis, long nowNanos) {
            int lane = laneOfTopic.get(r.topic());
            latencies.get(lane).add((double) (nowMillis - r.timestamp()));
            lastArrival[lane] = nowNanos;
            if (lane == watchedLane && firstOfVersion < 0) {
                Long version = results.deserializer().deserialize(r.topic(), r.headers(), r.value()).getAdapterVersion();
                if (version != null && version == watchedVersion) {
                    firstOfVersion = nowNanos;
                }
            }
            notifyAll();
        }

        /** Waits until every task's expected results came; fails when none came for {@code stall}. */
        synchronized void awaitExpected(Duration stall) {
            long lastCount = -1;
            long lastProgress = System.nanoTime();
            while (!complete()) {
                long count = latencies.stream().mapToLong(List::size).sum();
                if (count != lastCount) {
                    lastCount = count;
                    lastProgress = System.nanoTime();
                } else if (System.nanoTime() - lastProgress > stall.toNanos()) {
                    throw new IllegalStateException("results stopped coming: " + count + " of "
                            + Arrays.stream(expected).sum());
                }
                waitQuietly(100);
            }
        }

        private boolean complete() {
            for (int l = 0; l < expected.length; l++) {
                if (latencies.get(l).size() < expected[l]) {
                    return false;
                }
            }
            return true;
        }

        /** The arrival (System.nanoTime) of the watched task's first result of the watched version. */
        synchronized long awaitFirstOfVersion(Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (firstOfVersion < 0) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("no result of version " + watchedVersion + " within " + timeout);
                }
                waitQuietly(50);
            }
            return firstOfVersion;
        }

        synchronized long lastArrivalNanos(int lane) {
            return lastArrival[lane];
        }

        synchronized List<double[]> latencies() {
            return latencies.stream().map(l -> l.stream().mapToDouble(Double::doubleValue).toArray()).toList();
        }

        private void waitQuietly(long ms) {
            try {
                wait(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for results", e);
            }
        }
    }

    private static Run summarize(String what, List<Lane> lanes, double[] shares, List<Drive> drives) {
        double[] rates = drives.stream().mapToDouble(Drive::rate).toArray();
        List<TaskFigures> perTask = new ArrayList<>();
        for (int l = 0; l < lanes.size(); l++) {
            final int lane = l;
            double[] laneRates = drives.stream()
                    .mapToDouble(d -> d.latenciesMs().get(lane).length / d.laneSeconds()[lane]).toArray();
            double[] pooled = drives.stream().flatMapToDouble(d -> Arrays.stream(d.latenciesMs().get(lane)))
                    .sorted().toArray();
            perTask.add(new TaskFigures(lanes.get(l).task().name(), shares[l], pooled.length / drives.size(),
                    median(laneRates), LatencyBenchmark.percentile(pooled, 0.50),
                    LatencyBenchmark.percentile(pooled, 0.99)));
        }
        return new Run(what, median(rates), perTask);
    }

    private static ProducerRecord<byte[], byte[]> record(String topic, int i, String text, long timestamp) {
        return new ProducerRecord<>(topic, null, timestamp, ("k" + (i % 16)).getBytes(StandardCharsets.UTF_8),
                text.getBytes(StandardCharsets.UTF_8));
    }

    /** The users' producer: connected before the clock starts, as a long-lived one would be. */
    private static KafkaProducer<byte[], byte[]> producer(LocalKafkaBroker broker) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
