package io.slmclassifier.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvaluation;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabelProbability;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.KafkaTestCluster;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.rollout.EvaluationRecords;
import io.slmclassifier.quality.Metrics;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The console's HTTP API on loopback against a real broker and registry: what the stream carries shows up in the
 * state and the event stream, labels land on the feedback topic as Avro, and writes are refused without the
 * configured token or when none is configured.
 */
class ConsoleServerIT {

    @RegisterExtension
    static final KafkaTestCluster kafka = KafkaTestCluster.withSchemaRegistry();

    private static final String TOKEN = "s3cret-console-token";
    private static final ObjectMapper json = new ObjectMapper();
    private static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private static final List<String> LABELS = List.of("order", "call", "other");

    private static ConsoleServer writable;
    private static ConsoleServer readOnly;
    private static ConsoleServer controlled;
    private static final RecordingControl control = new RecordingControl();
    private static KafkaProducer<String, Classification> results;

    @BeforeAll
    static void start() throws Exception {
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic("intents.classified", 2, (short) 1),
                    new NewTopic("intents.dlq", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        results = new KafkaProducer<>(Map.of("bootstrap.servers", kafka.bootstrapServers()), new StringSerializer(),
                AvroSerde.forType(Classification.class, kafka.registryClient()).serializer());
        // Written before the consoles start, which begin at the end of the topics: none of them shows these.
        results.send(new ProducerRecord<>("intents.classified", "warm-up", classification("warm-up", "x", 0.9, null)))
                .get(30, TimeUnit.SECONDS);
        try (KafkaProducer<byte[], byte[]> raw = rawProducer()) {
            raw.send(new ProducerRecord<>("intents.dlq", new byte[] {1})).get(30, TimeUnit.SECONDS);
        }
        writable = new ConsoleServer(settings(TOKEN, "feedback.writable"), kafka.registryClient(), null);
        readOnly = new ConsoleServer(settings("", "feedback.readonly"), kafka.registryClient(), null);
        controlled = new ConsoleServer(settings(TOKEN, "feedback.controlled"), kafka.registryClient(), control);
        for (ConsoleServer console : List.of(writable, readOnly, controlled)) {
            awaitState(console, s -> s.path("partitions").asInt() == 3); // reading every partition from its end
        }
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {results, writable, readOnly, controlled}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                // keep closing the rest
            }
        }
    }

    @Test
    void classificationsAndDeadLettersShowUpInStateAndEvents() throws Exception {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        try (Stream<String> lines = http.send(HttpRequest.newBuilder(URI.create(writable.url() + "api/events")).build(),
                HttpResponse.BodyHandlers.ofLines()).body()) {
            Thread reader = new Thread(() -> {
                try {
                    lines.forEach(events::add);
                } catch (RuntimeException e) {
                    // the stream was closed
                }
            });
            reader.setDaemon(true);
            reader.start();
            assertEquals("event: snapshot", pollUntil(events, l -> l.startsWith("event:")));

            results.send(new ProducerRecord<>("intents.classified", "live-1",
                    classification("live-1", "<script>alert(1)</script> kommen", 0.55, 4L))).get(30, TimeUnit.SECONDS);
            RecordHeaders headers = new RecordHeaders();
            headers.add("slm.error.type", "empty-text".getBytes(StandardCharsets.UTF_8));
            headers.add("slm.error.message", "the text is empty".getBytes(StandardCharsets.UTF_8));
            try (KafkaProducer<byte[], byte[]> raw = rawProducer()) {
                raw.send(new ProducerRecord<>("intents.dlq", null, null, "k".getBytes(StandardCharsets.UTF_8),
                        "   ".getBytes(StandardCharsets.UTF_8), headers)).get(30, TimeUnit.SECONDS);
            }

            String update = pollUntil(events, l -> l.startsWith("data:") && l.contains("\"live-1\""));
            JsonNode view = json.readTree(update.substring("data:".length()));
            JsonNode item = find(view.get("recent"), "live-1");
            assertEquals("<script>alert(1)</script> kommen", item.get("text").asText());
            assertEquals("order", item.get("label").asText());
            assertEquals(0.55, item.get("top").asDouble(), 1e-9);
            assertEquals(4, item.get("adapterVersion").asLong());
            assertEquals(LABELS.size(), item.get("probabilities").size());
            assertEquals(12, item.get("latencyMs").asLong());
        }

        JsonNode state = awaitState(writable, s -> s.path("stats").path("deadLetters").asLong() >= 1
                && find(s.get("recent"), "live-1") != null);
        assertFalse(state.toString().contains("warm-up"), "the console starts at the end of the topics");
        assertEquals(1, state.path("stats").path("deadLettersByReason").path("empty-text").asLong());
        assertEquals("the text is empty", state.path("deadLetterList").get(0).path("message").asText());
        assertTrue(state.path("stats").path("throughput").asDouble() > 0);
        assertEquals(12, state.path("stats").path("latencyP50").asLong());
        assertEquals(4, state.path("servingVersion").asLong(), "without adapter control: the latest result's");
        assertEquals(LABELS, strings(state.get("labels")));
        assertTrue(state.path("writable").asBoolean());
        assertFalse(state.path("adapters").path("available").asBoolean());
    }

    /**
     * A console of two tasks: each request names its task (the first one's without a name), and what each shows,
     * streams and writes is its own task's: its results, its adapter control, its feedback topic.
     */
    @Test
    void aConsoleOfSeveralTasksShowsEachOnItsOwnTopics() throws Exception {
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic("colours.classified", 1, (short) 1),
                    new NewTopic("colours.dlq", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        ConsoleSettings colours = new ConsoleSettings("127.0.0.1", 0, TOKEN, kafka.bootstrapServers(), Map.of(),
                "colours.classified", "colours.dlq", "colours.feedback", java.util.Set.of(), "colours.review");
        try (ConsoleServer console = new ConsoleServer(List.of(
                new ConsoleServer.Task("radr-intents", settings(TOKEN, "feedback.multi"), null),
                new ConsoleServer.Task("colours", colours, control)), kafka.registryClient())) {
            awaitState(console, "api/state", s -> s.path("partitions").asInt() == 3);
            awaitState(console, "api/state?task=colours", s -> s.path("partitions").asInt() == 2);
            BlockingQueue<String> colourEvents = new LinkedBlockingQueue<>();
            try (Stream<String> lines = http.send(HttpRequest.newBuilder(URI.create(console.url()
                    + "api/events?task=colours")).build(), HttpResponse.BodyHandlers.ofLines()).body()) {
                Thread reader = new Thread(() -> {
                    try {
                        lines.forEach(colourEvents::add);
                    } catch (RuntimeException e) {
                        // the stream was closed
                    }
                });
                reader.setDaemon(true);
                reader.start();
                assertTrue(pollUntil(colourEvents, l -> l.startsWith("data:")).contains("\"task\":\"colours\""));

                results.send(new ProducerRecord<>("intents.classified", "r-1", classification("r-1", "RobLW", 0.5, null)))
                        .get(30, TimeUnit.SECONDS);
                results.send(new ProducerRecord<>("colours.classified", "c-1", classification("c-1", "blue sky", 0.7, null)))
                        .get(30, TimeUnit.SECONDS);
                pollUntil(colourEvents, l -> l.startsWith("data:") && l.contains("\"c-1\""));
                JsonNode first = awaitState(console, "api/state", s -> find(s.get("recent"), "r-1") != null);
                Thread.sleep(1000); // two updates: the colours pages would have been sent r-1 by now
                assertTrue(colourEvents.stream().noneMatch(l -> l.contains("\"r-1\"")), "another task's result");

                assertEquals("radr-intents", first.path("task").asText());
                assertEquals(List.of("radr-intents", "colours"), strings(first.get("tasks")));
                assertNull(find(first.get("recent"), "c-1"));
                assertFalse(first.path("adapters").path("available").asBoolean());
                JsonNode second = awaitState(console, "api/state?task=colours", s -> find(s.get("recent"), "c-1") != null);
                assertEquals("colours", second.path("task").asText());
                assertNull(find(second.get("recent"), "r-1"));
                assertEquals("colours.classified", second.path("topics").path("classified").asText());
                assertTrue(second.path("adapters").path("available").asBoolean());
                assertEquals(3, second.path("servingVersion").asLong(), "the colours task's adapter control");
            }

            HttpResponse<String> labeled = post(console, "api/labels?task=colours", "{\"id\": \"c-1\", \"label\": \"call\"}",
                    TOKEN);
            assertEquals(200, labeled.statusCode(), labeled.body());
            assertEquals("colours.feedback", json.readTree(labeled.body()).path("topic").asText());
            assertEquals(404, post(console, "api/labels", "{\"id\": \"c-1\", \"label\": \"call\"}", TOKEN).statusCode(),
                    "c-1 is not a result of the first task");
            HttpResponse<String> unknown = get(console, "api/state?task=weather");
            assertEquals(404, unknown.statusCode());
            assertTrue(unknown.body().contains("[radr-intents, colours]"), unknown.body());
        }
    }

    /** A page of another origin whose DNS name points at this address (DNS rebinding) reads nothing. */
    @Test
    void requestsNamingAnotherHostAreRefused() throws Exception {
        assertTrue(rawGet(readOnly.port(), "/api/state", "127.0.0.1:" + readOnly.port()).startsWith("HTTP/1.1 200"));
        assertTrue(rawGet(readOnly.port(), "/api/state", "localhost").startsWith("HTTP/1.1 200"));
        String rebound = rawGet(readOnly.port(), "/api/state", "attacker.example:" + readOnly.port());
        assertTrue(rebound.startsWith("HTTP/1.1 421"), rebound);
        assertFalse(rebound.contains("partitions"), "no state for another origin");
        assertTrue(rawGet(readOnly.port(), "/", "attacker.example").startsWith("HTTP/1.1 421"));
        ConsoleSettings named = new ConsoleSettings("127.0.0.1", 0, "", kafka.bootstrapServers(), Map.of(),
                "intents.classified", "intents.dlq", "feedback.named", java.util.Set.of("Console.Example.org"), "intents.review");
        assertTrue(named.hostAllowed("console.example.org:8080"));
        assertTrue(named.hostAllowed("[::1]:9"));
        assertFalse(named.hostAllowed("console.example.org.attacker.example"));
        assertFalse(named.hostAllowed(null));
    }

    /** The console listens on loopback unless a deployment says otherwise. */
    @Test
    void listensOnLoopbackByDefault() {
        assertEquals("127.0.0.1", io.slmclassifier.stream.ProcessorConfig.of(Map.of()).get("console.host"));
    }

    /**
     * 200 open event streams and 300 clients that send their headers a byte at a time (from raw sockets) hold
     * nothing that {@code /api/state} needs: every answer comes within a second. Past the caps a stream is refused
     * with 503, and a client that has not sent its headers by the header deadline is disconnected.
     */
    @Test
    void openStreamsAndSlowClientsDoNotStallTheState() throws Exception {
        List<java.net.Socket> streams = new ArrayList<>();
        List<java.net.Socket> slow = new CopyOnWriteArrayList<>();
        Thread trickle = null;
        try (ConsoleServer crowded = new ConsoleServer(settings("", "feedback.crowded"), kafka.registryClient(),
                null)) {
            int perAddress = ConsoleSettings.DEFAULT_STREAMS_PER_ADDRESS;
            for (int i = 0; i < 200; i++) {
                java.net.Socket stream = openStream(crowded.port(), "127.0.1." + (1 + i / perAddress));
                streams.add(stream);
                assertTrue(statusLine(stream).startsWith("HTTP/1.1 200"), "stream " + i);
            }
            long slowOpened = System.nanoTime();
            for (int i = 0; i < 300; i++) {
                java.net.Socket s = new java.net.Socket("127.0.0.1", crowded.port());
                s.getOutputStream().write("GET /api/state HTTP/1.1\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
                slow.add(s);
            }
            trickle = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    for (java.net.Socket s : slow) {
                        try {
                            s.getOutputStream().write('a');
                        } catch (IOException e) {
                            // closed by the server: what the deadline is for
                        }
                    }
                    try {
                        Thread.sleep(2_000);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            trickle.setDaemon(true);
            trickle.start();

            long worstNanos = 0;
            for (int i = 0; i < 20; i++) {
                long started = System.nanoTime();
                HttpResponse<String> state = http.send(HttpRequest.newBuilder(URI.create(crowded.url() + "api/state"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                worstNanos = Math.max(worstNanos, System.nanoTime() - started);
                assertEquals(200, state.statusCode());
                Thread.sleep(250);
            }
            System.out.printf("/api/state with 200 open streams and 300 slow clients: worst of 20 answers %.1f ms%n",
                    worstNanos / 1e6);
            assertTrue(worstNanos < TimeUnit.SECONDS.toNanos(1), "worst answer " + worstNanos / 1e6 + " ms");

            // One more from an address that has its share open, then more than the console's cap in all.
            try (java.net.Socket refused = openStream(crowded.port(), "127.0.1.1")) {
                assertTrue(statusLine(refused).startsWith("HTTP/1.1 503"), "over the cap per address");
            }
            for (int i = streams.size(); i < ConsoleSettings.DEFAULT_MAX_STREAMS; i++) {
                java.net.Socket stream = openStream(crowded.port(), "127.0.2." + (1 + i / perAddress));
                streams.add(stream);
                assertTrue(statusLine(stream).startsWith("HTTP/1.1 200"), "stream " + i);
            }
            try (java.net.Socket refused = openStream(crowded.port(), "127.0.3.1")) {
                assertTrue(statusLine(refused).startsWith("HTTP/1.1 503"), "over the cap in all");
            }
            assertEquals(200, get(crowded, "api/state").statusCode());

            // The slow ones were held open until the header deadline, and are cut off then: none holds on longer.
            for (java.net.Socket s : slow) {
                long left = slowOpened + ConsoleServer.HEADER_DEADLINE.plusSeconds(5).toNanos() - System.nanoTime();
                s.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                try {
                    String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                    assertFalse(answer.contains(" 200 "), answer);
                } catch (java.net.SocketException e) {
                    // reset: closed as well
                }
                assertTrue(System.nanoTime() - slowOpened >= ConsoleServer.HEADER_DEADLINE.minusSeconds(1).toNanos(),
                        "closed before the header deadline");
            }
        } finally {
            if (trickle != null) {
                trickle.interrupt();
            }
            for (java.net.Socket s : streams) {
                s.close();
            }
            for (java.net.Socket s : slow) {
                s.close();
            }
        }
    }

    /** An event stream requested from a raw socket bound to {@code from}, a loopback address of its own. */
    private static java.net.Socket openStream(int port, String from) throws IOException {
        java.net.Socket s = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port,
                java.net.InetAddress.getByName(from), 0);
        s.setSoTimeout(10_000);
        s.getOutputStream().write("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        return s;
    }

    private static String statusLine(java.net.Socket s) throws IOException {
        StringBuilder line = new StringBuilder();
        java.io.InputStream in = s.getInputStream();
        for (int b = in.read(); b >= 0 && b != '\n'; b = in.read()) {
            line.append((char) b);
        }
        return line.toString().strip();
    }

    /**
     * Guessing the token: after {@code TokenAttempts.MAX_FAILURES} wrong ones from an address within a minute, that
     * address gets 429 with Retry-After and no token is checked, not even the right one; other addresses go on.
     */
    @Test
    void wrongTokensFromOneAddressAreLimited() throws Exception {
        String body = "{\"id\":\"never-seen\",\"label\":\"call\"}";
        for (int i = 0; i < TokenAttempts.MAX_FAILURES; i++) {
            assertTrue(rawPost(writable.port(), "127.0.4.1", "/api/labels", body, "guess-" + i).startsWith("HTTP/1.1 401"));
        }
        String limited = rawPost(writable.port(), "127.0.4.1", "/api/labels", body, "guess-next");
        assertTrue(limited.startsWith("HTTP/1.1 429"), limited);
        Matcher retryAfter = Pattern.compile("(?im)^Retry-After: (\\d+)\r?$").matcher(limited);
        assertTrue(retryAfter.find(), limited);
        int seconds = Integer.parseInt(retryAfter.group(1));
        assertTrue(seconds >= 1 && seconds <= 60, "Retry-After " + seconds);
        assertTrue(rawPost(writable.port(), "127.0.4.1", "/api/labels", body, TOKEN).startsWith("HTTP/1.1 429"),
                "while limited, not even the right token is tried");
        assertTrue(rawPost(writable.port(), "127.0.4.1", "/api/adapters", "{}", TOKEN).startsWith("HTTP/1.1 429"));
        // The right token from elsewhere is checked as ever: past the check, the id is unknown.
        assertTrue(rawPost(writable.port(), "127.0.4.2", "/api/labels", body, TOKEN).startsWith("HTTP/1.1 404"));
        assertEquals(404, post(writable, "api/labels", body, TOKEN).statusCode());
        // Reading stays open to the limited address.
        assertTrue(rawRequest(writable.port(), "127.0.4.1", "GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Connection: close\r\n\r\n").startsWith("HTTP/1.1 200"));
    }

    private static String rawPost(int port, String from, String path, String body, String token) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        return rawRequest(port, from, "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token
                + "\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length + "\r\nConnection: close\r\n\r\n"
                + body);
    }

    private static String rawRequest(int port, String from, String request) throws IOException {
        try (java.net.Socket socket = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port,
                java.net.InetAddress.getByName(from), 0)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String rawGet(int port, String path, String host) throws IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
            socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void reviewQueuePutsTheLeastConfidentFirst() throws Exception {
        results.send(new ProducerRecord<>("intents.classified", "sure", classification("sure", "ja", 0.95, null)));
        results.send(new ProducerRecord<>("intents.classified", "unsure", classification("unsure", "hm", 0.40, null)));
        // A clear winner among the classes, but most of the next-token probability went elsewhere.
        Classification elsewhere = classification("elsewhere", "??", 0.90, null);
        elsewhere.setLabelMass(0.2);
        results.send(new ProducerRecord<>("intents.classified", "elsewhere", elsewhere)).get(30, TimeUnit.SECONDS);

        JsonNode state = awaitState(readOnly, s -> find(s.get("review"), "sure") != null
                && find(s.get("review"), "elsewhere") != null && find(s.get("review"), "unsure") != null);
        List<String> order = new ArrayList<>();
        state.get("review").forEach(n -> order.add(n.get("id").asText()));
        assertTrue(order.indexOf("elsewhere") < order.indexOf("unsure"), order.toString());
        assertTrue(order.indexOf("unsure") < order.indexOf("sure"), order.toString());
        assertEquals(0.18, find(state.get("review"), "elsewhere").get("confidence").asDouble(), 1e-9);

        // A result the processor set aside (abstained, and so also on the review topic) goes before all of them.
        Classification abstained = classification("abstained", "eh", 0.85, null);
        abstained.setAbstained(true);
        results.send(new ProducerRecord<>("intents.classified", "abstained", abstained)).get(30, TimeUnit.SECONDS);
        JsonNode after = awaitState(readOnly, s -> find(s.get("review"), "abstained") != null);
        assertEquals("abstained", after.get("review").get(0).get("id").asText());
        assertTrue(after.get("review").get(0).get("abstained").asBoolean());
    }

    @Test
    void labelWithTheTokenWritesALabeledExample() throws Exception {
        results.send(new ProducerRecord<>("intents.classified", "to-label",
                classification("to-label", "RobLW an Zugführer, kommen.", 0.5, 7L))).get(30, TimeUnit.SECONDS);
        awaitState(writable, s -> find(s.get("recent"), "to-label") != null);
        Instant before = Instant.now();

        HttpResponse<String> answer = post(writable, "api/labels", "{\"id\":\"to-label\",\"label\":\"call\"}", TOKEN);
        assertEquals(200, answer.statusCode(), answer.body());
        assertEquals("feedback.writable", json.readTree(answer.body()).get("topic").asText());

        List<LabeledExample> written = readFeedback("feedback.writable", 1);
        LabeledExample example = written.get(0);
        assertEquals("to-label", example.getId());
        assertEquals("RobLW an Zugführer, kommen.", example.getText());
        assertEquals("call", example.getLabel());
        assertEquals("console", example.getSource());
        assertEquals("order", example.getPredictedLabel());
        assertEquals(7L, example.getAdapterVersion());
        assertFalse(example.getLabeledAt().isBefore(before.minusMillis(1)));

        JsonNode state = awaitState(writable, s -> s.path("feedback").path("pending").asLong() == 1);
        assertEquals(1, state.path("feedback").path("sentHere").asLong());
        assertNull(find(state.get("review"), "to-label"), "a labeled message leaves the review queue");
        assertEquals("call", find(state.get("recent"), "to-label").get("labeledAs").asText());
    }

    @Test
    void badLabelRequestsAreRefusedWithTheReason() throws Exception {
        results.send(new ProducerRecord<>("intents.classified", "bad-req", classification("bad-req", "t", 0.5, null)))
                .get(30, TimeUnit.SECONDS);
        awaitState(writable, s -> find(s.get("recent"), "bad-req") != null);
        assertEquals(400, post(writable, "api/labels", "{\"id\":\"bad-req\",\"label\":\"nonsense\"}", TOKEN).statusCode());
        assertEquals(404, post(writable, "api/labels", "{\"id\":\"never-seen\",\"label\":\"call\"}", TOKEN).statusCode());
        assertEquals(400, post(writable, "api/labels", "not json", TOKEN).statusCode());
        assertEquals(405, http.send(HttpRequest.newBuilder(URI.create(writable.url() + "api/labels")).GET().build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
    }

    @Test
    void withoutTheRightTokenNothingIsWritten() throws Exception {
        results.send(new ProducerRecord<>("intents.classified", "guarded", classification("guarded", "t", 0.5, null)))
                .get(30, TimeUnit.SECONDS);
        awaitState(writable, s -> find(s.get("recent"), "guarded") != null);
        String body = "{\"id\":\"guarded\",\"label\":\"call\"}";

        HttpResponse<String> none = post(writable, "api/labels", body, null);
        assertEquals(401, none.statusCode());
        assertTrue(none.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"));
        assertEquals(401, post(writable, "api/labels", body, "wrong").statusCode());
        assertEquals(401, post(writable, "api/labels", body, TOKEN + "x").statusCode());
        assertEquals(401, post(writable, "api/adapters", "{\"command\":\"ROLLBACK\"}", "wrong").statusCode());

        assertTrue(readFeedback("feedback.writable", 0).stream().noneMatch(e -> e.getId().equals("guarded")));
        JsonNode state = awaitState(writable, s -> true);
        assertTrue(find(state.get("recent"), "guarded").get("labeledAs").isNull());
        assertTrue(find(state.get("review"), "guarded") != null, "a refused label leaves the message to review");
    }

    @Test
    void withoutAConfiguredTokenTheConsoleIsReadOnly() throws Exception {
        results.send(new ProducerRecord<>("intents.classified", "ro", classification("ro", "t", 0.5, null)))
                .get(30, TimeUnit.SECONDS);
        JsonNode state = awaitState(readOnly, s -> find(s.get("recent"), "ro") != null);
        assertFalse(state.path("writable").asBoolean());

        String body = "{\"id\":\"ro\",\"label\":\"call\"}";
        assertEquals(403, post(readOnly, "api/labels", body, null).statusCode());
        // Not even a token that would be right elsewhere opens it: there is nothing to compare with.
        assertEquals(403, post(readOnly, "api/labels", body, TOKEN).statusCode());
        assertEquals(403, post(readOnly, "api/labels", body, "").statusCode());
        assertEquals(403, post(readOnly, "api/adapters", "{\"command\":\"UNPIN\"}", TOKEN).statusCode());
        assertEquals(0, endOffset("feedback.readonly"));
    }

    @Test
    void aRefusedWriteWaitsForItsBodyAndKeepsTheConnection() throws Exception {
        // The body comes after the answer could have: a refusal sent then, and the connection closed under a client
        // still writing, would reach the client as a reset instead of a 403.
        byte[] body = "{\"id\":\"ro\",\"label\":\"call\"}".getBytes(StandardCharsets.UTF_8);
        try (java.net.Socket socket = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), readOnly.port())) {
            socket.setSoTimeout(10_000);
            java.io.OutputStream out = socket.getOutputStream();
            out.write(("POST /api/labels HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            Thread.sleep(300);
            out.write(body);
            out.flush();
            java.io.InputStream in = socket.getInputStream();
            String refusal = responseHead(in);
            assertTrue(refusal.startsWith("HTTP/1.1 403"), refusal);
            assertFalse(refusal.toLowerCase(java.util.Locale.ROOT).contains("connection: close"), refusal);
            in.readNBytes(contentLength(refusal));

            out.write("GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String next = responseHead(in);
            assertTrue(next.startsWith("HTTP/1.1 200"), "the connection serves the next request: " + next);
        }
    }

    /** The status line and headers of the next response on a connection. */
    private static String responseHead(java.io.InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new java.io.EOFException("the connection ended after: " + head);
            }
            head.append((char) b);
        }
        return head.toString();
    }

    private static int contentLength(String head) {
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                return Integer.parseInt(line.substring("content-length:".length()).trim());
            }
        }
        throw new AssertionError("no Content-Length in " + head);
    }

    @Test
    void adapterCommandsGoThroughTheControl() throws Exception {
        HttpResponse<String> pin = post(controlled, "api/adapters", "{\"command\":\"PIN\",\"version\":2}", TOKEN);
        assertEquals(202, pin.statusCode(), pin.body());
        assertEquals(new Sent(AdapterCommandType.PIN, 2L, "console"), control.sent.get(control.sent.size() - 1));

        assertEquals(202, post(controlled, "api/adapters", "{\"command\":\"ROLLBACK\",\"version\":null}", TOKEN).statusCode());
        assertEquals(new Sent(AdapterCommandType.ROLLBACK, null, "console"), control.sent.get(control.sent.size() - 1));
        assertEquals(202, post(controlled, "api/adapters", "{\"command\":\"UNPIN\",\"version\":3}", TOKEN).statusCode());
        assertEquals(new Sent(AdapterCommandType.UNPIN, null, "console"), control.sent.get(control.sent.size() - 1));

        int before = control.sent.size();
        assertEquals(400, post(controlled, "api/adapters", "{\"command\":\"PIN\"}", TOKEN).statusCode());
        assertEquals(404, post(controlled, "api/adapters", "{\"command\":\"PIN\",\"version\":99}", TOKEN).statusCode());
        assertEquals(400, post(controlled, "api/adapters", "{\"command\":\"TRAIN\"}", TOKEN).statusCode());
        assertEquals(400, post(controlled, "api/adapters", "{\"command\":\"PIN\",\"version\":\"two\"}", TOKEN).statusCode());
        assertEquals(401, post(controlled, "api/adapters", "{\"command\":\"PIN\",\"version\":2}", null).statusCode());
        assertEquals(before, control.sent.size(), "refused commands are not sent");

        control.failing = true;
        try {
            HttpResponse<String> failed = post(controlled, "api/adapters", "{\"command\":\"PIN\",\"version\":1}", TOKEN);
            assertEquals(502, failed.statusCode());
            assertTrue(failed.body().contains("control topic unreachable"), failed.body());
        } finally {
            control.failing = false;
        }

        assertEquals(503, post(writable, "api/adapters", "{\"command\":\"PIN\",\"version\":2}", TOKEN).statusCode());

        JsonNode adapters = awaitState(controlled, s -> true).get("adapters");
        assertTrue(adapters.get("available").asBoolean());
        assertEquals(3, adapters.get("serving").asLong());
        assertEquals(2, adapters.get("pinned").asLong());
        List<Long> versions = new ArrayList<>();
        adapters.get("versions").forEach(v -> versions.add(v.get("version").asLong()));
        assertEquals(List.of(3L, 2L, 1L), versions, "newest first");
        JsonNode v3 = adapters.get("versions").get(0);
        assertTrue(v3.get("serving").asBoolean());
        assertEquals(0.81, v3.get("metrics").get("macro_f1").asDouble(), 1e-9);
        assertEquals("REJECTED", adapters.get("versions").get(1).get("status").asText());
        assertEquals("macro F1 below the serving version", adapters.get("versions").get(1).get("message").asText());
        assertTrue(adapters.get("hold").isNull(), "nothing held");

        control.hold = "held since the rollback at 2026-12-07T06:10:00Z by ops; waiting: v4";
        try {
            JsonNode held = awaitState(controlled, s -> !s.path("adapters").path("hold").isNull()).get("adapters");
            assertEquals(control.hold, held.get("hold").asText());
        } finally {
            control.hold = null;
        }
    }

    /**
     * An evaluation as the trainer publishes it, from logits that are too sure of themselves: 60 examples, right one
     * time in two, each at a confidence of about 0.99.
     */
    static final AdapterEvaluation EVALUATION = overconfidentEvaluation();

    private static AdapterEvaluation overconfidentEvaluation() {
        int n = 60;
        float[][] logits = new float[n][];
        int[] truth = new int[n];
        int[] predicted = new int[n];
        for (int i = 0; i < n; i++) {
            truth[i] = i % 3;
            // "other" always taken for "order", "call" half the time
            predicted[i] = truth[i] == 2 || truth[i] == 1 && i % 2 == 0 ? 0 : truth[i];
            logits[i] = new float[3];
            logits[i][predicted[i]] = 5f + (i % 5) * 0.1f;
        }
        return EvaluationRecords.toAvro(Metrics.of(LABELS, truth, predicted), Calibration.Report.of(logits, truth), true);
    }

    @Test
    void theQualityPanelDrawsTheServingVersionAndTheCandidate() throws Exception {
        JsonNode state = awaitState(controlled, s -> true);
        assertEquals(3, state.get("quality").get("serving").asLong());
        assertTrue(state.get("quality").get("candidate").isNull(), "nothing trained after the serving version");
        JsonNode v3 = state.get("adapters").get("versions").get(0);
        assertEquals(60, v3.get("evaluation").get("examples").asInt());
        assertEquals(EVALUATION.getTemperature(), v3.get("evaluation").get("temperature").asDouble(), 1e-12);
        assertTrue(state.get("adapters").get("versions").get(2).get("evaluation").isNull(), "v1 published none");

        control.candidate = new AdapterRow(4, AdapterStatus.REJECTED, Map.of("macro_f1", 0.7), Instant.now(),
                "validation ECE 0.3000 is above gate.max.ece 0.0500", EVALUATION);
        try {
            JsonNode withCandidate = awaitState(controlled, s -> !s.get("quality").get("candidate").isNull());
            assertEquals(4, withCandidate.get("quality").get("candidate").asLong());
            assertEquals(3, withCandidate.get("quality").get("serving").asLong());

            HttpResponse<String> reliability = get(controlled, "api/plots/4/reliability.svg");
            assertEquals(200, reliability.statusCode(), reliability.body());
            assertEquals("image/svg+xml", reliability.headers().firstValue("Content-Type").orElse(""));
            assertTrue(reliability.headers().firstValue("Content-Security-Policy").orElse("").startsWith("default-src 'none'"));
            String svg = reliability.body();
            assertTrue(svg.startsWith("<?xml") && svg.contains("<svg"), svg.substring(0, Math.min(200, svg.length())));
            assertTrue(svg.contains("Reliability diagram (v4, 60 validation examples)"), "titled with the version");
            assertTrue(svg.contains("confidence (mean per bin of 1/15; the numbers: examples in the bin)")
                    && svg.contains("perfect calibration"));
            // Over-confident before, and the fitted temperature brings the confidence down to the accuracy.
            double before = EvaluationRecords.fromAvro(EVALUATION).calibration().reported().ece();
            double after = EvaluationRecords.fromAvro(EVALUATION).calibration().scaled().ece();
            assertTrue(before > 0.25 && after < before / 2, before + " -> " + after);
            assertTrue(svg.contains(String.format("ECE %.3f", before)) && svg.contains(String.format("ECE %.3f", after)),
                    "both series in the legend");

            String coverage = get(controlled, "api/plots/3/coverage.svg").body();
            assertTrue(coverage.contains("coverage (fraction kept)") && coverage.contains("(fitted)"), "coverage of v3");
            String confusion = get(controlled, "api/plots/3/confusion.svg").body();
            assertTrue(confusion.contains("predicted label") && LABELS.stream().allMatch(l -> confusion.contains(">" + l + "<")));
            assertTrue(confusion.contains(">10<") && confusion.contains(">20<"), "the counts in their cells");
        } finally {
            control.candidate = null;
        }
        assertEquals(404, get(controlled, "api/plots/1/reliability.svg").statusCode(), "v1 has no evaluation");
        assertEquals(404, get(controlled, "api/plots/3/histogram.svg").statusCode());
        assertEquals(404, get(controlled, "api/plots/../pom.xml").statusCode());
        assertEquals(404, get(writable, "api/plots/3/reliability.svg").statusCode(), "no adapter control, no versions");
    }

    @Test
    void abstentionsAreCountedPerLabel() throws Exception {
        long before = awaitState(readOnly, s -> true).get("stats").get("abstained").asLong();
        Classification setAside = classification("abstained-count", "hmm", 0.99, null);
        setAside.setAbstained(true);
        results.send(new ProducerRecord<>("intents.classified", "abstained-count", setAside)).get(30, TimeUnit.SECONDS);
        JsonNode state = awaitState(readOnly, s -> s.get("stats").get("abstained").asLong() == before + 1);
        assertTrue(state.get("stats").get("abstainedPerLabel").get("order").asLong() >= 1, state.get("stats").toString());
        assertEquals(0, state.get("stats").get("abstainedPerLabel").get("call").asLong());
    }

    @Test
    void aNewConsoleStartsItsReviewQueueWithWhatIsStillUnlabeledOnTheReviewTopic() throws Exception {
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic("review.backlog", 2, (short) 1),
                    new NewTopic("feedback.backlog", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        for (String id : List.of("waiting", "labeled-elsewhere")) {
            Classification c = classification(id, "set aside " + id, 0.41, null);
            c.setAbstained(true);
            results.send(new ProducerRecord<>("review.backlog", id, c)).get(30, TimeUnit.SECONDS);
        }
        try (KafkaProducer<String, LabeledExample> labels = new KafkaProducer<>(
                Map.of("bootstrap.servers", kafka.bootstrapServers()), new StringSerializer(),
                AvroSerde.forType(LabeledExample.class, kafka.registryClient()).serializer())) {
            labels.send(new ProducerRecord<>("feedback.backlog", "labeled-elsewhere", new LabeledExample(
                    "labeled-elsewhere", "set aside labeled-elsewhere", "call", "reviewer", Instant.now(), "order", null)))
                    .get(30, TimeUnit.SECONDS);
        }
        ConsoleSettings settings = new ConsoleSettings("127.0.0.1", 0, TOKEN, kafka.bootstrapServers(), Map.of(),
                "intents.classified", "intents.dlq", "feedback.backlog", java.util.Set.of(), "review.backlog");
        try (ConsoleServer restarted = new ConsoleServer(settings, kafka.registryClient(), null)) {
            JsonNode state = awaitState(restarted, s -> find(s.get("review"), "waiting") != null);
            assertNull(find(state.get("review"), "labeled-elsewhere"), "labeled since: not in the queue");
            assertTrue(find(state.get("review"), "waiting").get("abstained").asBoolean());
            assertNull(find(state.get("recent"), "waiting"), "the backlog is no live result");
            assertEquals(0, state.get("stats").get("classified").asLong(), "nor is it counted as classified here");
            // It can be labeled from this console like any other.
            assertEquals(200, post(restarted, "api/labels", "{\"id\":\"waiting\",\"label\":\"call\"}", TOKEN).statusCode());
            assertNull(find(awaitState(restarted, s -> true).get("review"), "waiting"), "labeled: out of the queue");
        }
    }

    private static HttpResponse<String> get(ConsoleServer console, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(console.url() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theReviewQueuePutsResultsOfVersionsThatNoLongerServeLast() throws Exception {
        // v2 hesitated and abstained; v3 serves now and is fairly sure: its result is still the one to review first.
        Classification old = classification("by-v2", "alt", 0.33, 2L);
        old.setAbstained(true);
        results.send(new ProducerRecord<>("intents.classified", "by-v2", old));
        results.send(new ProducerRecord<>("intents.classified", "by-v3", classification("by-v3", "neu", 0.80, 3L)))
                .get(30, TimeUnit.SECONDS);

        JsonNode review = awaitState(controlled, s -> find(s.get("review"), "by-v2") != null
                && find(s.get("review"), "by-v3") != null).get("review");
        List<String> order = new ArrayList<>();
        review.forEach(n -> order.add(n.get("id").asText()));
        assertTrue(order.indexOf("by-v3") < order.indexOf("by-v2"), order.toString());
        assertTrue(find(review, "by-v3").get("current").asBoolean());
        assertFalse(find(review, "by-v2").get("current").asBoolean());
        review.forEach(n -> assertEquals(n.get("current").asBoolean(), n.path("adapterVersion").asLong(-1) == 3,
                "current means made by the serving version: " + n));
    }

    @Test
    void theFeedbackFiguresNameTheNewestVersionWithItsStatusBesideTheServingOne() throws Exception {
        control.candidate = new AdapterRow(12, AdapterStatus.REJECTED, Map.of("macro_f1", 0.4),
                RecordingControl.NEWEST_CREATED.plusSeconds(60), "macro F1 below the serving version", null);
        try {
            JsonNode state = awaitState(controlled, s -> s.path("feedback").path("sinceVersion").asLong() == 12);
            assertEquals("REJECTED", state.get("feedback").get("sinceStatus").asText());
            assertEquals(3, state.get("servingVersion").asLong());
        } finally {
            control.candidate = null;
        }
        JsonNode state = awaitState(controlled, s -> s.path("feedback").path("sinceVersion").asLong() == 3);
        assertEquals("ACTIVE", state.get("feedback").get("sinceStatus").asText());
    }

    @Test
    void pendingLabelsCountOnlyThoseSinceTheNewestAdapter() throws Exception {
        results.send(new ProducerRecord<>("intents.classified", "p-1", classification("p-1", "t", 0.5, 3L)))
                .get(30, TimeUnit.SECONDS);
        awaitState(controlled, s -> find(s.get("recent"), "p-1") != null);
        // The labels written before the newest adapter was trained are in it already.
        try (KafkaProducer<String, LabeledExample> older = new KafkaProducer<>(
                Map.of("bootstrap.servers", kafka.bootstrapServers()), new StringSerializer(),
                AvroSerde.forType(LabeledExample.class, kafka.registryClient()).serializer())) {
            long past = RecordingControl.NEWEST_CREATED.minusSeconds(60).toEpochMilli();
            older.send(new ProducerRecord<>("feedback.controlled", null, past, "old", new LabeledExample("old", "t",
                    "call", "test", Instant.ofEpochMilli(past), null, null))).get(30, TimeUnit.SECONDS);
        }
        assertEquals(200, post(controlled, "api/labels", "{\"id\":\"p-1\",\"label\":\"other\"}", TOKEN).statusCode());
        JsonNode state = awaitState(controlled, s -> s.path("feedback").path("pending").asLong() == 1);
        assertEquals(3, state.path("feedback").path("sinceVersion").asLong());
        assertEquals(2, readFeedback("feedback.controlled", 2).size());
    }

    @Test
    void thePageIsServedWithAStrictContentPolicy() throws Exception {
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(writable.url())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, page.statusCode());
        assertTrue(page.headers().firstValue("Content-Type").orElse("").startsWith("text/html"));
        assertTrue(page.headers().firstValue("Content-Security-Policy").orElse("").contains("script-src 'self'"));
        assertTrue(page.body().contains("<script src=\"console.js\""));
        HttpResponse<String> head = http.send(HttpRequest.newBuilder(URI.create(writable.url()))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, head.statusCode());
        assertEquals("", head.body());
        assertEquals(String.valueOf(page.body().getBytes(StandardCharsets.UTF_8).length),
                head.headers().firstValue("Content-Length").orElse(""));
        HttpResponse<String> script = http.send(HttpRequest.newBuilder(URI.create(writable.url() + "console.js")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, script.statusCode());
        assertFalse(script.body().contains("innerHTML"), "the page never parses data as HTML");
        HttpResponse<String> aboveTheRoot = http.send(HttpRequest.newBuilder(URI.create(writable.url() + "../pom.xml"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, aboveTheRoot.statusCode(), "a path above the root is no path");
        assertTrue(aboveTheRoot.body().startsWith("{\"error\":"), aboveTheRoot.body());
        assertEquals("nosniff", aboveTheRoot.headers().firstValue("X-Content-Type-Options").orElse(""));
        assertEquals(404, http.send(HttpRequest.newBuilder(URI.create(writable.url() + "console/console.js")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        for (String icon : new String[] {"favicon.ico", "favicon.svg"}) {
            HttpResponse<String> favicon = http.send(HttpRequest.newBuilder(URI.create(writable.url() + icon)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, favicon.statusCode(), icon);
            assertEquals("image/svg+xml", favicon.headers().firstValue("Content-Type").orElse(""));
            assertTrue(favicon.body().startsWith("<svg"), favicon.body());
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    record Sent(AdapterCommandType type, Long version, String requestedBy) {}

    /**
     * Three versions in memory and a record of what was sent: the console's side of the interface, whose
     * control-topic implementation lives with the adapter rollout.
     */
    static final class RecordingControl implements AdapterControl {
        static final Instant NEWEST_CREATED = Instant.now().minusSeconds(3600);
        final List<Sent> sent = new CopyOnWriteArrayList<>();
        volatile boolean failing;

        /** The hold line, while a test wants a rollback to hold the lineage. */
        volatile String hold;

        /** A version trained after the serving one, while a test wants a candidate. */
        volatile AdapterRow candidate;

        @Override
        public List<AdapterRow> versions() {
            List<AdapterRow> rows = new ArrayList<>(List.of(
                    new AdapterRow(1, AdapterStatus.ROLLED_BACK, Map.of("macro_f1", 0.62), NEWEST_CREATED.minusSeconds(7200),
                            null, null),
                    new AdapterRow(3, AdapterStatus.ACTIVE, Map.of("macro_f1", 0.81, "accuracy", 0.9), NEWEST_CREATED, null,
                            EVALUATION),
                    new AdapterRow(2, AdapterStatus.REJECTED, Map.of("macro_f1", 0.55), NEWEST_CREATED.minusSeconds(3600),
                            "macro F1 below the serving version", EVALUATION)));
            if (candidate != null) {
                rows.add(candidate);
            }
            return rows;
        }

        @Override
        public OptionalLong serving() {
            return OptionalLong.of(3);
        }

        @Override
        public OptionalLong pinned() {
            return OptionalLong.of(2);
        }

        @Override
        public Optional<String> hold() {
            return Optional.ofNullable(hold);
        }

        @Override
        public void send(AdapterCommandType type, Long version, String requestedBy) {
            if (failing) {
                throw new IllegalStateException("control topic unreachable");
            }
            sent.add(new Sent(type, version, requestedBy));
        }
    }

    private static ConsoleSettings settings(String token, String feedbackTopic) {
        return new ConsoleSettings("127.0.0.1", 0, token, kafka.bootstrapServers(), Map.of(), "intents.classified",
                "intents.dlq", feedbackTopic);
    }

    private static KafkaProducer<byte[], byte[]> rawProducer() {
        return new KafkaProducer<>(Map.of("bootstrap.servers", kafka.bootstrapServers()), new ByteArraySerializer(),
                new ByteArraySerializer());
    }

    static Classification classification(String id, String text, double top, Long adapterVersion) {
        double rest = (1 - top) / 2;
        return Classification.newBuilder()
                .setId(id)
                .setText(text)
                .setLabel("order")
                .setLabelIndex(0)
                .setProbabilities(List.of(new LabelProbability("order", top), new LabelProbability("call", rest),
                        new LabelProbability("other", rest)))
                .setLogits(List.of(1.0, 0.0, 0.0))
                .setTask("radr-intents")
                .setModelId("qwen3-tiny")
                .setAdapterVersion(adapterVersion)
                .setSourceTopic("intents.in")
                .setSourcePartition(0)
                .setSourceOffset(0L)
                .setEventTime(Instant.now())
                .setProcessingTime(Instant.now())
                .setLatencyMs(12L)
                .build();
    }

    private static HttpResponse<String> post(ConsoleServer console, String path, String body, String token)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(console.url() + path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode awaitState(ConsoleServer console, Predicate<JsonNode> condition) throws Exception {
        return awaitState(console, "api/state", condition);
    }

    /** Polls {@code path} (the state of one task) until its answer meets the condition. */
    private static JsonNode awaitState(ConsoleServer console, String path, Predicate<JsonNode> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(console.url() + path))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), response.body());
            last = json.readTree(response.body());
            if (condition.test(last)) {
                return last;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the console's state never met the condition; last: " + last);
    }

    private static String pollUntil(BlockingQueue<String> lines, Predicate<String> wanted) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String line = lines.poll(100, TimeUnit.MILLISECONDS);
            if (line != null && wanted.test(line)) {
                return line;
            }
        }
        throw new AssertionError("no such event within 30 s");
    }

    private static JsonNode find(JsonNode items, String id) {
        for (JsonNode item : items) {
            if (item.get("id").asText().equals(id)) {
                return item;
            }
        }
        return null;
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    /** The feedback topic read from its beginning by a reader of its own, until it has at least {@code count}. */
    private static List<LabeledExample> readFeedback(String topic, int count) {
        AvroSerde<LabeledExample> serde = AvroSerde.forType(LabeledExample.class, kafka.registryClient());
        List<LabeledExample> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(
                Map.of("bootstrap.servers", kafka.bootstrapServers()), new StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(count == 0 ? 3 : 30);
            while (System.nanoTime() < deadline && (out.size() < count
                    || partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp)))) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    LabeledExample example = serde.deserializer().deserialize(r.topic(), r.headers(), r.value());
                    assertEquals(example.getId(), r.key());
                    out.add(example);
                }
            }
        }
        assertTrue(out.size() >= count, "expected " + count + " records on " + topic + ", found " + out);
        return out;
    }

    private static long endOffset(String topic) {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(
                Map.of("bootstrap.servers", kafka.bootstrapServers(), "allow.auto.create.topics", "false"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            return consumer.endOffsets(partitions).values().stream().mapToLong(Long::longValue).sum();
        }
    }
}
