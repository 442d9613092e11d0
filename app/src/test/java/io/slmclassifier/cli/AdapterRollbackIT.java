package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.KafkaTestCluster;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code adapter rollback} reads the control log before it sends: a rollback that would change nothing (the base
 * model serving, a version that does not exist) is one line and exit 2, and the control topic gets no record.
 */
class AdapterRollbackIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static final String TOPIC = "rollback.control";

    private record Run(int code, String out, String err) {}

    private static Run adapter(String registryUrl, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        PrintStream stderr = System.err;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            List<String> line = new java.util.ArrayList<>(List.of("adapter"));
            line.addAll(List.of(args));
            line.addAll(List.of("--set", "bootstrap.servers=" + kafka.bootstrapServers(),
                    "--set", "schema.registry.url=" + registryUrl, "--set", "control.topic=" + TOPIC));
            int code = Main.run(line.toArray(String[]::new));
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(stdout);
            System.setErr(stderr);
        }
    }

    /** Records on the control topic: what the command sent, whatever it printed. */
    private static long records(Properties client) {
        Properties p = new Properties();
        p.putAll(client);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            TopicPartition partition = new TopicPartition(TOPIC, 0);
            return consumer.endOffsets(List.of(partition)).get(partition);
        }
    }

    private static void assertRefused(Run run, String line) {
        assertEquals(2, run.code(), run.out() + run.err());
        assertEquals(List.of("error: " + line), run.err().strip().lines().toList());
        assertTrue(run.out().isBlank(), "nothing said to be sent:\n" + run.out());
    }

    @Test
    void aRollbackThatWouldChangeNothingSendsNothing() throws Exception {
        Properties client = new Properties();
        client.put("bootstrap.servers", kafka.bootstrapServers());
        Topics.ensure(client, List.of(Topics.compacted(TOPIC, 1, 1)));
        try (EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.builder().kafka(kafka.bootstrapServers()).start();
                ControlLog control = new ControlLog(client, TOPIC,
                        new ControlRecords(SchemaRegistryClient.builder(registry.url()).build()))) {
            assertRefused(adapter(registry.url(), "rollback"),
                    "nothing to roll back: the base model is serving, no adapter version is; nothing sent");
            assertRefused(adapter(registry.url(), "rollback", "0"),
                    "nothing to roll back: the base model is serving, no adapter version is; nothing sent");
            assertEquals(0, records(client), "no command on an empty control topic");

            control.publish(AdapterEvent.newBuilder().setVersion(1).setBaseModelId("m").setBaseModelSha256("b")
                    .setTaskName("t").setTaskHash("h").setSha256("s").setSizeBytes(1).setMetrics(Map.of("macro_f1", 0.7))
                    .setCreatedAt(Instant.now()).setStatus(AdapterStatus.ACTIVE).setMessage("published").build());
            assertRefused(adapter(registry.url(), "rollback", "7"),
                    "there is no adapter version 7 (adapter list lists them); nothing sent");
            assertRefused(adapter(registry.url(), "rollback", "1"), "version 1 is already serving; nothing sent");
            assertEquals(1, records(client), "only the published version");

            // Version 1 serves: rolling it back is a command, sent.
            Run sent = adapter(registry.url(), "rollback");
            assertEquals(0, sent.code(), sent.err());
            assertTrue(sent.out().startsWith("sent ROLLBACK to " + TOPIC), sent.out());
            assertEquals(2, records(client));
        }
    }
}
