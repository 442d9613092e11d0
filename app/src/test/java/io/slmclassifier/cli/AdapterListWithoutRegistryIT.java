package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.kafka.KafkaTestCluster;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlRecords;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code adapter list} reads versions whose schemas only the registry knows: with the registry gone it must say so
 * and fail, not list nothing and call the base model the one serving.
 */
class AdapterListWithoutRegistryIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static CommandRun adapterList(String registryUrl) {
        return CommandRun.of("adapter", "list", "--set", "bootstrap.servers=" + kafka.bootstrapServers(),
                "--set", "schema.registry.url=" + registryUrl, "--set", "control.topic=list.control");
    }

    @Test
    void anUnreachableRegistryIsOneLineNamingItAndExit2() throws Exception {
        Properties client = new Properties();
        client.put("bootstrap.servers", kafka.bootstrapServers());
        Topics.ensure(client, List.of(Topics.compacted("list.control", 1, 1)));
        String registryUrl;
        try (EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.builder().kafka(kafka.bootstrapServers()).start();
                ControlLog control = new ControlLog(client, "list.control",
                        new ControlRecords(SchemaRegistryClient.builder(registry.url()).build()))) {
            registryUrl = registry.url();
            control.publish(AdapterEvent.newBuilder().setVersion(1).setBaseModelId("m").setBaseModelSha256("b")
                    .setTaskName("t").setTaskHash("h").setSha256("s").setSizeBytes(1).setMetrics(Map.of("macro_f1", 0.7))
                    .setCreatedAt(Instant.now()).setStatus(AdapterStatus.ACTIVE).setMessage("published").build());

            CommandRun up = adapterList(registryUrl);
            assertEquals(0, up.code(), up.err());
            assertTrue(up.out().contains("serving: version 1"), up.out());
        }
        // The registry is stopped: nothing listens on its port any more.
        CommandRun down = adapterList(registryUrl);
        assertEquals(2, down.code(), down.out() + down.err());
        assertFalse(down.out().contains("serving"), "no listing without the registry:\n" + down.out());
        List<String> lines = down.err().strip().lines().toList();
        assertEquals(1, lines.size(), down.err());
        assertTrue(lines.get(0).startsWith("error: cannot read adapter versions: the schema registry at " + registryUrl
                + " did not answer ("), lines.get(0));
    }
}
