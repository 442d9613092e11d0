package io.slmclassifier.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.KafkaTestCluster;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.rollout.AdapterArchive;
import io.slmclassifier.rollout.AdapterStore;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import io.slmclassifier.rollout.ControlSignature;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * One trainer process keeps a lineage per task: two tasks declared with {@code tasks}, labeled feedback sent to the
 * first task's feedback topic only. The first task's control topic gets its version 1, naming the task, with an
 * archive that names it too; the second task's control topic stays empty and its dataset holds nothing; the
 * metrics carry each task's label.
 */
class TaskLineagesIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = KafkaTestCluster.withSchemaRegistry();

    private static final String SHAPES_YAML = "name: shapes\nlabels: [square, circle, triangle]\n"
            + "prompt: \"Which shape is named in: {text}\\nShape:\"\nchat_template: false\nmax_text_tokens: 32";

    private static TrainerConfig twoTasks(Path dir, Path colours, Path shapes) {
        Map<String, String> c = new HashMap<>();
        c.put("bootstrap.servers", kafka.bootstrapServers());
        c.put("schema.registry.url", kafka.schemaRegistryUrl());
        c.put("tasks", colours + "," + shapes);
        c.put("model.dir", Fixtures.model("qwen3-tiny").toString());
        c.put("device", "cpu");
        c.put("work.dir", dir.resolve("trainer").toString());
        c.put("metrics.port", "0");
        c.put("topics.partitions", "1");
        c.put("trigger.examples", "60");
        c.put("train.epochs", "1");
        c.put("train.seed", "7");
        c.put("lora.r", "4");
        c.put("lora.alpha", "8");
        c.put("lora.dropout", "0");
        c.put("lora.targets", "q_proj,v_proj");
        // Whether the candidate learned is not the question here, where it is published is: every candidate passes.
        c.put("gate.min.improvement", "-1");
        return TrainerConfig.of(c);
    }

    @Test
    void feedbackOfOneTaskPublishesAVersionOnItsControlTopicAndNothingOnTheOther(@TempDir Path dir) throws Exception {
        Path colours = Files.writeString(dir.resolve("colours.yaml"), ColourTask.YAML);
        Path shapes = Files.writeString(dir.resolve("shapes.yaml"), SHAPES_YAML);
        SchemaRegistryClient registryClient = kafka.registryClient();
        try (TrainerService trainer = new TrainerService(twoTasks(dir, colours, shapes))) {
            trainer.start();
            awaitTrue(trainer::ready, Duration.ofSeconds(60), "the trainer read both tasks' topics");

            AvroSerde<LabeledExample> feedback = AvroSerde.forType(LabeledExample.class, registryClient);
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(kafka.client(), new ByteArraySerializer(),
                    new ByteArraySerializer())) {
                List<LabeledData.Example> labeled = ColourTask.sentences(80, 1);
                for (int i = 0; i < labeled.size(); i++) {
                    LabeledData.Example e = labeled.get(i);
                    producer.send(new ProducerRecord<>("colours.feedback", feedback.serializer().serialize(
                            "colours.feedback", LabeledExample.newBuilder().setId("example-" + i).setText(e.text())
                                    .setLabel(ColourTask.LABELS.get(e.label())).setSource("test")
                                    .setLabeledAt(Instant.now()).build())));
                }
                producer.flush();
            }

            try (ControlLog coloursControl = control("colours.control", registryClient, "colours")) {
                awaitTrue(() -> {
                    coloursControl.catchUp(Duration.ofSeconds(10));
                    return coloursControl.state().event(1).isPresent();
                }, Duration.ofMinutes(4), "version 1 of colours on colours.control");
                AdapterEvent v1 = coloursControl.state().event(1).orElseThrow();
                assertEquals(AdapterStatus.ACTIVE, v1.getStatus(), v1.toString());
                assertEquals("colours", v1.getTaskName());
                assertEquals(ColourTask.TASK.hash(), v1.getTaskHash());
                assertEquals(List.of(), coloursControl.ignored(), "nothing on colours.control was refused");
                byte[] archive = new AdapterStore("kafka", kafka.client(), "colours.adapters", "").get(v1.getLocation(),
                        v1.getSizeBytes());
                assertEquals(Optional.of(new AdapterArchive.TaskId("colours", ColourTask.TASK.hash())),
                        AdapterArchive.task(archive));
            }

            awaitTrue(() -> trainer.dataset("colours").size() == 80, Duration.ofSeconds(30), "colours' 80 examples");
            assertEquals(0, trainer.dataset("shapes").size(), "the other task's dataset holds nothing");
            assertEquals(0, kafka.recordsOn("shapes.control"), "nothing was published on the other task's control topic");
            assertEquals(0, kafka.recordsOn("shapes.adapters"));
            assertEquals(0, kafka.recordsOn("shapes.dataset"));

            // The run's timer counts once the publication is done, a moment after the event is readable.
            awaitTrue(() -> metrics(trainer).contains("slm_trainer_run_seconds_count{task=\"colours\"} 1"),
                    Duration.ofSeconds(30), "the run counted under its task");
            String metrics = metrics(trainer);
            assertTrue(metrics.contains("slm_trainer_dataset_examples{task=\"colours\"} 80.0"), metrics);
            assertTrue(metrics.contains("slm_trainer_dataset_examples{task=\"shapes\"} 0.0"), metrics);
            assertTrue(metrics.contains("slm_trainer_run_seconds_count{task=\"shapes\"} 0"), metrics);
        }
    }

    private static String metrics(TrainerService trainer) {
        try {
            return new String(URI.create("http://127.0.0.1:" + trainer.operationsPort() + "/metrics").toURL()
                    .openStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static ControlLog control(String topic, SchemaRegistryClient registryClient, String task) {
        return new ControlLog(kafka.client(), topic, new ControlRecords(registryClient), ControlSignature.none(), task);
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition, Duration timeout, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(200);
        }
    }
}
