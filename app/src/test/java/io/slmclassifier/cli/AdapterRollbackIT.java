package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.kafka.KafkaTestCluster;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code adapter rollback} reads the control log before it sends: a rollback that would change nothing (the base
 * model serving, a version that does not exist) is one line and exit 2, and the control topic gets no record.
 */
class AdapterRollbackIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = KafkaTestCluster.withSchemaRegistry();

    private static final String TOPIC = "rollback.control";

    private static CommandRun adapter(String... args) {
        List<String> line = new java.util.ArrayList<>(List.of("adapter"));
        line.addAll(List.of(args));
        line.addAll(List.of("--set", "bootstrap.servers=" + kafka.bootstrapServers(),
                "--set", "schema.registry.url=" + kafka.schemaRegistryUrl(), "--set", "control.topic=" + TOPIC));
        return CommandRun.of(line);
    }

    private static void assertRefused(CommandRun run, String line) {
        assertEquals(2, run.code(), run.out() + run.err());
        assertEquals(List.of("error: " + line), run.err().strip().lines().toList());
        assertTrue(run.out().isBlank(), "nothing said to be sent:\n" + run.out());
    }

    @Test
    void aRollbackThatWouldChangeNothingSendsNothing() throws Exception {
        Properties client = kafka.client();
        Topics.ensure(client, List.of(Topics.compacted(TOPIC, 1, 1)));
        try (ControlLog control = new ControlLog(client, TOPIC, new ControlRecords(kafka.registryClient()))) {
            assertRefused(adapter("rollback"),
                    "nothing to roll back: the base model is serving, no adapter version is; nothing sent");
            assertRefused(adapter("rollback", "0"),
                    "nothing to roll back: the base model is serving, no adapter version is; nothing sent");
            assertEquals(0, kafka.recordsOn(TOPIC), "no command on an empty control topic");

            control.publish(AdapterEvent.newBuilder().setVersion(1).setBaseModelId("m").setBaseModelSha256("b")
                    .setTaskName("t").setTaskHash("h").setSha256("s").setSizeBytes(1).setMetrics(Map.of("macro_f1", 0.7))
                    .setCreatedAt(Instant.now()).setStatus(AdapterStatus.ACTIVE).setMessage("published").build());
            assertRefused(adapter("rollback", "7"),
                    "there is no adapter version 7 (adapter list lists them); nothing sent");
            assertRefused(adapter("rollback", "1"), "version 1 is already serving; nothing sent");
            assertEquals(1, kafka.recordsOn(TOPIC), "only the published version");

            // Version 1 serves: rolling it back is a command, sent.
            CommandRun sent = adapter("rollback");
            assertEquals(0, sent.code(), sent.err());
            assertTrue(sent.out().startsWith("sent ROLLBACK to " + TOPIC), sent.out());
            assertEquals(2, kafka.recordsOn(TOPIC));
        }
    }
}
