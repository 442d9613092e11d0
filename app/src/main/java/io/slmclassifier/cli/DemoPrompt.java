package io.slmclassifier.cli;

import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabelProbability;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlState;
import io.slmclassifier.stream.ProcessorService;
import io.slmclassifier.train.TrainerService;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The demo's prompt: typed sentences, corrections and rollout commands, each for the task the prompt is at. With one
 * task the prompt is {@code > } and everything goes to that task's topics, as it always did. With several, the
 * prompt names its task ({@code emotion> }), {@code /task NAME} moves it to another, {@code /tasks} lists them with
 * the version each serves, and a sentence, a {@code !label} correction or an adapter command goes to the topics and
 * the lineage (control topic) of the task the prompt is at; every answer printed names its task.
 */
final class DemoPrompt {

    /** A task the demo runs: its labels, the topics of its configuration view and the control log of its lineage. */
    record DemoTask(String name, List<String> labels, String inputTopic, String outputTopic, String feedbackTopic,
            ControlLog control) {}

    private final PrintStream out;
    private final KafkaProducer<byte[], byte[]> producer;
    private final KafkaConsumer<byte[], byte[]> results;
    private final AvroSerde<Classification> classifications;
    private final AvroSerde<LabeledExample> feedback;
    private final ProcessorService processor;
    private final TrainerService trainer;
    private final Map<String, DemoTask> tasks = new LinkedHashMap<>();
    /** Each task's last answer: what its {@code !label} corrects, also after a visit to another task. */
    private final Map<String, Classification> lastAnswer = new HashMap<>();
    private volatile DemoTask current;

    /** @param results subscribed to every task's output topic */
    DemoPrompt(PrintStream out, KafkaProducer<byte[], byte[]> producer, KafkaConsumer<byte[], byte[]> results,
            AvroSerde<Classification> classifications, AvroSerde<LabeledExample> feedback, ProcessorService processor,
            TrainerService trainer, List<DemoTask> tasks) {
        this.out = out;
        this.producer = producer;
        this.results = results;
        this.classifications = classifications;
        this.feedback = feedback;
        this.processor = processor;
        this.trainer = trainer;
        tasks.forEach(task -> this.tasks.put(task.name(), task));
        this.current = tasks.get(0);
    }

    private boolean severalTasks() {
        return tasks.size() > 1;
    }

    /** What the prompt shows: {@code > } for one task, the task's name before it for several. */
    String prompt() {
        return severalTasks() ? current.name() + "> " : "> ";
    }

    void run(DemoInput in) throws Exception {
        String line;
        showPrompt();
        while ((line = in.next()) != null) {
            line = line.strip();
            if (line.equals("/quit")) {
                break;
            }
            try {
                if (line.startsWith("!")) {
                    correct(line.substring(1).strip());
                } else if (line.startsWith("/")) {
                    command(line.substring(1).strip().split("\\s+"));
                } else if (!line.isEmpty()) {
                    classify(line);
                }
            } catch (IllegalArgumentException e) {
                out.println("error: " + e.getMessage());
            }
            showPrompt();
        }
        out.println();
    }

    private void showPrompt() {
        out.print(prompt());
        out.flush();
    }

    private void classify(String text) throws Exception {
        DemoTask task = current;
        String id = UUID.randomUUID().toString();
        producer.send(new ProducerRecord<>(task.inputTopic(), id.getBytes(StandardCharsets.UTF_8),
                text.getBytes(StandardCharsets.UTF_8))).get();
        Classification answer = awaitResult(id);
        lastAnswer.put(task.name(), answer);
        print(answer);
    }

    private void correct(String label) throws Exception {
        DemoTask task = current;
        Classification last = lastAnswer.get(task.name());
        if (last == null) {
            throw new IllegalArgumentException("type a sentence first; !LABEL corrects its answer");
        }
        if (!task.labels().contains(label)) {
            throw new IllegalArgumentException("'" + label + "' is not a label of this task: " + task.labels());
        }
        LabeledExample example = LabeledExample.newBuilder().setId(last.getId()).setText(last.getText())
                .setLabel(label).setSource("demo:" + System.getProperty("user.name")).setLabeledAt(Instant.now())
                .setPredictedLabel(last.getLabel()).setAdapterVersion(last.getAdapterVersion()).build();
        producer.send(new ProducerRecord<>(task.feedbackTopic(), last.getId().getBytes(StandardCharsets.UTF_8),
                feedback.serializer().serialize(task.feedbackTopic(), example))).get();
        out.printf("feedback sent%s: \"%s\" is %s (%d labels so far; training starts after %d new ones)%n",
                severalTasks() ? " to " + task.feedbackTopic() : "", last.getText(), label,
                trainer.dataset(task.name()).size() + 1, trainer.trainAfter());
    }

