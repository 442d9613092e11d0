package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.classify.Task;
import io.slmclassifier.config.ConfigDefinitions;
import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.stream.ProcessorConfig;
import io.slmclassifier.train.TrainerConfig;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The configuration files in the repository ({@code processor/processor.properties}, {@code trainer/trainer.properties})
 * are what a newcomer runs first, with the commands the documentation shows, and what the images copy: they must
 * name only keys the services know, set what those commands cannot start without, and keep the documented
 * defaults where the documentation promises them (listeners on loopback).
 */
class ShippedConfigurationTest {

    /** Each command that takes {@code --config}, with the definitions it reads the file through. */
    private static final Map<String, ConfigDefinitions> DEFINITIONS = Map.of(
            "processor", ProcessorConfig.DEFINITIONS,
            "trainer", TrainerConfig.DEFINITIONS,
            "adapter", AdapterCli.DEFINITIONS);

    /** What each command cannot start without (the keys its code asks for with require). */
    private static final Map<String, List<String>> REQUIRED = Map.of(
            "processor", List.of("bootstrap.servers", "schema.registry.url", "model.dir", "task.file"),
            "trainer", List.of("bootstrap.servers", "schema.registry.url", "model.dir", "task.file"),
            "adapter", List.of("bootstrap.servers", "schema.registry.url"));

    /** The addresses the services listen on, which the documentation says are loopback unless a deployment opens them. */
    private static final List<String> LISTENERS = List.of("metrics.host", "console.host");

    /** A documented command line that runs a command with a configuration file: {@code java -jar <jar> <command> ... --config <file>}. */
    private static final Pattern CONFIGURED_COMMAND =
            Pattern.compile("java -jar \\S+ (processor|trainer|adapter)\\b[^\\n`]*?--config (\\S+)");

    private static Path shipped(String service) {
        return Path.of(service, service + ".properties");
    }

    private static Properties read(Path file) throws Exception {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        }
        return p;
    }

    @Test
    void everyKeyInTheShippedFilesIsOneTheServiceKnows() throws Exception {
        for (String service : List.of("processor", "trainer")) {
            Set<String> known = DEFINITIONS.get(service).names();
            List<String> unknown = read(shipped(service)).stringPropertyNames().stream()
                    .filter(key -> !known.contains(key) && !key.startsWith("kafka.")).sorted().toList();
            assertEquals(List.of(), unknown, shipped(service) + " sets keys the " + service + " does not know");
        }
    }

    @Test
    void everyDocumentedCommandRunsWithTheFileItNames() throws Exception {
        List<Path> pages = new ArrayList<>(List.of(Path.of("README.md")));
        try (Stream<Path> docs = Files.list(Path.of("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        List<String> problems = new ArrayList<>();
        int commands = 0;
        for (Path page : pages) {
            Matcher command = CONFIGURED_COMMAND.matcher(Files.readString(page));
            while (command.find()) {
                commands++;
                String name = command.group(1);
                Path file = Path.of(command.group(2));
                String where = page + ": " + command.group() + ": ";
                if (!Files.isRegularFile(file)) {
                    problems.add(where + "no file " + file);
                    continue;
                }
                ServiceConfig config = ServiceConfig.load(DEFINITIONS.get(name), file, Map.of(), Map.of());
                for (String key : REQUIRED.get(name)) {
                    if (config.get(key).isBlank()) {
                        problems.add(where + file + " leaves " + key + " empty, and " + name + " needs it");
                    }
                }
                if (REQUIRED.get(name).contains("task.file") && !config.get("task.file").isBlank()) {
                    try {
                        Task.load(Path.of(config.get("task.file")));
                    } catch (Exception e) {
                        problems.add(where + "task.file " + config.get("task.file") + " does not load: " + e.getMessage());
                    }
                }
            }
        }
        // The operations guide shows the processor, the trainer and adapter with the shipped files.
        assertTrue(commands >= 3, "only " + commands + " documented commands with --config found: is the pattern still right?");
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void theShippedListenersAreTheDocumentedDefaultsAndTheImagesOpenThem() throws Exception {
        String reference = Files.readString(Path.of("docs/configuration.md"));
        for (String service : List.of("processor", "trainer")) {
            Properties file = read(shipped(service));
            String dockerfile = Files.readString(Path.of(service, "Dockerfile"));
            for (String key : LISTENERS) {
                if (!file.containsKey(key)) {
                    continue;
                }
                Matcher row = Pattern.compile("\\| `" + Pattern.quote(key) + "` \\| `([^`]*)` \\|").matcher(reference);
                assertTrue(row.find(), "docs/configuration.md has no row for " + key);
                assertEquals(row.group(1), file.getProperty(key).strip(),
                        shipped(service) + ": " + key + " differs from its documented default");
                // An image is a deployment: probes and Prometheus come from outside its container.
                String variable = "SLM_" + key.toUpperCase(Locale.ROOT).replace('.', '_') + "=0.0.0.0";
                assertTrue(dockerfile.contains(variable), service + "/Dockerfile does not open " + key + " (" + variable + ")");
            }
        }
    }
}
