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
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
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
 * the location an {@code AdapterEvent} names only when it lies inside the store it is configured with itself:
 * an event is written by whoever can write the control topic, and its location must not make the processor
 * read its own files, reach other hosts or hand the store's token to them. Reading stops at a size bound, and
 * every fetch at a deadline.
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
    private final long maxBytes;
    private final Duration fetchTimeout;
    /** Redirects are followed by hand, only within the store: the token must not travel to another origin. */
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
            .followRedirects(HttpClient.Redirect.NEVER).build();
    private static final int MAX_REDIRECTS = 5;
    /** Default bound on one archive: far above a LoRA of a small model (tens of MB). */
    public static final long DEFAULT_MAX_BYTES = 1L << 30;
    /** Default bound on one fetch, from the first byte asked to the last one read. */
    public static final Duration DEFAULT_FETCH_TIMEOUT = Duration.ofSeconds(60);
    /**
     * Percent-encoded dot, slash, backslash and percent in a path: a server that decodes before it resolves
     * would walk {@code /store/%2e%2e/x} out of the store, so none of them is taken, whatever it decodes to.
     */
    private static final java.util.regex.Pattern ENCODED_PATH_SYNTAX =
            java.util.regex.Pattern.compile("%(2e|2f|5c|25)", java.util.regex.Pattern.CASE_INSENSITIVE);

    /**
     * The store could not deliver the archive now (unreachable, reset, 5xx, not there yet, too slow): asking
     * again later may succeed. Anything else wrong with a fetch is the archive's or the event's, and is final.
     */
    public static final class Unavailable extends IOException {
        Unavailable(String message, Throwable cause) {
            super(message, cause);
        }

        Unavailable(String message) {
            super(message);
        }
    }

    /**
     * @param target {@code kafka}, a {@code file:} URI or an {@code http(s):} URL (where {@link #put} writes)
     * @param kafka client settings for the adapters topic
     * @param httpToken bearer token for HTTP(S) stores; blank for none
     */
    public AdapterStore(String target, Properties kafka, String adaptersTopic, String httpToken) {
        this(target, kafka, adaptersTopic, httpToken, DEFAULT_MAX_BYTES);
    }

    /** @param maxBytes the most bytes one archive may take; larger ones are refused before or while reading */
    public AdapterStore(String target, Properties kafka, String adaptersTopic, String httpToken, long maxBytes) {
        this(target, kafka, adaptersTopic, httpToken, maxBytes, DEFAULT_FETCH_TIMEOUT);
    }

    /** @param fetchTimeout the longest one {@link #get} may take, all of it: connecting, waiting, reading */
    public AdapterStore(String target, Properties kafka, String adaptersTopic, String httpToken, long maxBytes,
            Duration fetchTimeout) {
        if (!target.equals("kafka") && !target.startsWith("file:") && !target.startsWith("http://")
                && !target.startsWith("https://")) {
            throw new IllegalArgumentException("adapter.store must be kafka, a file: URI or an http(s) URL, not " + target);
        }
        if (fetchTimeout.isNegative() || fetchTimeout.isZero()) {
            throw new IllegalArgumentException("adapter.fetch.timeout.ms must be positive, not " + fetchTimeout.toMillis());
        }
        this.target = target;
        this.kafka = kafka;
        this.adaptersTopic = adaptersTopic;
        this.httpToken = httpToken;
        this.maxBytes = maxBytes;
        this.fetchTimeout = fetchTimeout;
    }

    public long maxBytes() {
        return maxBytes;
    }

    /** The longest one {@link #get} takes. */
    public Duration fetchTimeout() {
        return fetchTimeout;
    }

    /** Stores one version's archive; returns the location to put into its {@code AdapterEvent}. */
    public String put(long version, byte[] archive) throws IOException {
        if (target.equals("kafka")) {
            return putKafka(version, archive);
        }
        String name = "adapter-" + version + ".zip";
        if (target.startsWith("file:")) {
            Path file = Path.of(URI.create(target)).resolve(name);
            AtomicFile.write(file, archive);
            return file.toUri().toString();
        }
        URI uri = URI.create(target.endsWith("/") ? target + name : target + "/" + name);
        HttpResponse<String> response = send(HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(5))
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(archive)),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 != 2) {
            throw new IOException("PUT " + uri + " answered " + response.statusCode() + ": " + response.body());
        }
        return uri.toString();
    }

    /**
     * Fetches the archive at a location inside this store, of {@code declaredBytes} as its event says; reading
     * stops as soon as more arrives than that or than the store's bound, and the whole fetch ends within
     * the fetch timeout. Throws {@link Unavailable} where a later try may succeed.
     */
    public byte[] get(String location, long declaredBytes) throws IOException {
        if (declaredBytes < 0 || declaredBytes > maxBytes) {
            throw new IOException("its archive is declared as " + declaredBytes + " bytes, over the bound of "
                    + maxBytes + " (adapter.max.bytes)");
        }
        long deadline = System.nanoTime() + fetchTimeout.toNanos();
        long limit = declaredBytes;
        if (target.equals("kafka")) {
            if (!location.startsWith(KAFKA_SCHEME + adaptersTopic + "/")) {
                throw outside(location);
            }
            return getKafka(location, limit, deadline);
        }
        if (target.startsWith("file:")) {
            Path base = Path.of(URI.create(target)).toAbsolutePath().normalize();
            Path file;
            try {
                file = Path.of(URI.create(location)).toAbsolutePath().normalize();
            } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
                throw outside(location);
            }
            if (!location.startsWith("file:") || !file.startsWith(base) || file.equals(base)
                    || !Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                throw outside(location);
            }
            try (var in = Files.newInputStream(file)) {
                return readAtMost(in, limit, location, deadline);
            }
        }
        URI uri = insideHttpStore(location);
        for (int hop = 0; ; hop++) {
            HttpResponse<java.io.InputStream> response = sendGet(uri, deadline);
            try (var body = response.body()) {
                int status = response.statusCode();
                if (status / 100 == 3 && hop < MAX_REDIRECTS) {
                    String next = response.headers().firstValue("Location")
                            .orElseThrow(() -> new IOException("GET " + location + " answered " + status + " without a Location"));
                    uri = insideHttpStore(uri.resolve(next).toString());
                    continue;
                }
                if (status / 100 == 5 || status == 404 || status == 408 || status == 429) {
                    // The store's trouble (or an archive not there yet behind an eventually consistent store).
                    throw new Unavailable("GET " + location + " answered " + status);
                }
                if (status != 200) {
                    throw new IOException("GET " + location + " answered " + status);
                }
                // The request's timeout ends at the headers: a body trickling in is cut at the deadline by closing it.
                CompletableFuture.delayedExecutor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)
                        .execute(() -> closeQuietly(body));
                return readAtMost(body, limit, location, deadline);
            }
        }
    }

    /**
     * The location as a URI when it is under the configured store's URL: same scheme, host and port, and a path
     * that lies below the store's once decoded, with no dot segment and nothing encoded that a server could
     * decode into one ({@link #ENCODED_PATH_SYNTAX}).
     */
    private URI insideHttpStore(String location) throws IOException {
        URI base = URI.create(target.endsWith("/") ? target : target + "/").normalize();
        URI uri;
        try {
            uri = new URI(location);
        } catch (java.net.URISyntaxException e) {
            throw outside(location);
        }
        String rawPath = uri.getRawPath();
        String path = uri.getPath();
        boolean inside = uri.getScheme() != null && uri.getScheme().equalsIgnoreCase(base.getScheme())
                && uri.getRawUserInfo() == null && uri.getHost() != null && uri.getHost().equalsIgnoreCase(base.getHost())
                && uri.getPort() == base.getPort() && rawPath != null && path != null
                && !ENCODED_PATH_SYNTAX.matcher(rawPath).find() && !path.contains("\\") && path.indexOf('\0') < 0
                && java.util.Arrays.stream(path.split("/", -1)).noneMatch(segment -> segment.equals(".") || segment.equals(".."))
                && path.startsWith(base.getPath());
        if (!inside) {
            throw outside(location);
        }
        return uri;
    }

    private IOException outside(String location) {
        return new IOException("its location " + location + " is not inside this processor's adapter store (" + target
                + ", adapter.store): refused");
    }

    /**
     * All of the stream if it holds at most {@code limit} bytes, read before the deadline; an error as soon as it
     * holds more. A read that fails (the peer reset, or the stream closed at the deadline) is the store's.
     */
    private byte[] readAtMost(java.io.InputStream in, long limit, String location, long deadline) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(limit, 1 << 20));
        byte[] buffer = new byte[1 << 16];
        long total = 0;
        while (true) {
            int n;
            try {
                n = in.read(buffer);
            } catch (IOException e) {
                throw System.nanoTime() - deadline >= 0 ? timedOut(location, total) : new Unavailable("reading "
                        + location + " failed after " + total + " bytes: " + e, e);
            }
            if (System.nanoTime() - deadline >= 0) {
                throw timedOut(location, total);
            }
            if (n < 0) {
                return out.toByteArray();
            }
            total += n;
            if (total > limit) {
                throw new IOException(location + " holds more than the " + limit + " bytes its event declares: refused");
            }
            out.write(buffer, 0, n);
        }
    }

    private Unavailable timedOut(String location, long bytesRead) {
        return new Unavailable("fetching " + location + " took longer than " + fetchTimeout.toMillis()
                + " ms (adapter.fetch.timeout.ms); " + bytesRead + " bytes had arrived");
    }

    private static void closeQuietly(java.io.Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException e) {
            // closing to stop a read: nothing more to do
        }
    }

    private HttpResponse<java.io.InputStream> sendGet(URI uri, long deadline) throws IOException {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw timedOut(uri.toString(), 0);
        }
        try {
            return send(HttpRequest.newBuilder(uri).GET().timeout(Duration.ofNanos(left)),
                    HttpResponse.BodyHandlers.ofInputStream());
        } catch (java.net.http.HttpTimeoutException e) {
            throw timedOut(uri.toString(), 0);
        } catch (IOException e) {
            throw new Unavailable("GET " + uri + " failed: " + e, e);
        }
    }

    private <T> HttpResponse<T> send(HttpRequest.Builder request, HttpResponse.BodyHandler<T> body) throws IOException {
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

    /**
     * Reads the chunks from the location's offset on, within the deadline. A partition the topic does not have is
     * the event's error; a broker that does not answer, a topic not there or chunks not (yet) all there are the
     * store's.
     */
    private byte[] getKafka(String location, long limit, long deadline) throws IOException {
        String[] parts = location.substring(KAFKA_SCHEME.length()).split("/");
        if (parts.length != 3) {
            throw new IOException("bad adapter location " + location + " (want kafka:<topic>/<partition>/<offset>)");
        }
        TopicPartition partition;
        long offset;
        try {
            partition = new TopicPartition(parts[0], Integer.parseInt(parts[1]));
            offset = Long.parseLong(parts[2]);
        } catch (NumberFormatException e) {
            throw new IOException("bad adapter location " + location + " (want kafka:<topic>/<partition>/<offset>)");
        }
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            // Asked first: assigning a partition that does not exist makes every later call wait out its timeout.
            List<org.apache.kafka.common.PartitionInfo> partitions = consumer.partitionsFor(partition.topic(), left(deadline));
            if (partitions == null || partitions.isEmpty()) {
                throw new Unavailable("the adapters topic " + partition.topic() + " does not exist (yet)");
            }
            if (partitions.stream().noneMatch(i -> i.partition() == partition.partition())) {
                throw new IOException("its location " + location + " names partition " + partition.partition() + " but "
                        + partition.topic() + " has " + partitions.size() + ": refused");
            }
            consumer.assign(List.of(partition));
            consumer.seek(partition, offset);
            long end = consumer.endOffsets(List.of(partition), left(deadline)).get(partition);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            String version = null;
            int next = 0;
            int count = -1;
            while (count < 0 || next < count) {
                if (System.nanoTime() - deadline >= 0) {
                    throw timedOut(location, out.size());
                }
                if (consumer.position(partition, left(deadline)) >= end) {
                    throw new Unavailable("adapter at " + location + " is incomplete: " + next + " of "
                            + (count < 0 ? "?" : count) + " chunks found");
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(min(left(deadline), Duration.ofMillis(200)))) {
                    String[] key = r.key() == null ? new String[0] : r.key().split("/");
                    if (version == null) {
                        version = key.length == 2 ? key[0] : null;
                        Header h = r.headers().lastHeader(HEADER_CHUNK_COUNT);
                        if (version == null || h == null) {
                            throw new IOException("no adapter chunk at " + location);
                        }
                        try {
                            count = Integer.parseInt(new String(h.value(), StandardCharsets.UTF_8));
                        } catch (NumberFormatException e) {
                            throw new IOException("no adapter chunk at " + location);
                        }
                    }
                    if (key.length == 2 && key[0].equals(version) && key[1].equals(Integer.toString(next)) && next < count
                            && r.value() != null) {
                        if (out.size() + (long) r.value().length > limit) {
                            throw new IOException(location + " holds more than the " + limit
                                    + " bytes its event declares: refused");
                        }
                        out.write(r.value());
                        next++;
                    }
                }
            }
            return out.toByteArray();
        } catch (org.apache.kafka.common.errors.TimeoutException e) {
            throw timedOut(location, 0);
        } catch (org.apache.kafka.common.KafkaException e) {
            // Interrupted, disconnected, not authorised just now: the broker's side.
            throw new Unavailable("reading " + location + " failed: " + e, e);
        }
    }

    private static Duration left(long deadline) {
        return Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
