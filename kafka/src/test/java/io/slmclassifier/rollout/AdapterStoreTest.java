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
}
