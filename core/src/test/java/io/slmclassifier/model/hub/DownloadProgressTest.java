package io.slmclassifier.model.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Download progress redrawn in place on a terminal, and plain lines in a log. */
class DownloadProgressTest {

    private static String download(boolean terminal, long total) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        DownloadProgress progress = new DownloadProgress(out, terminal, "org/model/model.safetensors", total, 0);
        for (int i = 0; i < 1_000; i++) {
            progress.advance(1_000);
        }
        progress.finish();
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void withoutATerminalProgressIsPlainLinesAtEachTenth() {
        String log = download(false, 1_000_000);
        assertFalse(log.contains("\r"), "no carriage return in a log:\n" + log);
        List<String> lines = log.lines().toList();
        assertEquals(11, lines.size(), "one line per tenth (0% ... 90%) and the finished one:\n" + log);
        assertTrue(lines.get(0).startsWith("org/model/model.safetensors  [") && lines.get(0).contains("  0%"), lines.get(0));
        assertTrue(lines.get(10).contains("100%  976.6 KB / 976.6 KB"), lines.get(10));
        assertTrue(lines.stream().allMatch(l -> l.equals(l.stripTrailing())), "no padding left for a redraw");
    }

    @Test
    void withoutATerminalAFileOfUnknownSizeSaysWhenDone() {
        List<String> lines = download(false, -1).lines().toList();
        // The first read says the download started; the thousand quick reads after it are well inside the ten
        // seconds between two plain lines; then the finished size.
        assertEquals(2, lines.size(), String.join("\n", lines));
        assertTrue(lines.get(0).startsWith("org/model/model.safetensors  1000 B  "), lines.get(0));
        assertTrue(lines.get(1).startsWith("org/model/model.safetensors  976.6 KB  "), lines.get(1));
    }

    @Test
    void onATerminalTheLineIsRedrawnInPlaceAndEndedOnce() {
        String drawn = download(true, 1_000_000);
        assertTrue(drawn.startsWith("\r"), drawn);
        assertEquals(1, drawn.chars().filter(c -> c == '\n').count(), "one line, ended when done");
        assertTrue(drawn.strip().endsWith("/s"), drawn);
        assertTrue(drawn.substring(drawn.lastIndexOf('\r')).contains("100%"), drawn);
    }
}
