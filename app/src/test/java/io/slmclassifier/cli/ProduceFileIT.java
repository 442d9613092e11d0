package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.kafka.KafkaTestCluster;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@code produce --file} with a line that is not UTF-8: named, and the others sent, or none with --strict. */
class ProduceFileIT {
    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static CommandRun produce(String... args) {
        List<String> all = new ArrayList<>(List.of("produce", "--bootstrap-servers", kafka.bootstrapServers()));
        all.addAll(List.of(args));
        return CommandRun.of(all);
    }

    /** Every value on the topic, read from the start until a poll brings nothing more. */
    private static List<String> values(String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "produce-file-it-" + topic);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<byte[], String> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            int emptyAfterData = 0;
            while (System.nanoTime() < deadline && emptyAfterData < 2) {
                var records = consumer.poll(Duration.ofMillis(500));
                for (ConsumerRecord<byte[], String> r : records) {
                    values.add(r.value());
                }
                emptyAfterData = records.isEmpty() && !values.isEmpty() ? emptyAfterData + 1 : 0;
            }
        }
        return values;
    }

    private static Path fileWithABadSecondLine(Path dir) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.write("RobLW an Zugführer, kommen.\n".getBytes(StandardCharsets.UTF_8));
        bytes.write(new byte[] {'I', 's', 't', ' ', (byte) 0xC3, (byte) 0x28, '\n'}); // ISO-8859-1 slipped in
        bytes.write("\r\nVerstanden, Angriffstrupp geht vor.\r\n".getBytes(StandardCharsets.UTF_8));
        Path file = dir.resolve("texts.txt");
        Files.write(file, bytes.toByteArray());
        return file;
    }

    @Test
    void aLineThatIsNotUtf8IsNamedAndTheOthersAreSent(@TempDir Path dir) throws Exception {
        Path file = fileWithABadSecondLine(dir);
        CommandRun run = produce("--topic", "produce.skip", "--file", file.toString(), "--count", "2");

        assertEquals(0, run.code(), run.err());
        assertEquals(List.of("skipped " + file + ": line 2 is not valid UTF-8"), run.said());
        assertTrue(run.out().startsWith("sent 2 records to produce.skip"), run.out());
        assertEquals(List.of("RobLW an Zugführer, kommen.", "Verstanden, Angriffstrupp geht vor."), values("produce.skip"));
    }

    @Test
    void strictSendsNothingAndSaysWhichLine(@TempDir Path dir) throws Exception {
        Path file = fileWithABadSecondLine(dir);
        CommandRun run = produce("--topic", "produce.strict", "--file", file.toString(), "--count", "2", "--strict");

        assertEquals(2, run.code(), run.out() + run.err());
        assertEquals(List.of("error: " + file + ": line 2 is not valid UTF-8; nothing sent (--strict)"),
                run.said());
        // Something else on the topic proves the read below would have seen a record the strict run sent.
        assertEquals(0, produce("--topic", "produce.strict", "--count", "1").code());
        assertEquals(1, values("produce.strict").size());
    }
}
