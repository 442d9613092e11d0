package io.slmclassifier.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.devkit.registry.EmbeddedSchemaRegistry;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Classifications through a real broker, with schemas in a registry that keeps them on the same broker. */
class AvroSerdeKafkaIT {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    @Test
    void classificationsSurviveAProduceConsumeRoundTrip() {
        String topic = "intents.classified";
        List<Classification> sent = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            sent.add(TestRecords.classification("c-" + i));
        }

        try (EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.builder().kafka(kafka.bootstrapServers())
                .start()) {
            // Kafka builds the serializer from configuration, as a deployed producer would.
            Map<String, Object> producerConfig = Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                    ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                    ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, AvroSerdeSerializer.class,
                    SchemaRegistryClient.URL_CONFIG, registry.url(),
                    AvroSerde.SPECIFIC_VALUE_TYPE_CONFIG, Classification.class.getName());
            try (KafkaProducer<String, Classification> producer = new KafkaProducer<>(producerConfig)) {
                for (Classification classification : sent) {
                    producer.send(new ProducerRecord<>(topic, classification.getId(), classification));
                }
                producer.flush();
            }

            // A consumer with its own client: the schema comes from the registry by the id in each record.
            AvroSerde<Classification> serde = AvroSerde.forType(Classification.class,
                    SchemaRegistryClient.builder(registry.url()).build());
            int registeredId = SchemaRegistryClient.builder(registry.url()).build()
                    .latest(topic + "-value").id();
            List<Classification> received = new ArrayList<>();
            try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()),
                    new StringDeserializer(), new ByteArrayDeserializer())) {
                TopicPartition partition = new TopicPartition(topic, 0);
                consumer.assign(List.of(partition));
                consumer.seekToBeginning(List.of(partition));
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (received.size() < sent.size() && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                        assertEquals(registeredId, WireFormat.schemaId(record.value()));
                        Classification decoded = serde.deserializer().deserialize(topic, record.headers(),
                                record.value());
                        assertEquals(record.key(), decoded.getId());
                        received.add(decoded);
                    }
                }
            }
            assertEquals(sent, received);
        }
    }

    /** What a producer configuration names: a class with a no-argument constructor. */
    public static final class AvroSerdeSerializer
            implements org.apache.kafka.common.serialization.Serializer<Classification> {
        private final org.apache.kafka.common.serialization.Serializer<Classification> delegate =
                new AvroSerde<Classification>().serializer();

        @Override
        public void configure(Map<String, ?> configs, boolean isKey) {
            delegate.configure(configs, isKey);
        }

        @Override
        public byte[] serialize(String topic, Classification data) {
            return delegate.serialize(topic, data);
        }
    }
}
