package io.slmclassifier.classify;

import io.slmclassifier.config.ServiceConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The tasks a service serves, as its configuration declares them.
 *
 * <p><b>Single-task mode</b> (neither {@code tasks} nor {@code tasks.dir} set): the one task of {@code task.file},
 * with the service's own keys as they are ({@code intents.*} topics, {@code application.id}, ...). Nothing changes
 * for a configuration written before several tasks existed.
 *
 * <p><b>Several tasks</b>: {@code tasks} lists task files (comma-separated) and {@code tasks.dir} names a directory
 * whose {@code *.yaml}, {@code *.yml} and {@code *.json} files are tasks; both may be given. A task is known by the
 * {@code name} in its file, which therefore must be unique and fit in a topic name. Each task sees the service's
 * configuration with its own defaults laid over it ({@link #view}: {@code <name>.in}, {@code <name>.classified},
 * ...), and any key can be set for one task alone as {@code task.<name>.<key>}. Each task has its own control topic,
 * so each keeps its own adapter lineage (versions, pins, rollbacks) in a log no other task writes.
 */
public final class TaskCatalog {
    /** Letters, digits, dot, underscore and hyphen: what a Kafka topic name allows, and no path separators. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

    /** A declared task: its name (the file's {@code name}), the file and the task it holds. */
    public record Entry(String name, Path file, Task task) {}

    private TaskCatalog() {}

    /** Whether the configuration declares tasks through {@code tasks} or {@code tasks.dir}. */
    public static boolean severalTasks(ServiceConfig config) {
        return !config.get("tasks").isBlank() || !config.get("tasks.dir").isBlank();
    }

    /**
     * The declared tasks in declaration order ({@code tasks} first, then {@code tasks.dir} sorted by file name);
     * in single-task mode the task of {@code task.file}. Refuses, with one message each: both modes at once, no
     * task, unreadable task files, duplicate or unusable names.
     */
    public static List<Entry> load(ServiceConfig config) throws IOException {
        if (!severalTasks(config)) {
            Path file = Path.of(config.require("task.file"));
            Task task = Task.load(file);
            return List.of(new Entry(task.name(), file, task));
        }
        if (!config.get("task.file").isBlank()) {
            throw new IllegalArgumentException("configuration 'task.file' is for one task; with 'tasks' or 'tasks.dir' "
                    + "each task comes from its own file: remove 'task.file' or add its file to 'tasks'");
        }
        List<Path> files = new ArrayList<>();
        config.getList("tasks").forEach(f -> files.add(Path.of(f)));
        if (!config.get("tasks.dir").isBlank()) {
            Path dir = Path.of(config.get("tasks.dir").strip());
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException("configuration 'tasks.dir': no such directory " + dir);
            }
            try (Stream<Path> listed = Files.list(dir)) {
                listed.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().matches(".*\\.(ya?ml|json)"))
                        .sorted().forEach(files::add);
            }
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no task declared: 'tasks' is empty and 'tasks.dir' holds no .yaml, .yml "
                    + "or .json file");
        }
        Map<String, Entry> byName = new LinkedHashMap<>();
        for (Path file : files) {
            Task task = Task.load(file);
            if (!NAME.matcher(task.name()).matches()) {
                throw new IllegalArgumentException(file + ": task name '" + task.name() + "' names its topics and must be "
                        + "letters, digits, '.', '_' or '-' (at most 100, starting with a letter or digit)");
            }
            Entry previous = byName.putIfAbsent(task.name(), new Entry(task.name(), file, task));
            if (previous != null) {
                throw new IllegalArgumentException("two task files name the task '" + task.name() + "': "
                        + previous.file() + " and " + file);
            }
        }
        return List.copyOf(byName.values());
    }

    /**
     * The configuration one task sees, as a map of every key: in single-task mode the service's own; with several
     * tasks, the service's values, then {@code taskDefaults} (each a template where {@code {task}} is the task's
     * name and {@code {value}} the service-wide value; a template using a blank {@code {value}} stays blank), then
     * the {@code task.<name>.<key>} overrides, with {@code task.file} set to the task's file.
     */
    public static Map<String, String> view(ServiceConfig config, Entry task, Map<String, String> taskDefaults) {
        Map<String, String> values = new LinkedHashMap<>(config.asMap());
        if (!severalTasks(config)) {
            return values;
        }
        taskDefaults.forEach((key, template) -> {
            String global = config.get(key);
            boolean blankValue = template.contains("{value}") && global.isBlank();
            values.put(key, blankValue ? "" : template.replace("{task}", task.name()).replace("{value}", global));
        });
        String prefix = "task." + task.name() + ".";
        config.asMap().forEach((key, value) -> {
            if (key.startsWith(prefix)) {
                values.put(key.substring(prefix.length()), value);
            }
        });
        values.put("task.file", task.file().toString());
        values.put("tasks", "");
        values.put("tasks.dir", "");
        return values;
    }
}
