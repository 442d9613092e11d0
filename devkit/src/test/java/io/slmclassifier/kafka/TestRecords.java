package io.slmclassifier.kafka;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabelProbability;
import java.time.Instant;
import java.util.List;

/** Sample records for the serde tests. */
final class TestRecords {

    private TestRecords() {
    }

    static Classification classification(String id) {
        return Classification.newBuilder()
                .setId(id)
                .setText("I want to cancel my subscription")
                .setLabel("cancel")
                .setLabelIndex(1)
                .setProbabilities(List.of(
                        new LabelProbability("refund", 0.125),
                        new LabelProbability("cancel", 0.75),
                        new LabelProbability("other", 0.125)))
                .setLogits(List.of(-1.5, 0.29, -1.5))
                .setLabelMass(0.93)
                .setTask("radr_intents")
                .setModelId("Qwen/Qwen3-0.6B")
                .setAdapterVersion(3L)
                .setSourceTopic("intents.in")
                .setSourcePartition(0)
                .setSourceOffset(41L)
                .setEventTime(Instant.ofEpochMilli(1_700_000_000_123L))
                .setProcessingTime(Instant.ofEpochMilli(1_700_000_000_456L))
                .setLatencyMs(333L)
                .setTruncated(false)
                .build();
    }
}
