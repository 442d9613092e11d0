package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.slmclassifier.Fixtures;
import io.slmclassifier.classify.Task;
import io.slmclassifier.classify.TaskCatalog;
import io.slmclassifier.stream.ProcessorConfig;
import java.nio.file.Path;
import java.util.Map;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How {@code bench --tasks} makes its tasks and deals its traffic. */
class TasksBenchmarkTest {

    @Test
    void theMixIsHeldOverEveryStretchOfMessages() {
        double[] shares = TasksBenchmark.shares("70,10,10,10", 4);
        assertArrayEquals(new double[] {0.7, 0.1, 0.1, 0.1}, shares, 1e-12);
        int[] dealt = TasksBenchmark.deal(shares, 1000);
        for (int from = 0; from < 1000; from += 100) {
            int[] counts = new int[4];
            for (int m = from; m < from + 100; m++) {
                counts[dealt[m]]++;
            }
            // Within a message of the exact share in any hundred messages: no task waits out a burst of another.
            assertEquals(70, counts[0], 1);
            for (int t = 1; t < 4; t++) {
                assertEquals(10, counts[t], 1);
            }
        }
        assertArrayEquals(new double[] {0.5, 0.5}, TasksBenchmark.shares(null, 2), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> TasksBenchmark.shares("70,30", 3));
        assertThrows(IllegalArgumentException.class, () -> TasksBenchmark.shares("70,0", 2));
    }

    @Test
    void cycledTaskFilesBecomeTasksWithTheirOwnNamesAndPrompts() throws Exception {
        List<Task> tasks = TasksBenchmark.tasks(List.of(Fixtures.task("radr-intents"), Fixtures.task("emotion")), 4);
        assertEquals(List.of("radr-intents-1", "emotion-2", "radr-intents-3", "emotion-4"),
                tasks.stream().map(Task::name).toList());
        assertEquals(4, new HashSet<>(tasks.stream().map(Task::hash).toList()).size(), "four different prompts");
        assertEquals(Task.load(Fixtures.task("emotion")).labels(), tasks.get(1).labels());
    }

    @Test
    void theKafkaBenchWritesItsTasksAsFilesAProcessorDeclaresAsThey(@TempDir Path dir) throws Exception {
        List<Task> tasks = TasksBenchmark.tasks(List.of(Fixtures.task("radr-intents"), Fixtures.task("emotion")), 3);
        List<Path> files = KafkaTasksBenchmark.writeTaskFiles(tasks, dir);
        assertEquals(3, files.size());
        ProcessorConfig config = ProcessorConfig.of(Map.of("tasks",
                String.join(",", files.stream().map(Path::toString).toList())));
        List<TaskCatalog.Entry> declared = TaskCatalog.load(config);
        assertEquals(tasks, declared.stream().map(TaskCatalog.Entry::task).toList(), "every field as made");
        assertEquals(List.of("radr-intents-1", "emotion-2", "radr-intents-3"),
                declared.stream().map(TaskCatalog.Entry::name).toList());
    }
}
