package io.slmclassifier.rollout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdapterStoreTest {

    static Path adapterDir(Path root) throws IOException {
        Path dir = Files.createDirectories(root.resolve("adapter"));
        Files.writeString(dir.resolve("adapter_config.json"), "{\"r\": 8}");
        Files.write(dir.resolve("adapter_model.safetensors"), new byte[] {1, 2, 3, 4, 5});
        return dir;
    }

    @Test
    void anArchiveIsTheSameBytesEveryTimeAndUnpacksToTheSameFiles(@TempDir Path tmp) throws Exception {
        Path dir = adapterDir(tmp);
        byte[] first = AdapterArchive.pack(dir);
        Files.setLastModifiedTime(dir.resolve("adapter_config.json"), java.nio.file.attribute.FileTime.fromMillis(12345));
        assertArrayEquals(first, AdapterArchive.pack(dir));
        Path out = tmp.resolve("out");
        AdapterArchive.unpack(first, out, 1 << 20);
        assertEquals("{\"r\": 8}", Files.readString(out.resolve("adapter_config.json")));
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, Files.readAllBytes(out.resolve("adapter_model.safetensors")));
        Files.delete(dir.resolve("adapter_model.safetensors"));
        assertThrows(IOException.class, () -> AdapterArchive.pack(dir));
        assertThrows(IOException.class, () -> AdapterArchive.unpack(new byte[] {1, 2, 3}, tmp.resolve("bad"), 1 << 20));
    }

    @Test
    void anArchivePackedForATaskNamesItAndIsRefusedByAReaderOfAnotherTask(@TempDir Path tmp) throws Exception {
        Path dir = adapterDir(tmp);
        io.slmclassifier.classify.Task intents = io.slmclassifier.classify.Task.parse(
                "name: intents\nlabels: [alpha, beta]\nprompt: \"Answer: {text}\"\nchat_template: false");
        io.slmclassifier.classify.Task sentiment = io.slmclassifier.classify.Task.parse(
                "name: sentiment\nlabels: [good, bad]\nprompt: \"Mood: {text}\"\nchat_template: false");
        io.slmclassifier.classify.Task intentsRelabelled = io.slmclassifier.classify.Task.parse(
                "name: intents\nlabels: [alpha, beta, gamma]\nprompt: \"Answer: {text}\"\nchat_template: false");
        byte[] archive = AdapterArchive.pack(dir, intents);
        assertArrayEquals(archive, AdapterArchive.pack(dir, intents), "the same adapter and task, the same bytes");
        assertEquals(java.util.Optional.of(new AdapterArchive.TaskId("intents", intents.hash())), AdapterArchive.task(archive));
        assertEquals(java.util.Optional.empty(), AdapterArchive.task(AdapterArchive.pack(dir)), "packed for no task");

        AdapterArchive.unpack(archive, tmp.resolve("intents"), null, 1 << 20, intents);
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, Files.readAllBytes(tmp.resolve("intents/adapter_model.safetensors")));
        for (var other : java.util.List.of(sentiment, intentsRelabelled)) {
            Path out = tmp.resolve("refused-" + other.labels().size());
            IOException e = assertThrows(IOException.class, () -> AdapterArchive.unpack(archive, out, null, 1 << 20, other));
            assertTrue(e.getMessage().contains("of task 'intents'") && e.getMessage().contains("not of task '"
                    + other.name() + "'"), e.getMessage());
            assertTrue(Files.notExists(out), "nothing written for a refused archive");
        }
        // Readers that know no task, and archives that name none, are as before.
        AdapterArchive.unpack(archive, tmp.resolve("any"), 1 << 20);
        AdapterArchive.unpack(AdapterArchive.pack(dir), tmp.resolve("older"), null, 1 << 20, sentiment);
    }

    @Test
    void anArchiveThatUnpacksPastTheBoundIsRefusedWhileUnpacking(@TempDir Path tmp) throws Exception {
        Path dir = adapterDir(tmp);
        Files.write(dir.resolve("adapter_model.safetensors"), new byte[8 << 20]); // zeros: 8 MiB zip to a few KB
        byte[] bomb = AdapterArchive.pack(dir);
        assertTrue(bomb.length < 64 * 1024, "compressed to " + bomb.length);
        IOException e = assertThrows(IOException.class, () -> AdapterArchive.unpack(bomb, tmp.resolve("out"), 1 << 20));
        assertTrue(e.getMessage().contains("unpacks to more than"), e.getMessage());
        AdapterArchive.unpack(bomb, tmp.resolve("fits"), 16 << 20);
    }

    @Test
    void aDirectoryStoreWritesWhereItIsToldAndReadsBack(@TempDir Path tmp) throws Exception {
        AdapterStore store = new AdapterStore(tmp.resolve("shared").toUri().toString(), new Properties(), "unused", "");
        byte[] archive = AdapterArchive.pack(adapterDir(tmp));
        String location = store.put(3, archive);
        assertTrue(location.startsWith("file:") && location.endsWith("adapter-3.zip"), location);
        assertArrayEquals(archive, store.get(location, archive.length));
    }

    @Test
    void aDirectoryStoreReadsNothingOutsideItself(@TempDir Path tmp) throws Exception {
        AdapterStore store = new AdapterStore(tmp.resolve("shared").toUri().toString(), new Properties(), "unused", "");
        byte[] archive = AdapterArchive.pack(adapterDir(tmp));
        String location = store.put(3, archive);
        Files.write(tmp.resolve("secret.txt"), new byte[] {42});
        for (String outside : new String[] {tmp.resolve("secret.txt").toUri().toString(),
                location.replace("adapter-3.zip", "../secret.txt"), "file:///etc/passwd", "file:///dev/zero",
                "kafka:intents.adapters/0/0", "http://127.0.0.1:1/adapter-3.zip", "not a uri"}) {
            IOException e = assertThrows(IOException.class, () -> store.get(outside, 100), outside);
            assertTrue(e.getMessage().contains("not inside this processor's adapter store"), e.getMessage());
        }
        IOException tooLong = assertThrows(IOException.class, () -> store.get(location, archive.length - 1));
        assertTrue(tooLong.getMessage().contains("more than the"), tooLong.getMessage());
        AdapterStore small = new AdapterStore(tmp.resolve("shared").toUri().toString(), new Properties(), "unused", "", 10);
        assertTrue(assertThrows(IOException.class, () -> small.get(location, archive.length)).getMessage()
                .contains("adapter.max.bytes"));
    }

    @Test
    void anHttpStoreSendsItsTokenOnlyToItselfAndStopsReadingAtTheDeclaredSize(@TempDir Path tmp) throws Exception {
        Map<String, String> tokensSeen = new ConcurrentHashMap<>();
        HttpServer other = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        other.createContext("/", ex -> {
            tokensSeen.put("other" + ex.getRequestURI().getPath(), String.valueOf(ex.getRequestHeaders().getFirst("Authorization")));
            ex.sendResponseHeaders(200, 3);
            ex.getResponseBody().write(new byte[] {1, 2, 3});
            ex.close();
        });
        other.start();
        HttpServer store = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        String otherBase = "http://127.0.0.1:" + other.getAddress().getPort();
        store.createContext("/adapters/", ex -> {
            String path = ex.getRequestURI().getPath();
            tokensSeen.put("store" + path, String.valueOf(ex.getRequestHeaders().getFirst("Authorization")));
            if (path.endsWith("/away.zip")) {
                ex.getResponseHeaders().add("Location", otherBase + "/stolen.zip");
                ex.sendResponseHeaders(302, -1);
            } else if (path.endsWith("/moved.zip")) {
                ex.getResponseHeaders().add("Location", "/adapters/real.zip");
                ex.sendResponseHeaders(302, -1);
            } else if (path.endsWith("/endless.zip")) {
                ex.sendResponseHeaders(200, 0); // chunked, far longer than declared
                byte[] block = new byte[64 * 1024];
                try {
                    for (int i = 0; i < 16 * 1024; i++) {
                        ex.getResponseBody().write(block);
                    }
                } catch (IOException closedByTheReader) {
                    // the client stopped reading: what is wanted
                }
            } else {
                ex.sendResponseHeaders(200, 3);
                ex.getResponseBody().write(new byte[] {7, 8, 9});
            }
            ex.close();
        });
        store.start();
        try {
            String base = "http://127.0.0.1:" + store.getAddress().getPort() + "/adapters";
            AdapterStore adapters = new AdapterStore(base, new Properties(), "unused", "s3cret");
            assertArrayEquals(new byte[] {7, 8, 9}, adapters.get(base + "/moved.zip", 3));
            assertEquals("Bearer s3cret", tokensSeen.get("store/adapters/real.zip"));
            IOException away = assertThrows(IOException.class, () -> adapters.get(base + "/away.zip", 3));
            assertTrue(away.getMessage().contains("not inside"), away.getMessage());
            for (String outside : new String[] {otherBase + "/adapters/x.zip", base + "/../secret.zip",
                    "http://user:pw@127.0.0.1:" + store.getAddress().getPort() + "/adapters/x.zip",
                    "file:///etc/passwd"}) {
                assertThrows(IOException.class, () -> adapters.get(outside, 3), outside);
            }
            assertTrue(tokensSeen.keySet().stream().noneMatch(k -> k.startsWith("other")), tokensSeen.toString());
            long started = System.nanoTime();
            IOException endless = assertThrows(IOException.class, () -> adapters.get(base + "/endless.zip", 1000));
            assertTrue(endless.getMessage().contains("more than the 1000 bytes"), endless.getMessage());
            assertTrue(System.nanoTime() - started < 10_000_000_000L, "reading stopped early");
        } finally {
            store.stop(0);
            other.stop(0);
        }
    }

    @Test
    void anHttpStorePutsWithTheTokenAndGetsBack(@TempDir Path tmp) throws Exception {
        Map<String, byte[]> files = new ConcurrentHashMap<>();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/adapters/", ex -> {
            String path = ex.getRequestURI().getPath();
            int status;
            byte[] body = new byte[0];
            if (!"Bearer s3cret".equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                status = 401;
            } else if (ex.getRequestMethod().equals("PUT")) {
                files.put(path, ex.getRequestBody().readAllBytes());
                status = 201;
            } else if (files.containsKey(path)) {
                status = 200;
                body = files.get(path);
            } else {
                status = 404;
            }
            ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        try {
            String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/adapters";
            byte[] archive = AdapterArchive.pack(adapterDir(tmp));
            AdapterStore store = new AdapterStore(base, new Properties(), "unused", "s3cret");
            String location = store.put(5, archive);
            assertEquals(base + "/adapter-5.zip", location);
            assertArrayEquals(archive, store.get(location, archive.length));
            IOException missing = assertThrows(IOException.class, () -> store.get(base + "/adapter-6.zip", 10));
            assertTrue(missing.getMessage().contains("404"), missing.getMessage());
            AdapterStore anonymous = new AdapterStore(base, new Properties(), "unused", "");
            assertTrue(assertThrows(IOException.class, () -> anonymous.put(7, archive)).getMessage().contains("401"));
        } finally {
            server.stop(0);
        }
        assertThrows(IllegalArgumentException.class, () -> new AdapterStore("s3://bucket", new Properties(), "t", ""));
    }

    /**
     * A file server that decodes the request path and resolves it against its root, as many do: an encoded dot
     * segment that reached it would be served from outside {@code /store/}. Every path it resolves is recorded.
     */
    private static HttpServer decodingServer(Path root, java.util.List<String> resolved) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            String decoded = java.net.URLDecoder.decode(ex.getRequestURI().getRawPath().replace("+", "%2B"),
                    java.nio.charset.StandardCharsets.UTF_8);
            Path file = root.resolve(decoded.substring(1)).normalize();
            String path = "/" + root.relativize(file).toString().replace('\\', '/');
            resolved.add(path);
            if (path.startsWith("/store/redirect-")) {
                int n = Integer.parseInt(path.substring("/store/redirect-".length()));
                ex.getResponseHeaders().add("Location", ESCAPES[n]);
                ex.sendResponseHeaders(302, -1);
            } else if (Files.isRegularFile(file)) {
                byte[] body = Files.readAllBytes(file);
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
            } else {
                ex.sendResponseHeaders(404, -1);
            }
            ex.close();
        });
        server.start();
        return server;
    }

    /** Paths below {@code /store/} as written that a decoding server resolves outside it. */
    private static final String[] ESCAPES = {"/store/%2e%2e/good.zip", "/store/%2E%2E/other/x.zip", "/store/..%2fgood.zip",
        "/store/.%2e/good.zip", "/store/%2e./other/x.zip", "/store/sub/%2e%2e%2f%2e%2e/good.zip", "/store/..%2Fgood.zip",
        "/store/..%5cgood.zip", "/store/%252e%252e/good.zip"};

    @Test
    void encodedDotSegmentsNeverLeaveTheHttpStoreInALocationOrARedirect(@TempDir Path tmp) throws Exception {
        Path root = Files.createDirectories(tmp.resolve("www"));
        Files.createDirectories(root.resolve("store"));
        Files.createDirectories(root.resolve("other"));
        Files.write(root.resolve("good.zip"), new byte[] {6, 6, 6});
        Files.write(root.resolve("other/x.zip"), new byte[] {6, 6, 6});
        Files.write(root.resolve("store/in.zip"), new byte[] {1, 2, 3});
        java.util.List<String> resolved = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        HttpServer server = decodingServer(root, resolved);
        try {
            String origin = "http://127.0.0.1:" + server.getAddress().getPort();
            AdapterStore store = new AdapterStore(origin + "/store/", new Properties(), "unused", "s3cret");
            assertArrayEquals(new byte[] {1, 2, 3}, store.get(origin + "/store/in.zip", 3), "a plain location still works");
            for (int i = 0; i < ESCAPES.length; i++) {
                String escape = origin + ESCAPES[i];
                IOException direct = assertThrows(IOException.class, () -> store.get(escape, 3), escape);
                assertTrue(direct.getMessage().contains("not inside"), direct.getMessage());
                String viaRedirect = origin + "/store/redirect-" + i;
                IOException redirected = assertThrows(IOException.class, () -> store.get(viaRedirect, 3), viaRedirect);
                assertTrue(redirected.getMessage().contains("not inside"), redirected.getMessage());
            }
            assertTrue(resolved.stream().allMatch(p -> p.startsWith("/store/")), "requests outside /store/: " + resolved);
            assertEquals(1 + ESCAPES.length, resolved.size(), resolved.toString());
        } finally {
            server.stop(0);
        }
    }

    /**
     * A raw HTTP server on loopback that reads a request's headers and then does what {@code answer} does with the
     * socket's output; it counts the requests.
     */
    private static java.net.ServerSocket rawServer(java.util.concurrent.atomic.AtomicInteger requests,
            IoConsumer<java.io.OutputStream> answer) throws IOException {
        java.net.ServerSocket server = new java.net.ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    java.net.Socket socket = server.accept();
                    Thread handler = new Thread(() -> {
                        try (socket) {
                            var in = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
                                    java.nio.charset.StandardCharsets.ISO_8859_1));
                            String line;
                            while ((line = in.readLine()) != null && !line.isEmpty()) {
                                // the request's headers: read and dropped
                            }
                            requests.incrementAndGet();
                            answer.accept(socket.getOutputStream());
                        } catch (IOException | InterruptedException e) {
                            // the client went away: the point of these servers
                        }
                    });
                    handler.setDaemon(true);
                    handler.start();
                } catch (IOException closed) {
                    return;
                }
            }
        });
        acceptor.setDaemon(true);
        acceptor.start();
        return server;
    }

    interface IoConsumer<T> {
        void accept(T t) throws IOException, InterruptedException;
    }

    @Test
    void anHttpFetchEndsAtItsDeadlineWhetherTheBodyTricklesStopsOrNeverStarts() throws Exception {
        var requests = new java.util.concurrent.atomic.AtomicInteger();
        java.time.Duration timeout = java.time.Duration.ofSeconds(2);
        try (var trickling = rawServer(requests, out -> {
                    out.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    for (int i = 0; i < 100_000; i++) {
                        out.write(0);
                        out.flush();
                        Thread.sleep(1000);
                    }
                });
                var stalled = rawServer(requests, out -> {
                    out.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    out.flush();
                    Thread.sleep(600_000);
                });
                var silent = rawServer(requests, out -> Thread.sleep(600_000))) {
            for (var server : new java.net.ServerSocket[] {trickling, stalled, silent}) {
                String base = "http://127.0.0.1:" + server.getLocalPort() + "/store";
                AdapterStore store = new AdapterStore(base, new Properties(), "unused", "", 1 << 20, timeout);
                long started = System.nanoTime();
                IOException e = assertThrows(AdapterStore.Unavailable.class, () -> store.get(base + "/a.zip", 100_000));
                long tookMillis = (System.nanoTime() - started) / 1_000_000;
                assertTrue(e.getMessage().contains("adapter.fetch.timeout.ms"), e.getMessage());
                assertTrue(tookMillis >= 1900 && tookMillis < 5000, "took " + tookMillis + " ms");
            }
        }
        assertEquals(3, requests.get());
    }

    @Test
    void theStoresFailuresAreTemporaryAndTheArchivesAreNot(@TempDir Path tmp) throws Exception {
        var requests = new java.util.concurrent.atomic.AtomicInteger();
        try (var failing = rawServer(requests, out -> out.write(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII)))) {
            String base = "http://127.0.0.1:" + failing.getLocalPort() + "/store";
            AdapterStore store = new AdapterStore(base, new Properties(), "unused", "");
            assertThrows(AdapterStore.Unavailable.class, () -> store.get(base + "/a.zip", 10));
            IOException outside = assertThrows(IOException.class, () -> store.get(base + "/../a.zip", 10));
            assertTrue(!(outside instanceof AdapterStore.Unavailable), outside.toString());
        }
        int closedPort;
        try (var s = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        String down = "http://127.0.0.1:" + closedPort + "/store";
        AdapterStore unreachable = new AdapterStore(down, new Properties(), "unused", "");
        assertThrows(AdapterStore.Unavailable.class, () -> unreachable.get(down + "/a.zip", 10), "connection refused");
        try (var tooLong = rawServer(requests, out -> out.write(
                "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789".getBytes(java.nio.charset.StandardCharsets.US_ASCII)))) {
            String base = "http://127.0.0.1:" + tooLong.getLocalPort() + "/store";
            IOException e = assertThrows(IOException.class,
                    () -> new AdapterStore(base, new Properties(), "unused", "").get(base + "/a.zip", 10));
            assertTrue(!(e instanceof AdapterStore.Unavailable) && e.getMessage().contains("more than the 10 bytes"), e.toString());
        }
    }

    /** A zip of these entries, each written as {@code size} bytes of {@code fill} (zeros compress to almost nothing). */
    private static byte[] zip(Object... namesAndContents) throws IOException {
        var bytes = new java.io.ByteArrayOutputStream();
        try (var zip = new java.util.zip.ZipOutputStream(bytes)) {
            for (int i = 0; i < namesAndContents.length; i += 2) {
                zip.putNextEntry(new java.util.zip.ZipEntry((String) namesAndContents[i]));
                Object content = namesAndContents[i + 1];
                if (content instanceof Long zeros) {
                    byte[] block = new byte[1 << 20];
                    for (long left = zeros; left > 0; left -= block.length) {
                        zip.write(block, 0, (int) Math.min(left, block.length));
                    }
                } else {
                    zip.write((byte[]) content);
                }
                zip.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    /** The zip with its entry {@code adapter_config.jsoX} renamed to a second {@code adapter_config.json}. */
    private static byte[] twice(byte[] zip) {
        String text = new String(zip, java.nio.charset.StandardCharsets.ISO_8859_1);
        return text.replace("adapter_config.jsoX", "adapter_config.json").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    private static long sizeOf(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    @Test
    void aZipBombIsRefusedWithinWhatAnAdapterOfItsRankForTheModelTakes(@TempDir Path tmp) throws Exception {
        io.slmclassifier.model.ModelConfig tiny = io.slmclassifier.model.ModelConfig.load(io.slmclassifier.Fixtures.model("qwen3-tiny"));
        byte[] config = "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"target_modules\": [\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"]}"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Files.write(Files.createDirectories(tmp.resolve("config")).resolve("adapter_config.json"), config);
        long bound = AdapterArchive.unpackedBound(tiny, io.slmclassifier.model.LoraConfig.read(tmp.resolve("config")));
        // 2 layers of r 2 over 7 projections of a 32-wide model: 2,432 numbers, 9.5 KiB in float32; with header
        // room and the margin, plus 4 MiB for the small files.
        assertEquals(2 * (4 * 2432 + 8 + 1024 * 28) + (4L << 20), bound);

        byte[] bomb = zip("adapter_config.json", config, "adapter_model.safetensors", 64L << 20);
        assertTrue(bomb.length < 256 * 1024, "64 MiB compressed to " + bomb.length);
        Path out = tmp.resolve("bomb");
        IOException e = assertThrows(IOException.class,
                () -> AdapterArchive.unpack(bomb, out, tiny, AdapterStore.DEFAULT_MAX_BYTES));
        assertTrue(e.getMessage().contains("the most an adapter of its rank for this model takes"), e.getMessage());
        assertTrue(sizeOf(out) <= bound, "wrote " + sizeOf(out) + " bytes, over " + bound);

        // The weights before the configuration that bounds them, a file twice, small files past 4 MiB: refused.
        for (byte[] refused : new byte[][] {
            zip("adapter_model.safetensors", new byte[10], "adapter_config.json", config),
            twice(zip("adapter_config.json", config, "adapter_config.jsoX", config, "adapter_model.safetensors", new byte[10])),
            zip("adapter_config.json", config, "training_metrics.json", 5L << 20, "adapter_model.safetensors", new byte[10])}) {
            Path dir = Files.createTempDirectory(tmp, "refused");
            assertThrows(IOException.class, () -> AdapterArchive.unpack(refused, dir, tiny, AdapterStore.DEFAULT_MAX_BYTES));
            assertTrue(sizeOf(dir) <= bound);
        }

        // A real adapter of the tiny model, rank 16, unpacks.
        Path adapter = tmp.resolve("real");
        try (var manager = ai.djl.ndarray.NDManager.newBaseManager(ai.djl.Device.cpu());
                var lora = io.slmclassifier.model.LoraAdapter.initialize(new io.slmclassifier.model.LoraConfig(16, 32, 0,
                        io.slmclassifier.model.LoraConfig.MODULES, false, "qwen3-tiny"), tiny, manager, 7)) {
            lora.save(adapter);
        }
        Files.writeString(adapter.resolve("calibration.json"), "{\"temperature\": 1.5}");
        byte[] real = AdapterArchive.pack(adapter);
        AdapterArchive.unpack(real, tmp.resolve("unpacked"), tiny, AdapterStore.DEFAULT_MAX_BYTES);
        assertArrayEquals(Files.readAllBytes(adapter.resolve("adapter_model.safetensors")),
                Files.readAllBytes(tmp.resolve("unpacked/adapter_model.safetensors")));

        // Qwen3-0.6B at the article's r 16 on all seven projections: 10,092,544 numbers, bounded at 81.8 MiB, not 1 GiB.
        io.slmclassifier.model.ModelConfig qwen06 = io.slmclassifier.model.ModelConfig.parse(new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree("{\"architectures\": [\"Qwen3ForCausalLM\"], \"vocab_size\": 151936, \"hidden_size\": 1024, "
                        + "\"intermediate_size\": 3072, \"num_hidden_layers\": 28, \"num_attention_heads\": 16, "
                        + "\"num_key_value_heads\": 8, \"head_dim\": 128}"), "Qwen3-0.6B");
        var article = io.slmclassifier.model.LoraConfig.defaults("Qwen/Qwen3-0.6B");
        assertEquals(10_092_544, io.slmclassifier.model.LoraAdapter.parameterCount(article, qwen06));
        assertEquals(85_737_488, AdapterArchive.unpackedBound(qwen06, article));
    }
}
