package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.sun.net.httpserver.HttpServer;
import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.classify.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.kafka.KafkaTestCluster;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import io.slmclassifier.model.ModelFingerprint;
import io.slmclassifier.train.ColourTask;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fetch path of a rollout against a real broker, real HTTP servers on loopback and the tiny model: fetches are
 * bounded and off the control topic's thread, the store's failures are tried again, the archive's are final, and a
 * refused newest version never changes what is served, not even across a restart.
 */
class AdapterFetchIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = KafkaTestCluster.withSchemaRegistry();
    private static LanguageModel model;
    private static Classifier classifier;
    private static String baseModelSha256;

    @BeforeAll
    static void start() throws Exception {
        model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null);
        classifier = new Classifier(model, ColourTask.TASK, Classifier.Options.defaults());
        baseModelSha256 = ModelFingerprint.sha256(model.dir());
    }

    @AfterAll
    static void stop() {
        classifier.close();
        model.close();
    }

    @Test
    void aSlowStoreHoldsUpNothingAndItsFailuresAreTriedAgain(@TempDir Path dir) throws Exception {
        String app = "fetch-http";
        byte[] good = archive(dir, 2);
        AtomicInteger slowRequests = new AtomicInteger();
        AtomicInteger flakyRequests = new AtomicInteger();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        var handlers = Executors.newCachedThreadPool();
        server.setExecutor(handlers);
        server.createContext("/store/", ex -> {
            String path = ex.getRequestURI().getPath();
            try {
                if (path.equals("/store/slow.zip")) {
                    // A whole archive's length announced, then one byte a second.
                    slowRequests.incrementAndGet();
                    ex.sendResponseHeaders(200, good.length);
                    for (int i = 0; i < good.length; i++) {
                        ex.getResponseBody().write(good[i]);
                        ex.getResponseBody().flush();
                        Thread.sleep(1000);
                    }
                } else if (path.equals("/store/flaky.zip") && flakyRequests.incrementAndGet() <= 2) {
                    ex.sendResponseHeaders(503, -1); // the store is briefly down
                } else if (path.equals("/store/flaky.zip")) {
                    ex.sendResponseHeaders(200, good.length);
                    ex.getResponseBody().write(good);
                } else {
                    ex.sendResponseHeaders(404, -1);
                }
            } catch (IOException | InterruptedException readerGone) {
                // the processor stopped reading
            } finally {
                ex.close();
            }
        });
        server.start();
        String store = "http://127.0.0.1:" + server.getAddress().getPort() + "/store";
        AdapterStore adapters = new AdapterStore(store, kafka.client(), app + ".adapters", "", 1 << 20,
                Duration.ofSeconds(4));
        try (ControlLog operator = controlLog(app);
                AdapterRollout rollout = rollout(operator.topic(), adapters, dir.resolve("cache"))) {
            operator.publish(event(1, good, store + "/slow.zip"));
            long started = System.nanoTime();
            rollout.start();
            long startMillis = (System.nanoTime() - started) / 1_000_000;
            assertTrue(startMillis >= 3_500 && startMillis < 10_000, "start-up waited for the store about its fetch "
                    + "timeout of 4 s, not for the body's 100 s: " + startMillis + " ms");
            assertEquals(1, slowRequests.get());
            assertEquals(0, rollout.serving());

            // Version 2 is published at a location whose store fails twice, then answers.
            operator.publish(event(2, good, store + "/flaky.zip"));
            long published = System.nanoTime();
            Eventually.awaitTrue(() -> rollout.serving() == 2, Duration.ofSeconds(30), "version 2 served after the store came back");
            long tookMillis = (System.nanoTime() - published) / 1_000_000;
            assertEquals(3, flakyRequests.get(), "two failures, then the fetch that worked");
            assertTrue(tookMillis >= 2_500 && tookMillis < 20_000, "tried again after 1 s and 2 s: served after " + tookMillis + " ms");
            assertTrue(state(operator).errors(2).isEmpty(), "a failure of the store is not the version's: no error event");

            // A command that arrives while a fetch hangs is applied within moments, not at the fetch's deadline.
            int slowBefore = slowRequests.get();
            operator.publish(event(3, good, store + "/slow.zip"));
            Eventually.awaitTrue(() -> slowRequests.get() > slowBefore, Duration.ofSeconds(10), "version 3 is being fetched");
            long commanded = System.nanoTime();
            operator.command(AdapterCommandType.ROLLBACK, 0L, "test");
            Eventually.awaitTrue(() -> rollout.serving() == 0, Duration.ofSeconds(10), "the rollback applied during the slow fetch");
            long appliedMillis = (System.nanoTime() - commanded) / 1_000_000;
            assertTrue(appliedMillis < 3_000, "the rollback applied after " + appliedMillis + " ms");
        } finally {
            server.stop(0);
            handlers.shutdownNow();
        }
    }

    @Test
    void aRefusedNewestVersionNeverChangesWhatIsServedNotEvenAfterARestart(@TempDir Path dir) throws Exception {
        String app = "fetch-kafka";
        Path cache = dir.resolve("cache");
        AdapterStore adapters = new AdapterStore("kafka", kafka.client(), app + ".adapters", "", 1 << 20,
                Duration.ofSeconds(30));
        byte[] good = archive(dir, 1);
        try (ControlLog operator = controlLog(app)) {
            operator.publish(event(1, good, adapters.put(1, good)));
            try (AdapterRollout first = rollout(operator.topic(), adapters, cache)) {
                first.start();
                Eventually.awaitTrue(() -> first.serving() == 1, Duration.ofSeconds(60), "version 1 served");

                // Version 2's second chunk has not arrived yet: the store's failure, tried again while version 1 serves
                // on, and served once the chunk is there.
                byte[] second = archive(dir, 2);
                operator.publish(event(2, second, firstHalf(app + ".adapters", 2, second)));
                Thread.sleep(4000); // tried after 0, 1 and 3 s
                assertEquals(1, first.serving());
                assertTrue(state(operator).errors(2).isEmpty(), "chunks missing are not the version's fault: no error event");
                secondHalf(app + ".adapters", 2, second);
                Eventually.awaitTrue(() -> first.serving() == 2, Duration.ofSeconds(20), "version 2 served once its chunks are all there");
                // Version 3 names a partition the adapters topic does not have: refused at once, not after 60 s.
                long published = System.nanoTime();
                operator.publish(event(3, second, "kafka:" + app + ".adapters/7/0"));
                Eventually.awaitTrue(() -> !state(operator).errors(3).isEmpty(), Duration.ofSeconds(20), "version 3 refused");
                assertTrue(System.nanoTime() - published < Duration.ofSeconds(20).toNanos());
                assertTrue(state(operator).errors(3).get("processor-0").contains("names partition 7"),
                        state(operator).errors(3).toString());
                // Version 4's archive does not match its sha: refused.
                operator.publish(AdapterEvent.newBuilder(event(4, good, adapters.put(4, good))).setSha256("0".repeat(64)).build());
                Eventually.awaitTrue(() -> !state(operator).errors(4).isEmpty(), Duration.ofSeconds(20), "version 4 refused");
                assertEquals(2, first.serving());
            }
            classifier.useAdapter("base", null); // as a new process starts
            try (AdapterRollout restarted = rollout(operator.topic(), adapters, cache)) {
                long started = System.nanoTime();
                restarted.start();
                assertTrue(System.nanoTime() - started < Duration.ofSeconds(20).toNanos(), "start-up was not held up");
                assertEquals(2, restarted.serving(), "the restarted processor serves the version that verified last");
                assertEquals("2", classifier.adapterVersion());
                Thread.sleep(3000); // version 4 is tried and refused again meanwhile
                assertEquals(2, restarted.serving());
            }
            // A copy on disk that no longer matches the log's event is not served.
            try (var cached = Files.list(cache)) {
                for (Path p : cached.filter(p -> p.getFileName().toString().endsWith(".zip")).toList()) {
                    Files.write(p, new byte[] {1, 2, 3});
                }
            }
            classifier.useAdapter("base", null);
            try (AdapterRollout tampered = rollout(operator.topic(), adapters, cache)) {
                tampered.start();
                assertEquals(0, tampered.serving(), "a tampered cache is not served");
            }
        }
    }

    @Test
    void versionsAppliedUnmergedServeWhatMergedOnesServeFromTheirOwnCopy(@TempDir Path dir) throws Exception {
        String app = "fetch-unmerged";
        AdapterStore adapters = new AdapterStore("kafka", kafka.client(), app + ".adapters", "", 1 << 20,
                Duration.ofSeconds(30));
        List<String> texts = List.of("the red cat runs", "a small blue house", "green over the table");
        try (ControlLog operator = controlLog(app);
                Classifier unmerged = new Classifier(model, ColourTask.TASK, Classifier.Options.defaults());
                AdapterRollout rollout = new AdapterRollout(new ControlLog(kafka.client(), operator.topic(), records()),
                        adapters, unmerged, AdapterRollout.Application.UNMERGED, baseModelSha256, dir.resolve("cache"),
                        "processor-0", version -> { })) {
            rollout.start();
            for (long version = 1; version <= 2; version++) {
                byte[] archive = randomArchive(dir, version);
                operator.publish(event(version, archive, adapters.put(version, archive)));
                long wanted = version;
                Eventually.awaitTrue(() -> rollout.serving() == wanted, Duration.ofSeconds(60), "version " + version);
                assertEquals(String.valueOf(version), unmerged.adapterVersion());
                // Rank 2 on the seven projections of the tiny model, float32: the copy beside the shared weights (B
                // of q/k/v and of gate/up block-diagonal, as the decoder holds it).
                assertEquals(LoraAdapter.servedParameterCount(new LoraConfig(2, 4, 0, LoraConfig.MODULES, false,
                        "qwen3-tiny"), model.weights().config) * 4, unmerged.unmergedAdapterBytes());
                try (Classifier merged = new Classifier(model, ColourTask.TASK, Classifier.Options.defaults());
                        LoraAdapter lora = model.loadAdapter(dir.resolve("adapter-" + version))) {
                    merged.useMergedAdapter(String.valueOf(version), lora);
                    List<Classification> expected = merged.classify(texts);
                    List<Classification> served = unmerged.classify(texts);
                    for (int i = 0; i < texts.size(); i++) {
                        for (int k = 0; k < ColourTask.LABELS.size(); k++) {
                            assertEquals(expected.get(i).probabilities()[k], served.get(i).probabilities()[k], 1e-5,
                                    "version " + version + " text " + i);
                        }
                    }
                }
            }
        }
    }

    /** A LoRA adapter of the tiny model (rank 2, seeded, B random too, so it changes the outputs) as packed. */
    private static byte[] randomArchive(Path dir, long seed) throws IOException {
        return pack(dir, seed, LoraAdapter.random(TINY_RANK_2, model.weights().config, model.manager(), seed));
    }

    /** A LoRA adapter of the tiny model (rank 2, seeded) as the trainer packs it. */
    private static byte[] archive(Path dir, long seed) throws IOException {
        return pack(dir, seed, LoraAdapter.initialize(TINY_RANK_2, model.weights().config, model.manager(), seed));
    }

    private static final LoraConfig TINY_RANK_2 = new LoraConfig(2, 4, 0, LoraConfig.MODULES, false, "qwen3-tiny");

    private static byte[] pack(Path dir, long seed, LoraAdapter lora) throws IOException {
        Path adapter = dir.resolve("adapter-" + seed);
        try (lora) {
            lora.save(adapter);
        }
        return AdapterArchive.pack(adapter);
    }

    /** Writes the first of two chunks of an archive to the adapters topic; returns its location. */
    private static String firstHalf(String topic, long version, byte[] archive) throws Exception {
        return "kafka:" + topic + "/0/" + chunk(topic, version, 0, java.util.Arrays.copyOf(archive, archive.length / 2));
    }

    private static void secondHalf(String topic, long version, byte[] archive) throws Exception {
        chunk(topic, version, 1, java.util.Arrays.copyOfRange(archive, archive.length / 2, archive.length));
    }

    /** One of two chunks, keyed and headed as {@link AdapterStore#put} writes them; returns its offset. */
    private static long chunk(String topic, long version, int index, byte[] bytes) throws Exception {
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.client(), new StringSerializer(),
                new ByteArraySerializer())) {
            ProducerRecord<String, byte[]> chunk = new ProducerRecord<>(topic, 0, version + "/" + index, bytes);
            chunk.headers().add(AdapterStore.HEADER_CHUNK_COUNT, "2".getBytes(StandardCharsets.UTF_8));
            return producer.send(chunk).get().offset();
        }
    }

    private static AdapterEvent event(long version, byte[] archive, String location) {
        return new AdapterLineage(model.id(), baseModelSha256, ColourTask.TASK).activeEvent(version, archive, location)
                .build();
    }

    private static ControlLog controlLog(String app) throws Exception {
        Topics.ensure(kafka.client(), List.of(Topics.compacted(app + ".control", 1, 1),
                Topics.compacted(app + ".adapters", 1, 1)));
        return new ControlLog(kafka.client(), app + ".control", records());
    }

    private static AdapterRollout rollout(String controlTopic, AdapterStore store, Path cache) {
        return new AdapterRollout(new ControlLog(kafka.client(), controlTopic, records()), store, classifier,
                baseModelSha256, cache, "processor-0", version -> { });
    }

    private static ControlRecords records() {
        return new ControlRecords(kafka.registryClient());
    }

    private static ControlState state(ControlLog control) {
        try (ControlLog fresh = new ControlLog(kafka.client(), control.topic(), records())) {
            fresh.catchUp(Duration.ofSeconds(10));
            return fresh.state();
        }
    }

}
