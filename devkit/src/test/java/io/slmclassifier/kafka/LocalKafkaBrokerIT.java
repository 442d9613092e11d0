package io.slmclassifier.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.devkit.LocalKafkaBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalKafkaBrokerIT {

    @Test
    void keepsRecordsAcrossARestartInTheSameDataDirectory(@TempDir Path dataDir) throws Exception {
        String firstAddress;
        try (LocalKafkaBroker broker = LocalKafkaBroker.builder().dataDir(dataDir).start()) {
            firstAddress = broker.bootstrapServers();
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", broker.bootstrapServers()))) {
                admin.createTopics(List.of(new NewTopic("kept", 1, (short) 1))).all().get();
            }
            try (KafkaProducer<String, String> producer = producer(broker.bootstrapServers())) {
                producer.send(new ProducerRecord<>("kept", "k", "written before the restart")).get();
            }
        }

        try (LocalKafkaBroker broker = LocalKafkaBroker.builder().dataDir(dataDir).start()) {
            assertEquals(firstAddress, broker.bootstrapServers(), "a restart keeps its free port");
            List<String> values = readAll(broker.bootstrapServers(), "kept");
            assertEquals(List.of("written before the restart"), values);
            assertTrue(Files.size(broker.logFile()) > 0, "broker output goes to its own log file");
        }
        assertTrue(Files.exists(dataDir.resolve("server.properties")), "a given data directory is kept");
    }

    @Test
    void temporaryDataDirectoryGoesAwayOnClose() {
        LocalKafkaBroker broker = LocalKafkaBroker.start();
        Path dataDir = broker.dataDir();
        broker.close();
        assertFalse(broker.isRunning());
        assertFalse(Files.exists(dataDir));
    }

    private static KafkaProducer<String, String> producer(String bootstrap) {
        return new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
                new StringSerializer(), new StringSerializer());
    }

    static List<String> readAll(String bootstrap, String topic) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap), new StringDeserializer(),
                new StringDeserializer())) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            List<String> values = new ArrayList<>();
            while (consumer.position(partition) < end) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    values.add(record.value());
                }
            }
            return values;
        }
    }
}
