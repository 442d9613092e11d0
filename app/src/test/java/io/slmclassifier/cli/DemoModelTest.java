package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.model.hub.HubException;
import io.slmclassifier.model.hub.ModelResolver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which model the demo runs: the default from the hub, or demo-tiny when the default cannot be had. */
class DemoModelTest {

    @Test
    void withoutNetworkTheDefaultFallsBackToDemoTinyAndSaysSoInTwoLines(@TempDir Path dir) throws IOException {
        ModelResolver resolver = new ModelResolver(Map.of("HF_HOME", dir.resolve("hf").toString(),
                "HF_ENDPOINT", "http://127.0.0.1:" + closedPort(), "XDG_CACHE_HOME", dir.resolve("cache").toString()),
                null);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Path model = DemoCommand.resolveModel(null, resolver, new PrintStream(out, true, StandardCharsets.UTF_8));

        assertEquals(resolver.demoTinyDir(), model);
        assertTrue(Files.isRegularFile(model.resolve("model.safetensors")));
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(2, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("Qwen/Qwen3-0.6B could not be downloaded: cannot reach http://127.0.0.1:"),
                lines.get(0));
        assertEquals("Falling back to demo-tiny, a tiny model with random weights.", lines.get(1));
    }

    @Test
    void offlineTheDefaultFallsBackToDemoTinyUnderTheDataDirectory(@TempDir Path dir) throws IOException {
        ModelResolver resolver = new ModelResolver(Map.of("HF_HOME", dir.resolve("hf").toString(),
                "HF_HUB_OFFLINE", "1"), null).withDemoTinyDir(dir.resolve("data/models/demo-tiny"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Path model = DemoCommand.resolveModel(null, resolver, new PrintStream(out, true, StandardCharsets.UTF_8));

        assertEquals(dir.resolve("data/models/demo-tiny"), model);
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("HF_HUB_OFFLINE is set and Qwen/Qwen3-0.6B is not "
                + "in the cache"), out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aModelAskedForByNameIsNeverReplaced(@TempDir Path dir) {
        ModelResolver resolver = new ModelResolver(Map.of("HF_HOME", dir.toString(), "HF_HUB_OFFLINE", "1"), null);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        HubException e = assertThrows(HubException.class, () -> DemoCommand.resolveModel("Qwen/Qwen3-0.6B", resolver,
                new PrintStream(out, true, StandardCharsets.UTF_8)));
        assertEquals(HubException.Reason.NOT_CACHED, e.reason());
        assertEquals("", out.toString(StandardCharsets.UTF_8));
    }

    private static int closedPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
