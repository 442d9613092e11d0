package io.slmclassifier.cli;

import io.slmclassifier.classify.TaskCatalog;
import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.kafka.KafkaReachability;
import io.slmclassifier.stream.ProcessorConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Load generator: sends texts from a file, or synthetic sentences, to the input topic at a target rate. */
@Command(name = "produce", mixinStandardHelpOptions = true,
        description = "Send text records (UTF-8 values) to a topic at a target rate.")
public final class ProduceCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    LogOptions logging;


    @Option(names = "--bootstrap-servers", defaultValue = "localhost:9092", description = "Kafka bootstrap servers (default: ${DEFAULT-VALUE}).")
    String bootstrap;
    @Option(names = "--topic", description = "Topic to write the texts to (default: intents.in, or the input topic of --task).")
    String topic;
    @Option(names = "--task", description = "Send to this task's input topic: as --config's tasks say, else <task>.in.")
    String task;
    @Option(names = "--config", description = "A processor's configuration: its input.topic, or with several tasks "
            + "(tasks, tasks.dir) the input topic of --task as the task's view names it.")
    Path config;
    @Option(names = "--file", description = "One text per line; without it, synthetic radr-style sentences.") Path file;
    @Option(names = "--count", defaultValue = "1000", description = "Records to send (default: ${DEFAULT-VALUE}).") long count;
    @Option(names = "--rate", defaultValue = "0", description = "Records per second; 0 sends as fast as possible.") double rate;
    @Option(names = "--keys", defaultValue = "16", description = "Distinct keys, k0..k(N-1), round robin.") int keys;
    @Option(names = "--strict", description = "Send nothing if a line of --file is not valid UTF-8; without it such "
            + "lines are named on stderr and the others are sent.")
    boolean strict;
    @Option(names = "--set", description = "Extra producer property key=value (SASL, SSL, ...).") List<String> extra = new ArrayList<>();
    @Option(names = "--timeout-ms", defaultValue = "30000",
            description = "How long to wait for a broker to answer, and the most one send may block (default: ${DEFAULT-VALUE}).")
    long timeoutMs;

    @Override
    public Integer call() throws Exception {
        String topic = topic(this.topic, task, config == null ? null
                : ServiceConfig.load(ProcessorConfig.DEFINITIONS, config, java.util.Map.of(), java.util.Map.of()));
        List<String> texts = file != null ? texts(file, strict, System.err) : synthetic(500, 7);
        // Before the producer exists: left to itself it would wait max.block.ms on every record, warning all along.
        KafkaReachability.await(bootstrap, Duration.ofMillis(timeoutMs), "--bootstrap-servers; --timeout-ms");
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(timeoutMs));
        for (String kv : extra) {
            int eq = kv.indexOf('=');
            if (eq < 1) {
                throw new IllegalArgumentException("--set wants key=value, not " + kv);
            }
            p.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        AtomicLong failed = new AtomicLong();
        long started = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (long i = 0; i < count; i++) {
                if (rate > 0) {
                    long due = started + (long) (i * 1e9 / rate);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                }
                byte[] key = ("k" + (i % keys)).getBytes(StandardCharsets.UTF_8);
                byte[] value = texts.get((int) (i % texts.size())).getBytes(StandardCharsets.UTF_8);
                producer.send(new ProducerRecord<>(topic, key, value), (meta, e) -> {
                    if (e != null) {
                        failed.incrementAndGet();
                    }
                });
            }
            producer.flush();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        System.out.printf("sent %d records to %s in %.2f s (%.1f records/s), %d failed%n", count, topic, seconds,
                count / seconds, failed.get());
        return failed.get() == 0 ? 0 : 1;
    }

    /**
     * Where the texts go: {@code --topic} when given; with {@code --task}, the task's input topic in {@code settings}
     * when it declares several tasks ({@code <task>.in}, or {@code task.<task>.input.topic}), else {@code <task>.in};
     * without either, the configuration's {@code input.topic} ({@code intents.in}, the single task's). A
     * configuration of several tasks needs {@code --task}, and must declare it.
     */
    static String topic(String topic, String task, ServiceConfig settings) throws IOException {
        if (topic != null) {
            return topic;
        }
        if (settings == null || !TaskCatalog.severalTasks(settings)) {
            return task != null ? task + ".in" : settings != null ? settings.get("input.topic") : "intents.in";
        }
        List<TaskCatalog.Entry> declared = TaskCatalog.load(settings);
        String names = String.join(", ", declared.stream().map(TaskCatalog.Entry::name).toList());
        if (task == null) {
            throw new IllegalArgumentException("the configuration declares several tasks (" + names
                    + "), each with its own input topic: name one with --task");
        }
        TaskCatalog.Entry entry = declared.stream().filter(e -> e.name().equals(task)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no task '" + task + "' in the configuration; it declares "
                        + names));
        return TaskCatalog.view(settings, entry, ProcessorConfig.TASK_DEFAULTS).get("input.topic");
    }

    /**
     * The non-blank lines of a file. A line that is not UTF-8 is named and skipped, as {@code classify} and
     * {@code train} skip a bad line and go on: one stray byte in a file of thousands of texts should not stop a load
     * run. With {@code strict}, none is sent, for when every record must arrive exactly as written.
     */
    static List<String> texts(Path file, boolean strict, PrintStream err) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        List<String> texts = new ArrayList<>();
        List<Long> invalid = new ArrayList<>();
        long number = 0;
        for (int start = 0; start < bytes.length; ) {
            int end = start;
            while (end < bytes.length && bytes[end] != '\n') {
                end++;
            }
            number++;
            int length = end - start;
            if (length > 0 && bytes[end - 1] == '\r') {
                length--;
            }
            try {
                String line = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes, start, length))
                        .toString();
                if (!line.isBlank()) {
                    texts.add(line);
                }
            } catch (CharacterCodingException e) {
                invalid.add(number);
            }
            start = end + 1;
        }
        if (!invalid.isEmpty()) {
            String lines = (invalid.size() == 1 ? "line " : "lines ")
                    + invalid.stream().limit(20).map(String::valueOf).collect(Collectors.joining(", "))
                    + (invalid.size() > 20 ? " and " + (invalid.size() - 20) + " more" : "")
                    + (invalid.size() == 1 ? " is" : " are") + " not valid UTF-8";
            if (strict) {
                throw new IllegalArgumentException(file + ": " + lines + "; nothing sent (--strict)");
            }
            err.println("skipped " + file + ": " + lines);
        }
        if (texts.isEmpty()) {
            throw new IllegalArgumentException("no texts in " + file);
        }
        return texts;
    }

    /** Radio-style German sentences from a small grammar, so a load test needs no data file. */
    public static List<String> synthetic(int n, long seed) {
        String[] units = {"RobLW", "Zugführer", "Angriffstrupp", "Wassertrupp", "Einsatzleitung", "Drohne 2"};
        String[] templates = {"%s an %s, kommen.", "Ja, hier ist %s, kommen.", "%s: Erkundung im Erdgeschoss abgeschlossen.",
                "Frage an %s: Lage im ersten Obergeschoss?", "Verstanden, %s geht vor.", "Negativ, %s noch nicht bereit."};
        Random random = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String t = templates[random.nextInt(templates.length)];
            out.add(String.format(t, units[random.nextInt(units.length)], units[random.nextInt(units.length)]));
        }
        return out;
    }
}
