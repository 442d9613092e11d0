package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The jars that {@code mvn package} writes (integration tests run after it): each image's jar carries its service
 * and what is below it, no development tools and only the natives of the images' platform; the application jar
 * carries every command. Paths are relative to the repository root, where the tests run.
 */
class ServiceJarsIT {
    /** Native libraries, wherever a library keeps them in its jar. */
    private static final Pattern NATIVE = Pattern.compile(".*\\.(so|dylib|dll|jnilib|a)$");
    /** How each library names linux-x86_64 in those paths (DJL, JNA, zstd and lz4, snappy, RocksDB). */
    private static final Pattern LINUX_X86_64 =
            Pattern.compile(".*(linux-x86_64|linux-x86-64|linux/amd64|Linux/x86_64|librocksdbjni-linux64\\.so).*");

    @ParameterizedTest
    @CsvSource({
        "processor, io.slmclassifier.stream.ProcessorCommand, io/slmclassifier/train/",
        "trainer,   io.slmclassifier.train.TrainerCommand,    io/slmclassifier/stream/"})
    void anImageJarHasItsServiceAndLinuxX8664NativesOnly(String service, String mainClass, String otherService)
            throws IOException {
        Path jar = Path.of(service, "target", "slm-classifier-" + service + ".jar");
        assertTrue(Files.isRegularFile(jar), jar + " is written by mvn package");
        try (JarFile file = new JarFile(jar.toFile())) {
            assertEquals(mainClass, file.getManifest().getMainAttributes().getValue("Main-Class"));
            List<String> entries = file.stream().map(ZipEntry::getName).toList();
            for (String absent : List.of("io/slmclassifier/cli/", "io/slmclassifier/devkit/", "kafka/server/", "scala/",
                    "org/junit/", "org/testcontainers/", otherService)) {
                assertTrue(entries.stream().noneMatch(e -> e.startsWith(absent)), jar + " carries " + absent);
            }
            List<String> natives = entries.stream().filter(e -> NATIVE.matcher(e).matches()).toList();
            List<String> foreign = natives.stream().filter(e -> !LINUX_X86_64.matcher(e).matches()).toList();
            assertEquals(List.of(), foreign, "natives of other platforms in " + jar);
            for (String needed : List.of("pytorch/cpu/linux-x86_64/libtorch_cpu.so",
                    "jnilib/linux-x86_64/cpu/libdjl_torch.so", "native/lib/linux-x86_64/cpu/libtokenizers.so",
                    "librocksdbjni-linux64.so")) {
                assertTrue(natives.contains(needed), jar + " lacks " + needed);
            }
        }
    }

    @Test
    void theApplicationJarIsAtTheRepositoryRootWithEveryCommand() throws IOException {
        Path jar = Path.of("target", "slm-classifier.jar");
        assertTrue(Files.isRegularFile(jar), jar + " is written by mvn package");
        try (JarFile file = new JarFile(jar.toFile())) {
            assertEquals(Main.class.getName(), file.getManifest().getMainAttributes().getValue("Main-Class"));
            for (String needed : List.of("io/slmclassifier/stream/ProcessorService.class",
                    "io/slmclassifier/train/TrainerService.class", "io/slmclassifier/devkit/LocalKafkaBroker.class",
                    "kafka/Kafka.class", "native/lib/osx-aarch64/cpu/libtokenizers.dylib")) {
                assertTrue(file.getEntry(needed) != null, jar + " lacks " + needed);
            }
        }
    }
}
