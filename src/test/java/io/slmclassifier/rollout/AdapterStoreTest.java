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
        AdapterArchive.unpack(first, out);
        assertEquals("{\"r\": 8}", Files.readString(out.resolve("adapter_config.json")));
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, Files.readAllBytes(out.resolve("adapter_model.safetensors")));
        Files.delete(dir.resolve("adapter_model.safetensors"));
        assertThrows(IOException.class, () -> AdapterArchive.pack(dir));
        assertThrows(IOException.class, () -> AdapterArchive.unpack(new byte[] {1, 2, 3}, tmp.resolve("bad")));
    }

    @Test
    void aDirectoryStoreWritesWhereItIsToldAndReadsBack(@TempDir Path tmp) throws Exception {
        AdapterStore store = new AdapterStore(tmp.resolve("shared").toUri().toString(), new Properties(), "unused", "");
        byte[] archive = AdapterArchive.pack(adapterDir(tmp));
        String location = store.put(3, archive);
        assertTrue(location.startsWith("file:") && location.endsWith("adapter-3.zip"), location);
        assertArrayEquals(archive, store.get(location));
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
            assertArrayEquals(archive, store.get(location));
            IOException missing = assertThrows(IOException.class, () -> store.get(base + "/adapter-6.zip"));
            assertTrue(missing.getMessage().contains("404"), missing.getMessage());
            AdapterStore anonymous = new AdapterStore(base, new Properties(), "unused", "");
            assertTrue(assertThrows(IOException.class, () -> anonymous.put(7, archive)).getMessage().contains("401"));
        } finally {
            server.stop(0);
        }
        assertThrows(IllegalArgumentException.class, () -> new AdapterStore("s3://bucket", new Properties(), "t", ""));
    }
}
