package io.slmclassifier.kafka.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.TextMessage;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.KafkaTestCluster;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The embedded registry keeping its state in a compacted topic of a real broker. */
class EmbeddedSchemaRegistryKafkaIT {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    @Test
    void restartKeepsIdsVersionsAndSettings() throws Exception {
        String topic = "_schemas_restart";
        int textId;
        int classificationId;
        try (EmbeddedSchemaRegistry registry = start(topic)) {
            SchemaRegistryClient client = SchemaRegistryClient.builder(registry.url()).build();
            textId = client.register("intents.in-value", TextMessage.getClassSchema());
            classificationId = client.register("intents.classified-value", Classification.getClassSchema());
            client.register("greetings-value", SchemaRegistryClientTest.GREETING_V1);
            client.register("greetings-value", SchemaRegistryClientTest.GREETING_V2);
            client.setCompatibility("greetings-value", CompatibilityLevel.FULL);
        }

        try (EmbeddedSchemaRegistry restarted = start(topic)) {
            SchemaRegistryClient client = SchemaRegistryClient.builder(restarted.url()).build();
            assertEquals(textId, client.lookup("intents.in-value", TextMessage.getClassSchema()).id());
            assertEquals(classificationId, client.register("intents.classified-value",
                    Classification.getClassSchema()), "registering again after a restart: same id");
            assertEquals(Classification.getClassSchema(), client.schemaById(classificationId));
            assertEquals(2, client.latest("greetings-value").version());
            assertEquals(CompatibilityLevel.FULL, client.compatibility("greetings-value"));
            int newId = client.register("farewells-value", SchemaRegistryClientTest.FAREWELL);
            assertEquals(5, newId, "new schemas continue after the highest id (4), never reuse one");
        }

        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            assertEquals(1, admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic)
                    .partitions().size());
            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config config = admin.describeConfigs(List.of(resource)).all().get().get(resource);
            assertEquals("compact", config.get("cleanup.policy").value());
        }
    }

    @Test
    void registriesSharingTheTopicAgreeOnIds() {
        String topic = "_schemas_shared";
        try (EmbeddedSchemaRegistry first = start(topic); EmbeddedSchemaRegistry second = start(topic)) {
            SchemaRegistryClient one = SchemaRegistryClient.builder(first.url()).build();
            SchemaRegistryClient two = SchemaRegistryClient.builder(second.url()).build();

            int greeting = one.register("greetings-value", SchemaRegistryClientTest.GREETING_V1);
            // The second registry started before that registration: it catches up before it answers.
            assertEquals(greeting, two.register("greetings-value", SchemaRegistryClientTest.GREETING_V1));
            int farewell = two.register("farewells-value", SchemaRegistryClientTest.FAREWELL);
            assertTrue(farewell != greeting);
            Schema fetched = one.schemaById(farewell);
            assertEquals(SchemaRegistryClientTest.FAREWELL, fetched);
            assertEquals(List.of("farewells-value", "greetings-value"), one.subjects());
        }
    }

    private static EmbeddedSchemaRegistry start(String topic) {
        return EmbeddedSchemaRegistry.builder().kafka(kafka.bootstrapServers()).topic(topic).start();
    }
}
