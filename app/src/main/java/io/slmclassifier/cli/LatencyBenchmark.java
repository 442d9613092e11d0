package io.slmclassifier.cli;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.devkit.LocalKafkaBroker;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.stream.InferenceWorker;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.stream.ProcessorService;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Latency at a steady rate, as a streaming user sees it: a producer sends at a fixed rate (open loop: each record's
 * timestamp is the time the schedule says it is sent, so a producer that falls behind does not hide the delay) to
 * a processor started for the run, and a {@code read_committed} consumer reads the results. The latency of a
 * record is from its timestamp to its result's arrival at that consumer, reported over the whole run and per
 * window from the moment the processor is ready, so that the first seconds after a start show. Beside it, per
 * window, the forward passes of the run's processor (how many, how full, how long, and how much of the window the
 * inference worker spent in them), so that a latency tail can be read against what the worker was doing: one slow
 * pass at a new size (a kernel compiling), passes growing while the worker is busy all the time (a queue
 * building), or hardly any passes at all (the stream threads not yet handing records over).
 *
 * <p>Each run gets a processor of its own, started and ready (Kafka Streams RUNNING) just before the producer
 * starts, with its own topics and application id on one shared broker: every run sees a fresh start.
 */
public final class LatencyBenchmark {

    /**
     * What every run shares.
     *
     * @param streamThreads stream threads of each processor, and partitions of its input topic
     * @param overrides processor configuration set on top of the bench's (e.g. batch.linger.ms)
     */
    public record Settings(Path modelDir, Path taskFile, String device, int batch, int streamThreads,
            List<String> texts, Duration duration, Duration window, Map<String, String> overrides) {}

    /**
     * Latencies of the records sent within one window of the run (by their timestamp), and the passes that ended in
     * it.
     *
     * @param fromSeconds the window's start, in seconds after the processor was ready
     * @param emitP99Ms the part of the p99 up to the processor emitting the result: a tail that is there already
     *     waited before or in the processor, one that is not waited for its transaction to commit
     */
    public record Window(double fromSeconds, int count, double p50Ms, double p99Ms, double maxMs, double emitP99Ms,
            Passes passes) {}

    /**
     * The inference worker's forward passes that ended within one window. The last window also holds the passes
     * after the last send, while the results were drained, and its wall time reaches to the end of the last pass.
     *
     * @param count passes, failed ones included (they took the worker's time)
     * @param texts texts in those passes, each counted once per pass it was in
     * @param p50Ms the median pass time
     * @param busyPercent the share of the window's wall time the worker spent in passes (a pass across a window's
     *     edge counts in each window for its part)
     */
    public record Passes(int count, int texts, double meanTexts, int maxTexts, double p50Ms, double maxMs,
            double busyPercent) {}

    /**
     * One forward pass of the run's processor.
     *
     * @param endSeconds when it ended, in seconds after the processor was ready
     * @param failed the pass failed (its texts were then retried in halves, each half a pass of its own)
     */
    public record Pass(double endSeconds, int texts, double ms, boolean failed) {}

    /**
     * One run at one rate.
     *
     * @param sentPerSecond the rate the producer kept (records over the sending time)
     * @param emitP50Ms the part of the latency up to the processor emitting the result (queue, batch, pass): the
     *     rest is the result waiting to become visible to read_committed consumers (commit, producer linger)
     * @param firstPassSeconds when the first pass ended, in seconds after the processor was ready (NaN: none ran)
     * @param slowestPasses the {@value #SLOWEST} slowest passes of the run, slowest first
     */
    public record Result(String guarantee, double rate, double sentPerSecond, int sent, int received, double p50Ms,
            double p99Ms, double p999Ms, double maxMs, double emitP50Ms, double emitP99Ms, List<Window> windows,
            int failedPasses, double firstPassSeconds, List<Pass> slowestPasses) {}

    /** The slowest passes a run names. */
    static final int SLOWEST = 5;

    /** Results of runs not received this long after the last send are counted as missing. */
    private static final Duration DRAIN = Duration.ofSeconds(60);
    /** How long the results reader may take to join its group before a run. */
    private static final Duration ASSIGNMENT_TIMEOUT = Duration.ofSeconds(60);

    private final Settings settings;
    private final LocalKafkaBroker broker;
    private final EmbeddedSchemaRegistry registry;
    private final AtomicInteger runs = new AtomicInteger();

    private LatencyBenchmark(Settings settings, LocalKafkaBroker broker, EmbeddedSchemaRegistry registry) {
        this.settings = settings;
        this.broker = broker;
        this.registry = registry;
    }

