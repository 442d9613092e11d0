package io.slmclassifier.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.kafka.registry.SchemaRegistryException;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.kafka.KafkaContainer;

/**
 * Our client and serdes against the real Confluent Schema Registry and Apicurio (its Confluent-compatible API)
 * in Docker. Runs only where Docker exists; elsewhere the embedded registry's tests stand in.
 */
class RealRegistriesIT {

    private static void assertInteroperates(String url) {
        SchemaRegistryClient client = SchemaRegistryClient.builder(url).build();
        Classification record = TestRecords.classification("real-registry");
        byte[] bytes = AvroSerde.forType(Classification.class, client).serializer().serialize("intents.classified", record);
        assertEquals(0, bytes[0], "wire format: magic byte");
        int id = WireFormat.schemaId(bytes);
        // A second client reads the schema by id from the registry, not from a cache.
        SchemaRegistryClient fresh = SchemaRegistryClient.builder(url).build();
        assertEquals(record, AvroSerde.forType(Classification.class, fresh).deserializer().deserialize("intents.classified", bytes));
        assertEquals(id, fresh.register("intents.classified-value", Classification.getClassSchema()));
        Schema incompatible = new Schema.Parser().parse("{\"type\":\"record\",\"name\":\"Classification\","
                + "\"namespace\":\"io.slmclassifier.avro\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}");
        assertThrows(SchemaRegistryException.class, () -> fresh.register("intents.classified-value", incompatible));
    }

    @Test
    void confluentSchemaRegistry() {
        Assumptions.assumeTrue(KafkaTestCluster.dockerAvailable(), "Docker is not available");
        try (Network network = Network.newNetwork();
                KafkaContainer kafka = new KafkaContainer("apache/kafka:4.0.0").withNetwork(network)
                        .withListener("kafka:19092");
                GenericContainer<?> registry = new GenericContainer<>("confluentinc/cp-schema-registry:7.9.0")
                        .withNetwork(network).withExposedPorts(8081)
                        .withEnv("SCHEMA_REGISTRY_HOST_NAME", "schema-registry")
                        .withEnv("SCHEMA_REGISTRY_LISTENERS", "http://0.0.0.0:8081")
                        .withEnv("SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS", "PLAINTEXT://kafka:19092")
                        .waitingFor(Wait.forHttp("/subjects").forStatusCode(200))) {
            kafka.start();
            registry.start();
            assertInteroperates("http://" + registry.getHost() + ":" + registry.getMappedPort(8081));
        }
    }

    @Test
    void apicurioCompatibilityApi() {
        Assumptions.assumeTrue(KafkaTestCluster.dockerAvailable(), "Docker is not available");
        try (GenericContainer<?> registry = new GenericContainer<>("apicurio/apicurio-registry:3.0.6")
                .withExposedPorts(8080)
                .waitingFor(Wait.forHttp("/apis/ccompat/v7/subjects").forStatusCode(200))) {
            registry.start();
            assertInteroperates("http://" + registry.getHost() + ":" + registry.getMappedPort(8080) + "/apis/ccompat/v7");
        }
    }
}
