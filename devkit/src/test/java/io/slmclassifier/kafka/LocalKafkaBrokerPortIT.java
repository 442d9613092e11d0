package io.slmclassifier.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.devkit.LocalKafkaBroker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.Node;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A broker on a port chosen by the user, as {@code demo --kafka-port} asks for. */
class LocalKafkaBrokerPortIT {

    @Test
    void listensOnTheGivenPort() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        try (LocalKafkaBroker broker = LocalKafkaBroker.builder().port(port).start()) {
            assertEquals("127.0.0.1:" + port, broker.bootstrapServers());
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", "127.0.0.1:" + port))) {
                Collection<Node> nodes = admin.describeCluster().nodes().get();
                assertEquals(1, nodes.size());
                assertEquals(port, nodes.iterator().next().port());
            }
        }
    }

    @Test
    void aTakenPortIsAClearErrorAndWritesNothing(@TempDir Path dir) throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Path dataDir = dir.resolve("kafka");
            UncheckedIOException e = assertThrows(UncheckedIOException.class,
                    () -> LocalKafkaBroker.builder().port(taken.getLocalPort()).dataDir(dataDir).start());
            assertTrue(e.getMessage().contains("port " + taken.getLocalPort() + " is already in use"), e.getMessage());
            assertFalse(Files.exists(dataDir));
        }
    }
}