    private void command(String[] words) throws Exception {
        DemoTask task = current;
        switch (words[0]) {
            case "task" -> moveTo(words.length > 1 ? words[1] : null);
            case "tasks" -> taskLines(List.copyOf(tasks.values()), current.name(), servingVersions()).forEach(out::println);
            case "adapters" -> printAdapters(task.control().state(), trainer.dataset(task.name()).size(),
                    trainer.trainAfter(), out);
            case "train" -> send(task, AdapterCommandType.TRAIN, null);
            case "rollback" -> {
                Long version = version(words);
                Optional<String> nothing = nothingToRollBack(task.control().state(), version);
                if (nothing.isPresent()) {
                    out.println(nothing.get());
                } else {
                    send(task, AdapterCommandType.ROLLBACK, version);
                }
            }
            case "pin" -> send(task, AdapterCommandType.PIN, version(words));
            // After a rollback, UNPIN is what resumes following new versions.
            case "unpin", "resume" -> send(task, AdapterCommandType.UNPIN, null);
            default -> throw new IllegalArgumentException("unknown command /" + words[0]
                    + " (/train, /adapters, /rollback [V], /pin V, /unpin, /resume, "
                    + (severalTasks() ? "/task NAME, /tasks, " : "") + "/quit)");
        }
    }

    private static Long version(String[] words) {
        return words.length > 1 ? Long.parseLong(words[1]) : null;
    }

    /** {@code /task NAME}: the prompt moves to that task; without a name it says where it is. */
    private void moveTo(String name) {
        if (name == null) {
            out.printf("at task %s (/tasks lists them, /task NAME moves)%n", current.name());
            return;
        }
        DemoTask task = tasks.get(name);
        if (task == null) {
            throw new IllegalArgumentException("no task '" + name + "' in this demo: " + String.join(", ", tasks.keySet()));
        }
        current = task;
        out.printf("task %s: %s -> %s, labels %s%n", task.name(), task.inputTopic(), task.outputTopic(),
                String.join(", ", task.labels()));
    }

    /** The version each task's processor pipeline serves now (0: the base model). */
    private Map<String, Long> servingVersions() {
        Map<String, Long> serving = new LinkedHashMap<>();
        tasks.keySet().forEach(name -> serving.put(name, processor.pipeline(name).rollout().serving()));
        return serving;
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
     * What {@code /tasks} prints: a line per task, the prompt's own marked with {@code *}, with the version it
     * serves, its input topic and its labels.
     */
    static List<String> taskLines(List<DemoTask> tasks, String current, Map<String, Long> serving) {
        int width = tasks.stream().mapToInt(t -> t.name().length()).max().orElse(0);
        List<String> lines = new ArrayList<>();
        for (DemoTask task : tasks) {
            long version = serving.getOrDefault(task.name(), 0L);
            lines.add(String.format("%s %-" + width + "s  serving %-5s  %s -> %s  labels: %s",
                    task.name().equals(current) ? "*" : " ", task.name(), version == 0 ? "base" : "v" + version,
                    task.inputTopic(), task.outputTopic(), String.join(", ", task.labels())));
        }
        return lines;
    }

    private void send(DemoTask task, AdapterCommandType type, Long version) throws Exception {
        task.control().command(type, version, "demo:" + System.getProperty("user.name"));
        out.printf("sent %s%s%s%n", type, version == null ? "" : " " + version,
                severalTasks() ? " to " + task.control().topic() : "");
    }

    private Classification awaitResult(String key) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : results.poll(Duration.ofMillis(100))) {
                if (key.equals(new String(r.key(), StandardCharsets.UTF_8))) {
                    return classifications.deserializer().deserialize(r.topic(), r.value());
                }
            }
        }
        throw new IllegalStateException("no classification came back within 60 s");
    }

    private void print(Classification c) {
        out.printf("%s%s  (%.3f)  adapter %s, %d ms%n", severalTasks() ? c.getTask() + ": " : "", c.getLabel(),
                c.getProbabilities().get(c.getLabelIndex()).getProbability(),
                c.getAdapterVersion() == null ? "base" : c.getAdapterVersion(), c.getLatencyMs());
        StringBuilder all = new StringBuilder("   ");
        for (LabelProbability p : c.getProbabilities()) {
            all.append(String.format(" %s %.3f", p.getLabel(), p.getProbability()));
        }
        out.println(all);
    }
}
