package io.slmclassifier.stream;

import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabelProbability;
import io.slmclassifier.kafka.DeadLetters;
import io.slmclassifier.kafka.WireFormat;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * intents.in -> validate and decode -> changelogged store -> (linger punctuator or size trigger) -> the JVM's
 * inference worker -> intents.classified, or intents.dlq with the reason.
 *
 * <p>Records wait in a changelogged store, not in memory: under exactly-once their input offsets commit with
 * the transaction that put them there, so only the store brings them back after a crash.
 * Results leave with the input's key, timestamp and headers, plus {@code adapter-version} and {@code model-id}.
 */
public final class ClassifierTopology {
    public static final String STORE = "pending-classification";
    public static final String HEADER_ADAPTER_VERSION = "adapter-version";
    public static final String HEADER_MODEL_ID = "model-id";

    private static final Logger log = LoggerFactory.getLogger(ClassifierTopology.class);

    /**
     * What the topology needs from the rest of the service.
     *
     * @param maxStoredBytes most bytes one waiting record may take in the changelogged store
     * @param maxResultBytes most bytes of one result record (the output and review topics take no more): a larger
     *     result is dead-lettered, since a record the broker refuses would abort its transaction again and again
     * @param maxDeadLetterBytes most bytes of one dead letter (see {@link DeadLetters}): what does not fit is cut
     * @param reviewTopic where results that abstain go as well, for people to label
     * @param abstainThreshold results whose calibrated confidence is below it abstain (0: none do)
     * @param abstainMinLabelMass results whose label mass is below it abstain too (0: none do); it takes a
     *     classifier that computes the label mass, results without one never fall below it
     */
    public record Settings(String inputTopic, String outputTopic, String dlqTopic, String taskName, String modelId,
            List<String> labels, int maxBatch, Duration linger, Duration inferenceTimeout, int maxStoredBytes,
            int maxResultBytes, int maxDeadLetterBytes, String reviewTopic, double abstainThreshold,
            double abstainMinLabelMass) {}

    /** Observes what flows through (metrics); all methods may be called from several stream threads. */
    public interface Listener {
        void received();

        void classified(long endToEndMillis);

        void deadLettered(BadInput.Reason reason);

        void batch(int size);

        /** A result that abstained (confidence or label mass below its floor), by its label. */
        default void abstained(String label) {}
    }

    /** Where the topology's batches go: its task's lane of the inference worker. */
    public interface Inference {
        /** One outcome per text, in order, once all of them have run. */
        CompletableFuture<List<InferenceWorker.Outcome>> submit(List<String> texts);

        /** Whether the worker has nothing running and nothing waiting, of any task: a batch sent now runs at once. */
        boolean idle();

        /** The lane of {@code task} in {@code worker}. */
        static Inference lane(InferenceWorker<?> worker, String task) {
            return lane(worker, task, true);
        }

        /**
         * The lane of {@code task} in {@code worker}; without {@code idleStart} it never reports the worker idle, so
         * every batch waits for its linger or a full batch ({@code batch.idle.start=false}).
         */
        static Inference lane(InferenceWorker<?> worker, String task, boolean idleStart) {
            return new Inference() {
                @Override
                public CompletableFuture<List<InferenceWorker.Outcome>> submit(List<String> texts) {
                    return worker.submit(task, texts);
                }

                @Override
                public boolean idle() {
                    return idleStart && worker.idle();
                }
            };
        }
    }

    private ClassifierTopology() {}