    /** Starts a local broker and registry for the runs; {@code body} gets the benchmark. */
    public static void with(Settings settings, BenchBody body) throws Exception {
        try (LocalKafkaBroker broker = LocalKafkaBroker.start();
                EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.builder().kafka(broker.bootstrapServers()).start()) {
            body.run(new LatencyBenchmark(settings, broker, registry));
        }
    }

    @FunctionalInterface
    public interface BenchBody {
        void run(LatencyBenchmark bench) throws Exception;
    }

    /**
     * Messages/s a fresh processor drains when {@code messages} wait for it (after a warm-up of two full batches):
     * the capacity the rates are fractions of.
     */
    public double capacity(String guarantee, int messages) throws Exception {
        String run = "capacity" + runs.incrementAndGet();
        try (ProcessorService service = start(run, guarantee, new PassRecorder());
                KafkaConsumer<byte[], byte[]> reader = reader(run);
                KafkaProducer<byte[], byte[]> producer = producer()) {
            List<String> warm = settings.texts().subList(0, Math.min(settings.texts().size(), 2 * settings.batch()));
            for (int i = 0; i < warm.size(); i++) {
                producer.send(record(run, i, warm.get(i), System.currentTimeMillis()));
            }
            producer.flush();
            drain(reader, warm.size(), Duration.ofMinutes(5));
            long start = System.nanoTime();
            for (int i = 0; i < messages; i++) {
                producer.send(record(run, i, text(i), System.currentTimeMillis()));
            }
            producer.flush();
            int received = drain(reader, messages, Duration.ofMinutes(10));
            return received / ((System.nanoTime() - start) / 1e9);
        }
    }

