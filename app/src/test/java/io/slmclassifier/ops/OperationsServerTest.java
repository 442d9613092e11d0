package io.slmclassifier.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.stream.ProcessorMetrics;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;

/** Readiness follows the stream threads too: Streams stays RUNNING while it replaces a thread that keeps dying. */
class OperationsServerTest {

    @Test
    void notReadyWhileStreamThreadsKeepFailing() throws Exception {
        AtomicBoolean steady = new AtomicBoolean(true);
        try (OperationsServer server = new OperationsServer("127.0.0.1", 0, new ProcessorMetrics()::scrape, () -> KafkaStreams.State.RUNNING,
                steady::get, "signed")) {
            assertEquals(200, status(server.port(), "/health/ready"));
            steady.set(false);
            HttpURLConnection ready = open(server.port(), "/health/ready");
            assertEquals(503, ready.getResponseCode());
            String body = new String(ready.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(body.contains("stream threads keep failing"), body);
            assertEquals(200, status(server.port(), "/health/live"), "alive: replacing threads is not dying");
        }
    }

    @Test
    void listensOnLoopbackUnlessADeploymentOpensIt() throws Exception {
        for (String host : new String[] {ProcessorConfig.of(java.util.Map.of()).get("metrics.host"),
                io.slmclassifier.train.TrainerConfig.of(java.util.Map.of()).get("metrics.host")}) {
            try (OperationsServer server = new OperationsServer(host, 0, new ProcessorMetrics()::scrape,
                    () -> KafkaStreams.State.RUNNING, () -> true, "signed")) {
                assertTrue(server.address().getAddress().isLoopbackAddress(), server.address().toString());
                assertEquals(200, status(server.port(), "/health/ready"));
            }
        }
    }

    /**
     * {@code /health} tells an operator whether the control topic is signed: unsigned, whoever may write the topic
     * steers the processors.
     */
    @Test
    void healthSaysWhetherControlRecordsAreSigned() throws Exception {
        AtomicReference<KafkaStreams.State> state = new AtomicReference<>(KafkaStreams.State.REBALANCING);
        for (String control : new String[] {"signed", "unsigned"}) {
            try (OperationsServer server = new OperationsServer("127.0.0.1", 0, new ProcessorMetrics()::scrape, state::get,
                    () -> true, control)) {
                HttpURLConnection health = open(server.port(), "/health");
                assertEquals(200, health.getResponseCode(), "alive while rebalancing");
                assertEquals("application/json", health.getContentType());
                JsonNode body = new ObjectMapper().readTree(health.getInputStream());
                assertEquals(control, body.path("control").asText(), body.toString());
                assertEquals("REBALANCING", body.path("state").asText(), body.toString());
                assertTrue(body.path("live").asBoolean(), body.toString());
                assertFalse(body.path("ready").asBoolean(), body.toString());
                assertEquals(503, status(server.port(), "/health/ready"), "/health/ready keeps its own context");
            }
        }
    }

    private static int status(int port, String path) throws Exception {
        return open(port, path).getResponseCode();
    }

    private static HttpURLConnection open(int port, String path) throws Exception {
        return (HttpURLConnection) new URL("http://127.0.0.1:" + port + path).openConnection();
    }
}
