package io.slmclassifier.train;

import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.kafka.AvroSerde;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dataset topic read into the {@link FeedbackDataset}: from its beginning at start (so a restart has every
 * example), then as copies arrive. A tombstone deletes an example; a record that no longer fits the task is skipped.
 */
public final class DatasetReader {
    private static final Logger log = LoggerFactory.getLogger(DatasetReader.class);

    private final String topic;
    private final AvroSerde<LabeledExample> examples;
    private final KafkaConsumer<String, byte[]> reader;
    private final FeedbackDataset dataset;

    /** @param reader without a group: it assigns itself every partition of the topic */
    public DatasetReader(String topic, AvroSerde<LabeledExample> examples, KafkaConsumer<String, byte[]> reader,
            FeedbackDataset dataset) {
        this.topic = topic;
        this.examples = examples;
        this.reader = reader;
        this.dataset = dataset;
    }

    /** Reads the topic from its beginning to the end it has now. */
    public void readToEnd() {
        List<PartitionInfo> infos = reader.partitionsFor(topic, Duration.ofSeconds(30));
        List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(i.topic(), i.partition())).toList();
        reader.assign(partitions);
        reader.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = reader.endOffsets(partitions);
        while (partitions.stream().anyMatch(p -> reader.position(p) < end.get(p))) {
            readNext(Duration.ofMillis(200));
        }
    }

    /** Folds in what one poll returns; waits at most {@code timeout} for records. */
    public void readNext(Duration timeout) {
        for (ConsumerRecord<String, byte[]> r : reader.poll(timeout)) {
            if (r.value() == null) {
                dataset.remove(r.key());
                continue;
            }
            try {
                dataset.put(examples.deserializer().deserialize(r.topic(), r.headers(), r.value()), r.timestamp());
            } catch (RuntimeException e) {
                log.warn("Skipping dataset record {}: {}", r.key(), e.getMessage());
            }
        }
    }
}