    /** Sends at {@code rate} messages/s for the settings' duration to a processor started for this run. */
    public Result run(String guarantee, double rate) throws Exception {
        String run = "latency" + runs.incrementAndGet();
        PassRecorder passes = new PassRecorder();
        try (ProcessorService service = start(run, guarantee, passes);
                KafkaConsumer<byte[], byte[]> reader = reader(run);
                KafkaProducer<byte[], byte[]> producer = producer()) {
            int total = (int) Math.max(1, Math.round(rate * settings.duration().toMillis() / 1000.0));
            long[] sentAt = new long[total];
            long[] emittedAt = new long[total];
            long[] receivedAt = new long[total];
            Arrays.fill(receivedAt, -1);
            awaitAssignment(reader);
            // A user's producer knows the topic's partitions and leaders already; a new one fetches them at its first
            // send, which blocks, and the records due meanwhile would go out late in a burst.
            producer.partitionsFor(run + ".in");
            Reader consumer = new Reader(reader, registry.url(), run, sentAt, emittedAt, receivedAt);
            Thread reading = new Thread(consumer, "latency-reader");
            reading.start();
            // The clock starts when the processor is ready: the first window is its first seconds of service.
            long readyMillis = System.currentTimeMillis();
            long readyNanos = System.nanoTime();
            for (int i = 0; i < total; i++) {
                long due = readyNanos + (long) (i * 1e9 / rate);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(wait);
                }
                sentAt[i] = readyMillis + (long) (i * 1000.0 / rate);
                producer.send(record(run, i, text(i), sentAt[i]));
            }
            producer.flush();
            double sendingSeconds = (System.nanoTime() - readyNanos) / 1e9;
            consumer.awaitAll(total, DRAIN);
            reading.interrupt();
            reading.join();
            return result(guarantee, rate, total / sendingSeconds, readyMillis, sentAt, emittedAt, receivedAt,
                    passes.since(readyNanos));
        }
    }

    private Result result(String guarantee, double rate, double sentPerSecond, long readyMillis, long[] sentAt,
            long[] emittedAt, long[] receivedAt, List<Pass> passes) {
        List<Double> all = new ArrayList<>();
        List<Double> emit = new ArrayList<>();
        int windows = (int) Math.ceil(settings.duration().toMillis() / (double) settings.window().toMillis());
        List<List<Double>> perWindow = new ArrayList<>();
        List<List<Double>> emitPerWindow = new ArrayList<>();
        for (int w = 0; w < windows; w++) {
            perWindow.add(new ArrayList<>());
            emitPerWindow.add(new ArrayList<>());
        }
        for (int i = 0; i < sentAt.length; i++) {
            if (receivedAt[i] < 0) {
                continue;
            }
            double latency = receivedAt[i] - sentAt[i];
            double emitted = emittedAt[i] - sentAt[i];
            all.add(latency);
            emit.add(emitted);
            int w = (int) Math.min(windows - 1, (sentAt[i] - readyMillis) / settings.window().toMillis());
            perWindow.get(w).add(latency);
            emitPerWindow.get(w).add(emitted);
        }
        double[] sorted = sorted(all);
        double[] emitSorted = sorted(emit);
        List<Passes> passesPerWindow = passesPerWindow(passes, settings.window().toMillis() / 1000.0, windows,
                settings.duration().toMillis() / 1000.0);
        List<Window> series = new ArrayList<>();
        for (int w = 0; w < windows; w++) {
            double[] s = sorted(perWindow.get(w));
            series.add(new Window(w * settings.window().toMillis() / 1000.0, s.length, percentile(s, 0.50),
                    percentile(s, 0.99), percentile(s, 1.0), percentile(sorted(emitPerWindow.get(w)), 0.99),
                    passesPerWindow.get(w)));
        }
        List<Pass> slowest = passes.stream().sorted(Comparator.comparingDouble(Pass::ms).reversed()).limit(SLOWEST)
                .toList();
        return new Result(guarantee, rate, sentPerSecond, sentAt.length, sorted.length, percentile(sorted, 0.50),
                percentile(sorted, 0.99), percentile(sorted, 0.999), percentile(sorted, 1.0),
                percentile(emitSorted, 0.50), percentile(emitSorted, 0.99), series,
                (int) passes.stream().filter(Pass::failed).count(),
                passes.isEmpty() ? Double.NaN : passes.get(0).endSeconds(), slowest);
    }

    /**
     * The passes of each window, by when they ended; passes after the run's duration go to the last window, whose
     * wall time then reaches to the end of the last pass. The busy share counts each pass's time where it fell, so
     * it is the worker's share of the window's wall time however passes straddle the edges.
     *
     * @param passes in the order they ended (the one worker runs one pass at a time)
     */
    static List<Passes> passesPerWindow(List<Pass> passes, double windowSeconds, int windows, double durationSeconds) {
        double lastEnd = passes.isEmpty() ? 0 : passes.get(passes.size() - 1).endSeconds();
        List<Passes> figures = new ArrayList<>();
        for (int w = 0; w < windows; w++) {
            boolean last = w == windows - 1;
            double from = w * windowSeconds;
            double to = last ? Math.max(durationSeconds, lastEnd) : from + windowSeconds;
            List<Double> times = new ArrayList<>();
            int texts = 0;
            int maxTexts = 0;
            double busySeconds = 0;
            for (Pass pass : passes) {
                double end = pass.endSeconds();
                double start = end - pass.ms() / 1000;
                busySeconds += Math.max(0, Math.min(end, to) - Math.max(start, from));
                // Ended here: before the first window counts in the first, after the last in the last.
                if ((w == 0 || end >= from) && (last || end < to)) {
                    times.add(pass.ms());
                    texts += pass.texts();
                    maxTexts = Math.max(maxTexts, pass.texts());
                }
            }
            double[] sorted = sorted(times);
            figures.add(new Passes(sorted.length, texts, sorted.length == 0 ? 0 : texts / (double) sorted.length,
                    maxTexts, percentile(sorted, 0.50), percentile(sorted, 1.0), 100 * busySeconds / (to - from)));
        }
        return figures;
    }

    /** A processor on this run's own topics and application id, started and RUNNING, its passes told to {@code passes}. */
    private ProcessorService start(String run, String guarantee, PassRecorder passes) throws Exception {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", broker.bootstrapServers());
        c.put("schema.registry.url", registry.url());
        c.put("application.id", "bench-" + run);
        c.put("processing.guarantee", guarantee);
        c.put("input.topic", run + ".in");
        c.put("output.topic", run + ".classified");
        c.put("dlq.topic", run + ".dlq");
        c.put("review.topic", run + ".review");
        c.put("model.dir", settings.modelDir().toString());
        c.put("task.file", settings.taskFile().toString());
        c.put("device", settings.device());
        c.put("metrics.port", "-1");
        c.put("state.dir", Files.createTempDirectory("slm-latency-state-").toString());
        c.put("batch.max.size", String.valueOf(settings.batch()));
        c.put("topics.partitions", String.valueOf(settings.streamThreads()));
        c.put("num.stream.threads", String.valueOf(settings.streamThreads()));
        c.putAll(settings.overrides());
        return ProcessorService.running(ProcessorConfig.of(c), passes);
    }

    /**
     * Every forward pass of a run's processor, stamped with when the worker reported it (at its end). It runs on the
     * worker's thread between the pass and its results going out, so it only appends.
     */
    private static final class PassRecorder implements InferenceWorker.Listener {
        private record Stamped(long endNanos, int texts, long nanos, boolean failed) {}

        private final List<Stamped> passes = new ArrayList<>();

        @Override
        public synchronized void forwardPass(String task, int texts, long nanos, boolean failed) {
            passes.add(new Stamped(System.nanoTime(), texts, nanos, failed));
        }

        /**
         * The passes that ended at or after {@code readyNanos}, in the order they ended, their times from it; not
         * the warm-up's, which run through the worker before the processor is ready.
         */
        synchronized List<Pass> since(long readyNanos) {
            return passes.stream().filter(p -> p.endNanos() >= readyNanos)
                    .map(p -> new Pass((p.endNanos() - readyNanos) / 1e9, p.texts(), p.nanos() / 1e6, p.failed()))
                    .toList();
        }
    }

    private String text(int i) {
        return settings.texts().get(i % settings.texts().size());
    }

    private static ProducerRecord<byte[], byte[]> record(String run, int i, String text, long timestamp) {
        return new ProducerRecord<>(run + ".in", null, timestamp, ("k" + (i % 16)).getBytes(StandardCharsets.UTF_8),
                text.getBytes(StandardCharsets.UTF_8), new org.apache.kafka.common.header.internals.RecordHeaders()
                        .add("bench-seq", Integer.toString(i).getBytes(StandardCharsets.UTF_8)));
    }

    /** The users' producer: connected before the clock starts, sending at once (no linger), acks from all. */
    private KafkaProducer<byte[], byte[]> producer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private KafkaConsumer<byte[], byte[]> reader(String run) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "bench-reader-" + run);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        KafkaConsumer<byte[], byte[]> reader = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        reader.subscribe(List.of(run + ".classified"));
        return reader;
    }

    /**
     * Polls until the reader's group gave it the results topic's partitions, before the clock starts: a user's
     * consumer is running when records are produced, and a join takes up to a second, which the first records
     * sent would otherwise wait for at the reader, not at the processor. Nothing is sent before, so nothing is
     * read here.
     */
    private static void awaitAssignment(KafkaConsumer<byte[], byte[]> reader) {
        long deadline = System.nanoTime() + ASSIGNMENT_TIMEOUT.toNanos();
        while (reader.assignment().isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the results reader got no partition in " + ASSIGNMENT_TIMEOUT);
            }
            if (!reader.poll(Duration.ofMillis(50)).isEmpty()) {
                throw new IllegalStateException("results before anything was sent");
            }
        }
    }

    /** Reads until {@code count} results came, or none came for {@code stall}; returns how many came. */
    private static int drain(KafkaConsumer<byte[], byte[]> reader, int count, Duration stall) {
        int received = 0;
        long lastProgress = System.nanoTime();
        while (received < count && System.nanoTime() - lastProgress < stall.toNanos()) {
            int n = reader.poll(Duration.ofMillis(100)).count();
            if (n > 0) {
                received += n;
                lastProgress = System.nanoTime();
            }
        }
        return received;
    }

    /**
     * The read_committed consumer of a run, on its own thread: the arrival time of each result by its sequence
     * number (header {@code bench-seq}, which results keep), and when the processor emitted it (the result's
     * processing time).
     */
    private static final class Reader implements Runnable {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final AvroSerde<Classification> serde;
        private final String topic;
        private final long[] sentAt;
        private final long[] emittedAt;
        private final long[] receivedAt;
        private final AtomicInteger received = new AtomicInteger();
        private volatile long lastArrival = System.nanoTime();

        Reader(KafkaConsumer<byte[], byte[]> consumer, String registryUrl, String run, long[] sentAt, long[] emittedAt,
                long[] receivedAt) {
            this.consumer = consumer;
            this.serde = AvroSerde.forType(Classification.class, SchemaRegistryClient.builder(registryUrl).build());
            this.topic = run + ".classified";
            this.sentAt = sentAt;
            this.emittedAt = emittedAt;
            this.receivedAt = receivedAt;
        }

        @Override
        public void run() {
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                        long now = System.currentTimeMillis();
                        var seq = r.headers().lastHeader("bench-seq");
                        if (seq == null) {
                            continue;
                        }
                        int i = Integer.parseInt(new String(seq.value(), StandardCharsets.UTF_8));
                        if (receivedAt[i] < 0) {
                            receivedAt[i] = now;
                            emittedAt[i] = serde.deserializer().deserialize(topic, r.headers(), r.value())
                                    .getProcessingTime().toEpochMilli();
                            received.incrementAndGet();
                            lastArrival = System.nanoTime();
                        }
                    }
                } catch (org.apache.kafka.common.errors.InterruptException e) {
                    return;
                }
            }
        }

        /** Waits until all {@code total} arrived, or none arrived for {@code stall}. */
        void awaitAll(int total, Duration stall) throws InterruptedException {
            while (received.get() < total && System.nanoTime() - lastArrival < stall.toNanos()) {
                Thread.sleep(50);
            }
        }
    }

    private static double[] sorted(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    }

    static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int index = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }
}
