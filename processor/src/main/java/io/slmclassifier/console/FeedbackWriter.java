package io.slmclassifier.console;

import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

/** Writes people's labels to the feedback topic as Avro {@code LabeledExample}s, keyed by the example's id. */
final class FeedbackWriter implements AutoCloseable {
    private final String topic;
    private final KafkaProducer<String, LabeledExample> producer;

    FeedbackWriter(ConsoleSettings settings, SchemaRegistryClient registry) {
        this.topic = settings.feedbackTopic();
        Properties p = new Properties();
        p.putAll(settings.kafka());
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "slm-console-feedback-" + Long.toHexString(System.nanoTime()));
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        // A person is waiting for the answer: fail within seconds rather than the client's default minutes.
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "15000");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        this.producer = new KafkaProducer<>(p, new StringSerializer(),
                AvroSerde.forType(LabeledExample.class, registry).serializer());
    }

    String topic() {
        return topic;
    }

    /** Sends one example and waits until the broker has it. */
    RecordMetadata send(LabeledExample example) throws Exception {
        return producer.send(new ProducerRecord<>(topic, example.getId(), example)).get(20, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        producer.close(java.time.Duration.ofSeconds(5));
    }
}