    /**
     * @param temperatureOf the calibration temperature of an adapter version as results name it ({@code base} or
     *     a number), or null where there is none (probabilities are then the plain softmax)
     */
    public static Topology build(Settings settings, InputDecoder decoder, Inference inference,
            Serializer<Classification> classificationSerializer, Listener listener,
            java.util.function.Function<String, Double> temperatureOf) {
        Topology topology = new Topology();
        topology.addSource("input", new ByteArrayDeserializer(), new ByteArrayDeserializer(), settings.inputTopic());
        topology.addProcessor("classify", () -> new MicroBatchProcessor(settings, decoder, inference,
                classificationSerializer, listener, temperatureOf), "input");
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(STORE), Serdes.String(),
                Serdes.ByteArray()), "classify");
        // Results are serialized by the processor, which must know their size before they are sent.
        topology.addSink("classified", settings.outputTopic(), new ByteArraySerializer(), new ByteArraySerializer(),
                "classify");
        topology.addSink("dead-letters", settings.dlqTopic(), new ByteArraySerializer(), new ByteArraySerializer(),
                "classify");
        topology.addSink("review", settings.reviewTopic(), new ByteArraySerializer(), new ByteArraySerializer(), "classify");
        return topology;
    }

    /**
     * One per stream task: puts decoded records into the store and runs them in batches, at most two in flight.
     * The stream thread does not wait for the model: while a batch runs it keeps polling, decoding and
     * storing, and the results are emitted at the next record or punctuation after the batch is done. A batch
     * still in flight at a crash or a rebalance simply runs again: its records never left the store.
     */
    static final class MicroBatchProcessor implements Processor<byte[], byte[], byte[], Object> {
        private final Settings settings;
        private final InputDecoder decoder;
        private final Inference inference;
        private final Serializer<Classification> serializer;
        private final Listener listener;
        private final java.util.function.Function<String, Double> temperatureOf;
        private ProcessorContext<byte[], Object> context;
        private KeyValueStore<String, byte[]> store;
        /** Records in the store and not in flight. */
        private int waiting;
        /** Batches handed to the worker, oldest first; results are emitted in this order. */
        private final java.util.ArrayDeque<Batch> inFlight = new java.util.ArrayDeque<>();
        private final java.util.Set<String> inFlightKeys = new java.util.HashSet<>();
        /** The last batch reported as slow. */
        private Batch slowReported;

        /** The worker runs batches one after another: a second one queued behind keeps it from idling. */
        private static final int MAX_IN_FLIGHT = 2;

        private record Batch(List<KeyValue<String, PendingRecord>> records,
                CompletableFuture<List<InferenceWorker.Outcome>> result, long since) {}

        MicroBatchProcessor(Settings settings, InputDecoder decoder, Inference inference,
                Serializer<Classification> serializer, Listener listener,
                java.util.function.Function<String, Double> temperatureOf) {
            this.settings = settings;
            this.decoder = decoder;
            this.inference = inference;
            this.serializer = serializer;
            this.listener = listener;
            this.temperatureOf = temperatureOf;
        }

        @Override
        public void init(ProcessorContext<byte[], Object> context) {
            this.context = context;
            this.store = context.getStateStore(STORE);
            this.waiting = (int) Math.min(Integer.MAX_VALUE, store.approximateNumEntries());
            context.schedule(settings.linger(), PunctuationType.WALL_CLOCK_TIME, now -> pump(true));
        }

        @Override
        public void process(Record<byte[], byte[]> record) {
            listener.received();
            RecordMetadata meta = context.recordMetadata().orElseThrow();
            String fallbackId = meta.topic() + "-" + meta.partition() + "-" + meta.offset();
            try {
                InputDecoder.Decoded decoded = decoder.decode(record.value(), record.headers(), fallbackId);
                PendingRecord pending = new PendingRecord(record.key(), decoded.id(), decoded.text(), decoded.truncated(),
                        record.timestamp(), PendingRecord.copy(record.headers()), meta.topic(), meta.partition(),
                        meta.offset(), PendingRecord.keepIfDifferent(record.value(), decoded.text()));
                store.put(PendingRecord.storeKey(meta.partition(), meta.offset()), storable(pending));
                waiting++;
            } catch (BadInput e) {
                deadLetter(record.key(), record.value(), record.timestamp(), record.headers(), meta.topic(),
                        meta.partition(), meta.offset(), e);
            }
            pump(false);
        }

        /**
         * The record's stored bytes, within the store's bound: a changelog record over the broker's limit would stop
         * the stream thread on this record forever. The original value (kept only for the dead-letter topic) goes
         * first; a record still too large is refused.
         */
        private byte[] storable(PendingRecord pending) {
            byte[] bytes = pending.toBytes();
            if (bytes.length > settings.maxStoredBytes() && pending.originalValue() != null) {
                bytes = pending.withoutOriginal().toBytes();
            }
            if (bytes.length > settings.maxStoredBytes()) {
                throw new BadInput(BadInput.Reason.RECORD_TOO_LARGE, "the record takes " + bytes.length
                        + " bytes waiting for its batch, more than store.record.max.bytes=" + settings.maxStoredBytes());
            }
            return bytes;
        }

        /**
         * Emits finished batches in order, then starts another when enough records wait ({@code lingered}: the
         * linger time is up, so any number will do; or the worker is idle) and fewer than {@link #MAX_IN_FLIGHT}
         * are running.
         */
        private void pump(boolean lingered) {
            while (!inFlight.isEmpty() && inFlight.peekFirst().result().isDone()) {
                Batch done = inFlight.pollFirst();
                done.records().forEach(kv -> inFlightKeys.remove(kv.key));
                try {
                    emit(done.records(), done.result().join());
                } catch (RuntimeException e) {
                    log.warn("Inference worker failed ({}); {} records stay queued", e.toString(), done.records().size());
                    waiting += done.records().size();
                }
            }
            Batch oldest = inFlight.peekFirst();
            if (oldest != null && oldest != slowReported
                    && System.nanoTime() - oldest.since() > settings.inferenceTimeout().toNanos()) {
                slowReported = oldest; // once per batch: pump runs for every record
                log.warn("A batch of {} records has run for more than {}; still waiting for it",
                        oldest.records().size(), settings.inferenceTimeout());
            }
            // An idle worker runs a batch at once: waiting for others would only add the linger to its latency.
            // A busy one gets batches as they fill or linger, so passes grow with the load.
            if (waiting > 0 && inFlight.size() < MAX_IN_FLIGHT
                    && (lingered || waiting >= settings.maxBatch() || (inFlight.isEmpty() && inference.idle()))) {
                startBatch();
            }
        }

        private void startBatch() {
            List<KeyValue<String, PendingRecord>> batch = new ArrayList<>();
            try (KeyValueIterator<String, byte[]> it = store.all()) {
                while (it.hasNext()) {
                    KeyValue<String, byte[]> kv = it.next();
                    if (!inFlightKeys.contains(kv.key)) {
                        batch.add(KeyValue.pair(kv.key, PendingRecord.fromBytes(kv.value)));
                    }
                }
            }
            waiting = 0;
            if (batch.isEmpty()) {
                return;
            }
            listener.batch(batch.size());
            batch.forEach(kv -> inFlightKeys.add(kv.key));
            inFlight.addLast(new Batch(batch, inference.submit(batch.stream().map(kv -> kv.value.text()).toList()),
                    System.nanoTime()));
        }

        private void emit(List<KeyValue<String, PendingRecord>> batch, List<InferenceWorker.Outcome> outcomes) {
            long now = System.currentTimeMillis();
            for (int i = 0; i < batch.size(); i++) {
                PendingRecord p = batch.get(i).value;
                InferenceWorker.Outcome outcome = outcomes.get(i);
                if (outcome.ok()) {
                    io.slmclassifier.classify.Classification c = outcome.classification();
                    Headers headers = p.kafkaHeaders();
                    // The input's schema-id header describes the input, not this Avro result.
                    headers.remove(HEADER_ADAPTER_VERSION).remove(HEADER_MODEL_ID).remove(WireFormat.VALUE_SCHEMA_ID_HEADER);
                    headers.add(HEADER_ADAPTER_VERSION, c.adapterVersion().getBytes(StandardCharsets.UTF_8));
                    headers.add(HEADER_MODEL_ID, settings.modelId().getBytes(StandardCharsets.UTF_8));
                    Classification result = toAvro(p, c, now);
                    byte[] bytes = serializer.serialize(settings.outputTopic(), headers, result);
                    long size = DeadLetters.recordBytes(p.key(), bytes, headers.toArray());
                    if (size > settings.maxResultBytes()) {
                        deadLetter(p.key(), p.value(), p.timestamp(), p.kafkaHeaders(), p.topic(), p.partition(),
                                p.offset(), new BadInput(BadInput.Reason.RESULT_TOO_LARGE, "the result takes " + size
                                        + " bytes, more than the " + settings.maxResultBytes() + " its topic takes"));
                    } else {
                        context.forward(new Record<>(p.key(), (Object) bytes, p.timestamp(), headers), "classified");
                        if (result.getAbstained()) {
                            context.forward(new Record<>(p.key(), (Object) serializer.serialize(settings.reviewTopic(),
                                    headers, result), p.timestamp(), headers), "review");
                            listener.abstained(result.getLabel());
                        }
                        listener.classified(now - p.timestamp());
                    }
                } else {
                    deadLetter(p.key(), p.value(), p.timestamp(), p.kafkaHeaders(),
                            p.topic(), p.partition(), p.offset(), new BadInput(BadInput.Reason.MODEL_FAILURE,
                                    String.valueOf(outcome.error().getMessage()), outcome.error()));
                }
                store.delete(batch.get(i).key);
            }
        }

        /**
         * The result record: probabilities calibrated with the temperature of the version that produced them (the
         * label, their argmax, does not change), the raw logits as they came.
         */
        private Classification toAvro(PendingRecord p, io.slmclassifier.classify.Classification c, long now) {
            Double temperature = temperatureOf.apply(c.adapterVersion());
            double[] calibrated = temperature == null ? c.probabilities()
                    : io.slmclassifier.classify.SlicedHead.softmax(c.logits(), temperature);
            List<LabelProbability> probabilities = new ArrayList<>();
            List<Double> logits = new ArrayList<>();
            for (int k = 0; k < settings.labels().size(); k++) {
                probabilities.add(new LabelProbability(settings.labels().get(k), calibrated[k]));
                logits.add((double) c.logits()[k]);
            }
            double confidence = calibrated[c.labelIndex()];
            // The label mass is not calibrated: a low one means the model wanted to say something that is no
            // class at all, however sure it is between the classes. NaN (not computed) never abstains.
            boolean abstained = confidence < settings.abstainThreshold()
                    || c.labelMass() < settings.abstainMinLabelMass();
            return Classification.newBuilder()
                    .setId(p.id())
                    .setText(p.text())
                    .setLabel(c.label())
                    .setLabelIndex(c.labelIndex())
                    .setProbabilities(probabilities)
                    .setLogits(logits)
                    .setLabelMass(Double.isNaN(c.labelMass()) ? null : c.labelMass())
                    .setTask(settings.taskName())
                    .setModelId(settings.modelId())
                    .setAdapterVersion(adapterVersion(c.adapterVersion()))
                    .setSourceTopic(p.topic())
                    .setSourcePartition(p.partition())
                    .setSourceOffset(p.offset())
                    .setEventTime(java.time.Instant.ofEpochMilli(p.timestamp()))
                    .setProcessingTime(java.time.Instant.ofEpochMilli(now))
                    .setLatencyMs(now - p.timestamp())
                    .setTruncated(p.truncated() || c.truncated())
                    .setConfidence(confidence)
                    .setAbstained(abstained)
                    .setCalibrationTemperature(temperature)
                    .build();
        }

        private static Long adapterVersion(String version) {
            try {
                return Long.parseLong(version);
            } catch (NumberFormatException e) {
                return null; // the base model, or an adapter loaded by hand without a rollout version
            }
        }

        private void deadLetter(byte[] key, byte[] value, long timestamp, Headers original, String topic, int partition,
                long offset, BadInput error) {
            DeadLetters.Letter letter = DeadLetters.of(key, value, original, error.reason().header, error.getMessage(),
                    error, topic, partition, offset, settings.maxDeadLetterBytes());
            if (letter.cut()) {
                log.warn("The dead letter of {}-{}@{} ({}) is cut to fit in {} bytes: {}", topic, partition, offset,
                        error.reason().header, settings.maxDeadLetterBytes(),
                        new String(letter.headers().lastHeader(DeadLetters.TRUNCATED).value(), StandardCharsets.UTF_8));
            }
            context.forward(new Record<>(letter.key(), (Object) letter.value(), timestamp, letter.headers()), "dead-letters");
            listener.deadLettered(error.reason());
        }
    }
}
