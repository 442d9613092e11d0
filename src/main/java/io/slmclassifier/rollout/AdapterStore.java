package io.slmclassifier.rollout;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Where adapter archives live between the trainer and the processors. By default a compacted Kafka topic, in
 * chunks small enough for any broker's default message size, so a cluster with nothing but Kafka works; or a
 * directory ({@code file:///shared/adapters}) or an HTTP(S) location that takes PUT and serves GET
 * ({@code https://store.example/adapters}). The trainer writes where it is configured to; a processor reads
 * from the location the {@code AdapterEvent} names, whatever it is configured with itself.
 */
public final class AdapterStore {
    /** 512 KiB: under the 1 MiB default of {@code max.message.bytes} with room for headers. */
    static final int CHUNK_BYTES = 512 * 1024;
    static final String HEADER_CHUNK_COUNT = "slm.chunk.count";
    private static final String KAFKA_SCHEME = "kafka:";

    private final String target;
    private final Properties kafka;
    private final String adaptersTopic;
    private final String httpToken;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
            .followRedirects(HttpClient.Redirect.NORMAL).build();

    /**
     * @param target {@code kafka}, a {@code file:} URI or an {@code http(s):} URL (where {@link #put} writes)
     * @param kafka client settings for the adapters topic
     * @param httpToken bearer token for HTTP(S) stores; blank for none
     */
    public AdapterStore(String target, Properties kafka, String adaptersTopic, String httpToken) {
        if (!target.equals("kafka") && !target.startsWith("file:") && !target.startsWith("http://")
                && !target.startsWith("https://")) {
            throw new IllegalArgumentException("adapter.store must be kafka, a file: URI or an http(s) URL, not " + target);
        }
        this.target = target;
        this.kafka = kafka;
        this.adaptersTopic = adaptersTopic;
        this.httpToken = httpToken;
    }

    /** Stores one version's archive; returns the location to put into its {@code AdapterEvent}. */
    public String put(long version, byte[] archive) throws IOException {
        if (target.equals("kafka")) {
            return putKafka(version, archive);
        }
        String name = "adapter-" + version + ".zip";
        if (target.startsWith("file:")) {
            Path dir = Path.of(URI.create(target));
            Files.createDirectories(dir);
            Path file = dir.resolve(name);
            Path partial = dir.resolve(name + ".partial");
            Files.write(partial, archive);
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return file.toUri().toString();
        }
        URI uri = URI.create(target.endsWith("/") ? target + name : target + "/" + name);
        HttpResponse<String> response = send(HttpRequest.newBuilder(uri).PUT(HttpRequest.BodyPublishers.ofByteArray(archive)),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 != 2) {
            throw new IOException("PUT " + uri + " answered " + response.statusCode() + ": " + response.body());
        }
        return uri.toString();
    }

    /** Fetches an archive from the location its event names. */
    public byte[] get(String location) throws IOException {
        if (location.startsWith(KAFKA_SCHEME)) {
            return getKafka(location);
        }
        if (location.startsWith("file:")) {
            return Files.readAllBytes(Path.of(URI.create(location)));
        }
        if (location.startsWith("http://") || location.startsWith("https://")) {
            HttpResponse<byte[]> response = send(HttpRequest.newBuilder(URI.create(location)).GET(),
                    HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() != 200) {
                throw new IOException("GET " + location + " answered " + response.statusCode());
            }
            return response.body();
        }
        throw new IOException("unknown adapter location " + location);
    }

    private <T> HttpResponse<T> send(HttpRequest.Builder request, HttpResponse.BodyHandler<T> body) throws IOException {
        request.timeout(Duration.ofMinutes(5));
        if (!httpToken.isBlank()) {
            request.header("Authorization", "Bearer " + httpToken);
        }
        try {
            return http.send(request.build(), body);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** Chunks keyed {@code <version>/<index>} on partition 0, in order; the location names the first offset. */
    private String putKafka(long version, byte[] archive) throws IOException {
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        int chunks = Math.max(1, (archive.length + CHUNK_BYTES - 1) / CHUNK_BYTES);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            RecordMetadata first = null;
            for (int i = 0; i < chunks; i++) {
                int from = i * CHUNK_BYTES;
                byte[] chunk = java.util.Arrays.copyOfRange(archive, from, Math.min(archive.length, from + CHUNK_BYTES));
                ProducerRecord<String, byte[]> record = new ProducerRecord<>(adaptersTopic, 0, version + "/" + i, chunk);
                record.headers().add(HEADER_CHUNK_COUNT, Integer.toString(chunks).getBytes(StandardCharsets.UTF_8));
                RecordMetadata sent = producer.send(record).get();
                if (first == null) {
                    first = sent;
                }
            }
            return KAFKA_SCHEME + adaptersTopic + "/" + first.partition() + "/" + first.offset();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException("could not write adapter " + version + " to " + adaptersTopic + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private byte[] getKafka(String location) throws IOException {
        String[] parts = location.substring(KAFKA_SCHEME.length()).split("/");
        if (parts.length != 3) {
            throw new IOException("bad adapter location " + location + " (want kafka:<topic>/<partition>/<offset>)");
        }
        TopicPartition partition = new TopicPartition(parts[0], Integer.parseInt(parts[1]));
        long offset = Long.parseLong(parts[2]);
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.assign(List.of(partition));
            consumer.seek(partition, offset);
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            String version = null;
            int next = 0;
            int count = -1;
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (count < 0 || next < count) {
                if (consumer.position(partition) >= end || System.nanoTime() > deadline) {
                    throw new IOException("adapter at " + location + " is incomplete: " + next + " of "
                            + (count < 0 ? "?" : count) + " chunks found");
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    String[] key = r.key() == null ? new String[0] : r.key().split("/");
                    if (version == null) {
                        version = key.length == 2 ? key[0] : null;
                        Header h = r.headers().lastHeader(HEADER_CHUNK_COUNT);
                        if (version == null || h == null) {
                            throw new IOException("no adapter chunk at " + location);
                        }
                        count = Integer.parseInt(new String(h.value(), StandardCharsets.UTF_8));
                    }
                    if (key.length == 2 && key[0].equals(version) && Integer.parseInt(key[1]) == next && next < count) {
                        out.write(r.value());
                        next++;
                    }
                }
            }
            return out.toByteArray();
        }
    }
}
