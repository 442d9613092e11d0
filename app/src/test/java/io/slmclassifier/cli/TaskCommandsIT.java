package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.kafka.KafkaTestCluster;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import io.slmclassifier.rollout.ControlSignature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code adapter ... --task} and {@code produce --task} on a real broker: each task's commands go to its own
 * control topic and name the task, the listing of one task refuses another task's event written on its topic, a
 * version of one task cannot be pinned on another's lineage, and texts go to the task's input topic.
 */
class TaskCommandsIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = KafkaTestCluster.withSchemaRegistry();

    private static CommandRun adapter(Path config, String... args) {
        List<String> all = new ArrayList<>(List.of("adapter"));
        all.addAll(List.of(args));
        all.addAll(List.of("--config", config.toString(), "--by", "ops"));
        return CommandRun.of(all);
    }

    private static AdapterEvent version(long version, String task) {
        return AdapterEvent.newBuilder().setVersion(version).setBaseModelId("m").setBaseModelSha256("b")
                .setTaskName(task).setTaskHash("h-" + task).setSha256("s").setSizeBytes(1)
                .setMetrics(Map.of("macro_f1", 0.7)).setCreatedAt(Instant.now()).setStatus(AdapterStatus.ACTIVE)
                .setLocation("kafka:" + task + ".adapters/0/0").setMessage("published").build();
    }

    @Test
    void eachTasksCommandsGoToItsOwnControlTopicAndNameTheTask(@TempDir Path dir) throws Exception {
        Path colours = Files.writeString(dir.resolve("colours.yaml"),
                "name: colours\nlabels: [red, blue]\nprompt: \"Colour of: {text}\"\nchat_template: false");
        Path shapes = Files.writeString(dir.resolve("shapes.yaml"),
                "name: shapes\nlabels: [square, circle]\nprompt: \"Shape of: {text}\"\nchat_template: false");
        Path config = Files.writeString(dir.resolve("processor.properties"), String.join("\n",
                "bootstrap.servers=" + kafka.bootstrapServers(), "schema.registry.url=" + kafka.schemaRegistryUrl(),
                "tasks=" + colours + "," + shapes, ""));
        Topics.ensure(kafka.client(), List.of(Topics.compacted("colours.control", 1, 1), Topics.compacted("shapes.control", 1, 1),
                Topics.plain("colours.in", 1, 1)));
        try (ControlLog coloursTrainer = control("colours.control", "colours");
                ControlLog anyWriter = control("colours.control", null)) {
            coloursTrainer.publish(version(1, "colours"));
            // A writer that knows no task puts a shapes version on the colours topic; colours' own log would not.
            anyWriter.publish(version(2, "shapes"));
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> coloursTrainer.publish(version(3, "shapes")));
            assertTrue(refused.getMessage().contains("control topic of task 'colours'"), refused.getMessage());
        }

        CommandRun pin = adapter(config, "pin", "1", "--task", "colours");
        assertEquals(0, pin.code(), pin.err());
        assertTrue(pin.out().contains("sent PIN 1 for task colours to colours.control"), pin.out());
        try (ControlLog topicAsItIs = control("colours.control", null)) {
            topicAsItIs.catchUp(Duration.ofSeconds(20));
            List<AdapterCommand> commands = topicAsItIs.state().commands();
            assertEquals(1, commands.size(), commands.toString());
            assertEquals(AdapterCommandType.PIN, commands.get(0).getCommand());
            assertEquals("colours", commands.get(0).getTask(), "the command names its task");
        }

        CommandRun list = adapter(config, "list", "--task", "colours");
        assertEquals(0, list.code(), list.err());
        assertTrue(list.out().contains("serving: version 1 (pinned)"), list.out());
        assertTrue(list.out().contains("adapter-2 at colours.control-0@1: an event of task 'shapes' (version 2)"),
                "the misrouted version is listed as not applied:\n" + list.out());

        // The shapes lineage is another log: colours' version 1 is unknown there, and so is the misrouted version 2.
        CommandRun pinOnShapes = adapter(config, "pin", "1", "--task", "shapes");
        assertEquals(2, pinOnShapes.code(), pinOnShapes.out() + pinOnShapes.err());
        assertTrue(pinOnShapes.err().contains("no adapter version 1"), pinOnShapes.err());
        assertEquals(0, kafka.recordsOn("shapes.control"), "nothing was sent to shapes.control");

        CommandRun noTask = adapter(config, "list");
        assertEquals(2, noTask.code(), noTask.out());
        assertTrue(noTask.err().contains("name one with --task"), noTask.err());

        // Without a configuration of tasks, --task names the topic <task>.control.
        CommandRun train = CommandRun.of("adapter", "train", "--task", "shapes", "--by", "ops", "--set",
                "bootstrap.servers=" + kafka.bootstrapServers(), "--set", "schema.registry.url=" + kafka.schemaRegistryUrl());
        assertEquals(0, train.code(), train.err());
        assertTrue(train.out().contains("sent TRAIN for task shapes to shapes.control"), train.out());
        try (ControlLog shapesTopic = control("shapes.control", "shapes")) {
            shapesTopic.catchUp(Duration.ofSeconds(20));
            assertEquals("shapes", shapesTopic.state().commands().get(0).getTask());
        }

        CommandRun produce = CommandRun.of("produce", "--bootstrap-servers", kafka.bootstrapServers(), "--task", "colours",
                "--config", config.toString(), "--count", "3");
        assertEquals(0, produce.code(), produce.err());
        assertTrue(produce.out().contains("sent 3 records to colours.in"), produce.out());
        assertEquals(3, kafka.recordsOn("colours.in"));
    }

    private static ControlLog control(String topic, String task) {
        return new ControlLog(kafka.client(), topic, new ControlRecords(kafka.registryClient()),
                ControlSignature.none(), task);
    }
}
