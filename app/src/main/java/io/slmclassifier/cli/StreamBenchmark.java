package io.slmclassifier.cli;

import io.slmclassifier.classify.Classifier;
import io.slmclassifier.devkit.LocalKafkaBroker;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.stream.ProcessorService;
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
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * What the Kafka path costs: the same texts classified by the processor's classifier alone, then through a local broker,
 * the embedded registry and the processor (exactly once), at saturation (all input produced up front), both
 * measured warm, in turns, several times.
 */
public final class StreamBenchmark {

    /**
     * @param aloneMessagesPerSecond median of the classifier-alone passes
     * @param kafkaMessagesPerSecond median of the runs through Kafka
     * @param kafkaCost one minus the median of the paired ratios (Kafka run / alone pass just before it)
     * @param textsPerPass mean texts per forward pass on the Kafka path during the measured runs
     * @param workerBusy share of the Kafka runs' wall time the inference worker spent in forward passes: under 1,
     *     the device waited for the stream path
     * @param passMessagesPerSecond texts per second of forward-pass time on the Kafka path: under the alone rate,
     *     the passes themselves ran slower (contention for the cores, smaller passes)
     */
    public record Result(int messages, int batch, double aloneMessagesPerSecond, double kafkaMessagesPerSecond,
            double kafkaCost, double p50Ms, double p99Ms, double textsPerPass, double workerBusy,
            double passMessagesPerSecond) {}

    private StreamBenchmark() {}

    /**
     * Both sides warm up once, then run in turns, {@code repeats} times: an alone pass, then a Kafka run, so a
     * slow spell of the shared machine falls on both. The cost is taken from the median of the paired ratios;
     * latencies are pooled over the Kafka runs.
     *
     * @param streamThreads stream threads of the processor, and partitions of the input topic
     */
    public static Result run(Path modelDir, Path taskFile, List<String> texts, int batch, String device,
            int commitIntervalMs, int repeats, int streamThreads) throws Exception {
        Path state = Files.createTempDirectory("slm-bench-state-");
        try (LocalKafkaBroker broker = LocalKafkaBroker.start();
                EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.builder().kafka(broker.bootstrapServers()).start()) {
            Map<String, String> c = new HashMap<>();
            c.put("bootstrap.servers", broker.bootstrapServers());
            c.put("schema.registry.url", registry.url());
            c.put("model.dir", modelDir.toString());
            c.put("task.file", taskFile.toString());
            c.put("device", device);
            c.put("metrics.port", "-1");
            c.put("state.dir", state.toString());
            c.put("batch.max.size", String.valueOf(batch));
            // One partition per stream thread: the inference worker merges what all of them submit into one pass.
            c.put("topics.partitions", String.valueOf(streamThreads));
            c.put("num.stream.threads", String.valueOf(streamThreads));
            c.put("kafka.commit.interval.ms", String.valueOf(commitIntervalMs));
            try (ProcessorService service = ProcessorService.running(ProcessorConfig.of(c))) {
                // The alone passes run on the processor's own classifier: the same program, so the same plans
                // TorchScript made for it (they depend on the shapes it has seen), and the same batch limits.
                Classifier classifier = service.classifier();
                try (KafkaConsumer<byte[], byte[]> reader = reader(broker)) {
                    alone(classifier, texts, batch); // warm-up of both sides: JIT, first transactions, first batches
                    try (KafkaProducer<byte[], byte[]> producer = producer(broker)) {
                        produce(producer, texts);
                    }
                    consume(reader, texts.size());
                    var passes = service.metrics().registry().get("slm.forward.texts").summary();
                    var passTime = service.metrics().registry().get("slm.latency.model").timer();
                    long passesBefore = passes.count();
                    double textsBefore = passes.totalAmount();
                    double[] alone = new double[repeats];
                    double[] kafka = new double[repeats];
                    double[] ratios = new double[repeats];
                    double kafkaSeconds = 0;
                    double passSecondsBefore = passTime.totalTime(TimeUnit.SECONDS);
                    List<Double> latencies = new ArrayList<>();
                    try (KafkaProducer<byte[], byte[]> producer = producer(broker)) {
                        for (int run = 0; run < repeats; run++) {
                            alone[run] = alone(classifier, texts, batch);
                            long start = System.nanoTime();
                            produce(producer, texts);
                            double[] delivered = consume(reader, texts.size());
                            double seconds = (System.nanoTime() - start) / 1e9;
                            kafkaSeconds += seconds;
                            kafka[run] = delivered.length / seconds;
                            ratios[run] = kafka[run] / alone[run];
                            for (double l : delivered) {
                                latencies.add(l);
                            }
                        }
                    }
                    double passSeconds = passTime.totalTime(TimeUnit.SECONDS) - passSecondsBefore;
                    double passTexts = passes.totalAmount() - textsBefore;
                    double[] sorted = latencies.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                    return new Result(texts.size(), batch, median(alone), median(kafka), 1 - median(ratios),
                            sorted[(int) (0.50 * (sorted.length - 1))], sorted[(int) (0.99 * (sorted.length - 1))],
                            passTexts / Math.max(1, passes.count() - passesBefore), passSeconds / kafkaSeconds,
                            passTexts / passSeconds);
                }
            }
        }
    }

    /** Messages/s of one pass of the classifier alone over the texts. */
    private static double alone(Classifier classifier, List<String> texts, int batch) {
        long start = System.nanoTime();
        for (int from = 0; from < texts.size(); from += batch) {
            classifier.classify(texts.subList(from, Math.min(texts.size(), from + batch)));
        }
        return texts.size() / ((System.nanoTime() - start) / 1e9);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** The users' producer: connected before the clock starts, as a long-lived one would be. */
    private static KafkaProducer<byte[], byte[]> producer(LocalKafkaBroker broker) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        producer.partitionsFor("intents.in");
        return producer;
    }

    private static void produce(KafkaProducer<byte[], byte[]> producer, List<String> texts) {
        for (int i = 0; i < texts.size(); i++) {
            producer.send(new ProducerRecord<>("intents.in", ("k" + (i % 16)).getBytes(StandardCharsets.UTF_8),
                    texts.get(i).getBytes(StandardCharsets.UTF_8)));
        }
        producer.flush();
    }

    private static KafkaConsumer<byte[], byte[]> reader(LocalKafkaBroker broker) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "bench-reader");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        KafkaConsumer<byte[], byte[]> reader = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        reader.subscribe(List.of("intents.classified"));
        return reader;
    }

    /** End-to-end latencies (input timestamp to delivery to a read_committed consumer) of {@code count} results. */
    private static double[] consume(KafkaConsumer<byte[], byte[]> reader, int count) {
        List<Double> latencies = new ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
        while (latencies.size() < count && System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : reader.poll(Duration.ofMillis(100))) {
                latencies.add((double) (System.currentTimeMillis() - r.timestamp()));
            }
        }
        return latencies.stream().mapToDouble(Double::doubleValue).toArray();
    }
}
