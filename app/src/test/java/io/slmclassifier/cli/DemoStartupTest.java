package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What keeps a demo from starting is found before anything starts, and said in one line. */
class DemoStartupTest {

    private static String refusal(String... args) {
        CommandRun run = CommandRun.of(args);
        assertEquals(2, run.code(), run.err());
        return run.err().strip();
    }

    @Test
    void takenPortsAreNamedBeforeAnythingStarts() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            for (String option : new String[] {"--kafka-port", "--registry-port", "--console-port"}) {
                assertEquals("error: " + option + " " + port + ": the port is already in use on 127.0.0.1",
                        refusal("demo", option, String.valueOf(port)));
            }
        }
    }

    @Test
    void setGoesToTheServiceWhoseKeyItIsAndAnUnknownKeyIsRefusedWithTheNearestOne() {
        DemoCommand.Settings settings = DemoCommand.Settings.of(java.util.Map.of("calibration.temperature", "0.7",
                "trigger.examples", "40", "bootstrap.servers", "127.0.0.1:1", "kafka.linger.ms", "5",
                "console.token.file", "/run/token", "task.emotion.abstain.threshold", "0.4"));
        assertEquals(java.util.Map.of("calibration.temperature", "0.7", "bootstrap.servers", "127.0.0.1:1",
                "kafka.linger.ms", "5", "console.token.file", "/run/token", "task.emotion.abstain.threshold", "0.4"),
                settings.processor());
        assertEquals("40", settings.trainer().get("trigger.examples"));
        assertEquals("127.0.0.1:1", settings.trainer().get("bootstrap.servers"), "a key both read goes to both");
        assertEquals(null, settings.trainer().get("calibration.temperature"));

        assertEquals("error: --set: unknown key 'calibration.temprature' (did you mean 'calibration.temperature'?); "
                + "unknown key 'no.such.thing' (the processor's and trainer's keys are in docs/configuration.md)",
                refusal("demo", "--set", "calibration.temprature=0.7", "--set", "no.such.thing=1"));
    }

    @Test
    void aTaskIsAFileOrTheNameOfOneAndAMissingOneIsNamedBeforeAnythingStarts(@TempDir Path work) throws Exception {
        assertEquals(Path.of("tasks/emotion.yaml"), DemoCommand.taskFile("tasks/emotion.yaml", work));
        assertEquals(Path.of("tasks", "emotion.yaml"), DemoCommand.taskFile("emotion", work), "a file of tasks/ by name");
        Path colours = DemoCommand.taskFile("colours", work);
        assertEquals(work.resolve("colours.yaml"), colours);
        assertEquals(io.slmclassifier.train.ColourTask.YAML, java.nio.file.Files.readString(colours));
        assertEquals(java.util.List.of(Path.of("tasks/radr-intents.yaml")),
                DemoCommand.taskFiles(java.util.List.of(), null, false, work), "the default of one task");
        assertEquals(java.util.List.of(colours), DemoCommand.taskFiles(java.util.List.of(), null, true, work));
        assertEquals(java.util.List.of(), DemoCommand.taskFiles(java.util.List.of(), Path.of("tasks"), false, work),
                "--tasks-dir alone: its tasks, no default beside them");

        assertEquals("error: --task no-such-task: no such task file, nor a task of that name (colours, or the name of "
                + "a file in tasks/)", refusal("demo", "--task", "emotion", "--task", "no-such-task"));
        assertEquals("error: --tasks-dir " + work.resolve("none") + ": no such directory",
                refusal("demo", "--tasks-dir", work.resolve("none").toString()));
    }

    @Test
    void aDataDirectoryServesOneDemo(@TempDir Path dir) throws Exception {
        try (DemoDataDirLock held = DemoDataDirLock.acquire(dir)) {
            assertEquals("error: data directory " + dir + " is in use by another demo (pid " + ProcessHandle.current().pid()
                    + ")", refusal("demo", "--data-dir", dir.toString()));
        }
    }
}
