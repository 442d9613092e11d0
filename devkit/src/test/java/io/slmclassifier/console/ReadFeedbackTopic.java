package io.slmclassifier.console;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads a feedback topic from its beginning, with a consumer of its own and no group, and prints each
 * {@code LabeledExample} as a JSON line: the browser test's independent check of what the console wrote.
 *
 * <pre>java -cp target/slm-classifier.jar:devkit/target/test-classes io.slmclassifier.console.ReadFeedbackTopic \
 *     BOOTSTRAP REGISTRY_URL TOPIC [SECONDS]</pre>
 *
 * Reads until the end offsets seen at the start are reached, or until SECONDS (default 10) have passed; the
 * exit code is 0 when the end was reached.
 */
public final class ReadFeedbackTopic {

    public static void main(String[] args) {
        if (args.length < 3) {
            System.err.println("usage: ReadFeedbackTopic BOOTSTRAP REGISTRY_URL TOPIC [SECONDS]");
            System.exit(2);
        }
        String topic = args[2];
        long seconds = args.length > 3 ? Long.parseLong(args[3]) : 10;
        AvroSerde<LabeledExample> serde = AvroSerde.forType(LabeledExample.class,
                SchemaRegistryClient.builder(args[1]).build());
        ObjectMapper json = new ObjectMapper();
        boolean complete = false;
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", args[0],
                "allow.auto.create.topics", "false"), new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, Duration.ofSeconds(10));
            long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
            while (System.nanoTime() < deadline) {
                if (partitions.stream().allMatch(tp -> consumer.position(tp) >= ends.get(tp))) {
                    complete = true;
                    break;
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    LabeledExample e = serde.deserializer().deserialize(r.topic(), r.headers(), r.value());
                    ObjectNode line = json.createObjectNode();
                    line.put("key", r.key());
                    line.put("partition", r.partition());
                    line.put("offset", r.offset());
                    line.put("id", e.getId());
                    line.put("text", e.getText());
                    line.put("label", e.getLabel());
                    line.put("source", e.getSource());
                    line.put("labeled_at", e.getLabeledAt().toEpochMilli());
                    line.put("predicted_label", e.getPredictedLabel());
                    if (e.getAdapterVersion() == null) {
                        line.putNull("adapter_version");
                    } else {
                        line.put("adapter_version", e.getAdapterVersion());
                    }
                    System.out.println(line);
                }
            }
        }
        System.exit(complete ? 0 : 1);
    }
}
