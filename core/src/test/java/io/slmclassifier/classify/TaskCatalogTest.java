package io.slmclassifier.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import io.slmclassifier.config.ConfigDefinitions;
import io.slmclassifier.config.ConfigDefinitions.Type;
import io.slmclassifier.config.ServiceConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TaskCatalogTest {
    private static final ConfigDefinitions DEFINITIONS = new ConfigDefinitions()
        .define("task.file", Type.STRING, "", "", "").define("tasks", Type.LIST, "", "", "")
        .define("tasks.dir", Type.STRING, "", "", "").define("input.topic", Type.STRING, "intents.in", "", "")
        .define("application.id", Type.STRING, "slm-classifier", "", "").define("adapter.cache.dir", Type.STRING, "", "", "")
        .define("abstain.threshold", Type.DOUBLE, "0", "", "");
    private static final Map<String, String> TASK_DEFAULTS = Map.of("input.topic", "{task}.in",
            "application.id", "{value}-{task}", "adapter.cache.dir", "{value}/{task}");

    private static ServiceConfig config(Map<String, String> values) throws Exception {
        return ServiceConfig.load(DEFINITIONS, null, Map.of(), values);
    }

    @Test
    void oneTaskFileKeepsTheServicesOwnKeys() throws Exception {
        ServiceConfig single = config(Map.of("task.file", Fixtures.task("emotion").toString()));
        List<TaskCatalog.Entry> tasks = TaskCatalog.load(single);
        assertEquals(List.of("emotion"), tasks.stream().map(TaskCatalog.Entry::name).toList());
        assertFalse(TaskCatalog.severalTasks(single));
        Map<String, String> view = TaskCatalog.view(single, tasks.get(0), TASK_DEFAULTS);
        assertEquals("intents.in", view.get("input.topic"));
        assertEquals("slm-classifier", view.get("application.id"));
    }

    @Test
    void severalTasksGetTheirOwnTopicsAndOverrides(@TempDir Path dir) throws Exception {
        Files.copy(Fixtures.task("radr-intents"), dir.resolve("radr.yaml"));
        Map<String, String> values = new HashMap<>();
        values.put("tasks", Fixtures.task("emotion").toString());
        values.put("tasks.dir", dir.toString());
        values.put("task.emotion.abstain.threshold", "0.4");
        values.put("abstain.threshold", "0.2");
        values.put("adapter.cache.dir", "/var/cache/slm");
        ServiceConfig several = config(values);
        List<TaskCatalog.Entry> tasks = TaskCatalog.load(several);
        assertEquals(List.of("emotion", "radr-intents"), tasks.stream().map(TaskCatalog.Entry::name).toList());
        Map<String, String> emotion = TaskCatalog.view(several, tasks.get(0), TASK_DEFAULTS);
        Map<String, String> radr = TaskCatalog.view(several, tasks.get(1), TASK_DEFAULTS);
        assertEquals("emotion.in", emotion.get("input.topic"));
        assertEquals("radr-intents.in", radr.get("input.topic"));
        assertEquals("slm-classifier-emotion", emotion.get("application.id"));
        assertEquals("/var/cache/slm/radr-intents", radr.get("adapter.cache.dir"));
        assertEquals("0.4", emotion.get("abstain.threshold"));
        assertEquals("0.2", radr.get("abstain.threshold"));
        assertEquals(dir.resolve("radr.yaml").toString(), radr.get("task.file"));
    }

    @Test
    void aBlankServiceValueStaysBlank() throws Exception {
        ServiceConfig several = config(Map.of("tasks", Fixtures.task("emotion").toString()));
        TaskCatalog.Entry emotion = TaskCatalog.load(several).get(0);
        assertEquals("", TaskCatalog.view(several, emotion, TASK_DEFAULTS).get("adapter.cache.dir"));
    }

    @Test
    void refusesAmbiguousDeclarations(@TempDir Path dir) throws Exception {
        String emotion = Fixtures.task("emotion").toString();
        IllegalArgumentException both = assertThrows(IllegalArgumentException.class,
                () -> TaskCatalog.load(config(Map.of("tasks", emotion, "task.file", emotion))));
        assertTrue(both.getMessage().contains("task.file"), both.getMessage());
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
                () -> TaskCatalog.load(config(Map.of("tasks", emotion + "," + emotion))));
        assertTrue(twice.getMessage().contains("two task files name the task 'emotion'"), twice.getMessage());
        Path slash = dir.resolve("bad.yaml");
        Files.writeString(slash, Files.readString(Fixtures.task("emotion")).replace("name: emotion", "name: a/b"));
        IllegalArgumentException name = assertThrows(IllegalArgumentException.class,
                () -> TaskCatalog.load(config(Map.of("tasks", slash.toString()))));
        assertTrue(name.getMessage().contains("names its topics"), name.getMessage());
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> TaskCatalog.load(config(Map.of("tasks.dir", dir.resolve("none").toString()))));
        assertTrue(empty.getMessage().contains("no such directory"), empty.getMessage());
    }
}
