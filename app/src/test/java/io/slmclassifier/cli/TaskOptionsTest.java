package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.config.ServiceConfig;
import io.slmclassifier.stream.ProcessorConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which control topic {@code adapter --task} and which input topic {@code produce --task} choose, in both modes. */
class TaskOptionsTest {

    /** A configuration declaring the tasks colours and shapes, with these further keys. */
    private static Map<String, String> twoTasks(Path dir, Map<String, String> more) throws Exception {
        Path colours = Files.writeString(dir.resolve("colours.yaml"),
                "name: colours\nlabels: [red, blue]\nprompt: \"Colour of: {text}\"\nchat_template: false");
        Path shapes = Files.writeString(dir.resolve("shapes.yaml"),
                "name: shapes\nlabels: [square, circle]\nprompt: \"Shape of: {text}\"\nchat_template: false");
        Map<String, String> values = new HashMap<>(more);
        values.put("tasks", colours + "," + shapes);
        return values;
    }

    private static ServiceConfig adapterSettings(Map<String, String> values) throws Exception {
        return ServiceConfig.load(AdapterCli.DEFINITIONS, null, Map.of(), values);
    }

    @Test
    void adapterWithoutSeveralTasksUsesTheConfiguredTopicOrTheTasksOwn() throws Exception {
        ServiceConfig single = adapterSettings(Map.of("control.signing.key", "k"));
        assertEquals(new AdapterCli.Lineage("intents.control", null, "k"), AdapterCli.lineage(single, null, null));
        assertEquals(new AdapterCli.Lineage("shapes.control", "shapes", "k"), AdapterCli.lineage(single, "shapes", null));
        assertEquals(new AdapterCli.Lineage("ops.control", "shapes", "k"), AdapterCli.lineage(single, "shapes", "ops.control"));
        assertEquals(new AdapterCli.Lineage("loop.control", null, "k"),
                AdapterCli.lineage(adapterSettings(Map.of("control.topic", "loop.control", "control.signing.key", "k")),
                        null, null));
    }

    @Test
    void adapterWithSeveralTasksUsesTheTasksViewAndNeedsAKnownTask(@TempDir Path dir) throws Exception {
        ServiceConfig several = adapterSettings(twoTasks(dir, Map.of("control.signing.key", "shared",
                "task.shapes.control.topic", "geometry.control", "task.shapes.control.signing.key", "own")));
        assertEquals(new AdapterCli.Lineage("colours.control", "colours", "shared"),
                AdapterCli.lineage(several, "colours", null));
        assertEquals(new AdapterCli.Lineage("geometry.control", "shapes", "own"), AdapterCli.lineage(several, "shapes", null));
        assertEquals("x.control", AdapterCli.lineage(several, "shapes", "x.control").controlTopic());

        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> AdapterCli.lineage(several, null, null));
        assertTrue(none.getMessage().contains("several tasks (colours, shapes)") && none.getMessage().contains("--task"),
                none.getMessage());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> AdapterCli.lineage(several, "sentiment", null));
        assertTrue(unknown.getMessage().contains("no task 'sentiment'") && unknown.getMessage().contains("colours, shapes"),
                unknown.getMessage());
    }

    @Test
    void produceSendsToTheTasksInputTopic(@TempDir Path dir) throws Exception {
        assertEquals("intents.in", ProduceCommand.topic(null, null, null));
        assertEquals("shapes.in", ProduceCommand.topic(null, "shapes", null));
        assertEquals("raw", ProduceCommand.topic("raw", "shapes", null));

        ServiceConfig several = ServiceConfig.load(ProcessorConfig.DEFINITIONS, null, Map.of(),
                twoTasks(dir, Map.of("task.colours.input.topic", "paint.in")));
        assertEquals("paint.in", ProduceCommand.topic(null, "colours", several));
        assertEquals("shapes.in", ProduceCommand.topic(null, "shapes", several));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ProduceCommand.topic(null, null, several))
                .getMessage().contains("--task"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ProduceCommand.topic(null, "sentiment", several))
                .getMessage().contains("no task 'sentiment'"));
        ServiceConfig single = ServiceConfig.load(ProcessorConfig.DEFINITIONS, null, Map.of(), Map.of("input.topic", "loop.in"));
        assertEquals("loop.in", ProduceCommand.topic(null, null, single));
    }
}
