package io.slmclassifier.model.hub;

import java.io.PrintStream;

/**
 * A file's download progress on stderr. On a terminal one line per file, redrawn in place at most five times a
 * second and left complete when done; elsewhere (a log file, a pipe, a container's log) plain lines, one at each
 * tenth of the file (every ten seconds when its size is unknown) and one when done, so a log holds no carriage
 * returns and does not fill with redraws.
 */
final class DownloadProgress {
    private static final long REDRAW_NANOS = 200_000_000L;
    private static final long PLAIN_LINE_NANOS = 10_000_000_000L;
    private static final int BAR_WIDTH = 24;

    private final PrintStream out;
    private final boolean terminal;
    private final String name;
    private final long total;
    private final long resumedFrom;
    private final long started = System.nanoTime();
    private long done;
    private long lastDrawn;
    /** The tenth of the file last written as a plain line (-1: none yet). */
    private int tenthWritten = -1;

    /**
     * @param out null for no progress
     * @param terminal whether {@code out} is a person's terminal, where the line is redrawn in place
     * @param total -1 when the size is unknown
     */
    DownloadProgress(PrintStream out, boolean terminal, String name, long total, long resumedFrom) {
        this.out = out;
        this.terminal = terminal;
        this.name = name;
        this.total = total;
        this.resumedFrom = resumedFrom;
        this.done = resumedFrom;
    }

    void advance(long bytes) {
        done += bytes;
        if (out == null) {
            return;
        }
        long now = System.nanoTime();
        if (terminal) {
            if (now - lastDrawn >= REDRAW_NANOS) {
                lastDrawn = now;
                out.print("\r" + line(now));
                out.flush();
            }
        } else if (total > 0) {
            int tenth = (int) Math.min(10, 10 * done / total);
            if (tenth != tenthWritten && done < total) {
                tenthWritten = tenth;
                out.println(line(now).stripTrailing());
                out.flush();
            }
        } else if (now - lastDrawn >= PLAIN_LINE_NANOS) {
            lastDrawn = now;
            out.println(line(now).stripTrailing());
            out.flush();
        }
    }

    void finish() {
        if (out == null) {
            return;
        }
        long now = System.nanoTime();
        out.println(terminal ? "\r" + line(now) : line(now).stripTrailing());
        out.flush();
    }

    /** The figures of the progress so far: name, bar and share, bytes, speed, ETA (padded for a redraw). */
    private String line(long now) {
        double seconds = Math.max(1e-3, (now - started) / 1e9);
        // Bytes that were already on disk do not count towards the speed.
        double rate = (done - resumedFrom) / seconds;
        StringBuilder line = new StringBuilder(name).append("  ");
        if (total > 0) {
            int filled = (int) Math.min(BAR_WIDTH, BAR_WIDTH * done / total);
            line.append('[').append("#".repeat(filled)).append(".".repeat(BAR_WIDTH - filled)).append("] ")
                    .append(String.format("%3d%%  ", Math.min(100, 100 * done / total)))
                    .append(bytes(done)).append(" / ").append(bytes(total));
        } else {
            line.append(bytes(done));
        }
        line.append("  ").append(bytes((long) rate)).append("/s");
        if (total > 0 && rate > 0 && done < total) {
            long eta = (long) Math.ceil((total - done) / rate);
            line.append(String.format("  ETA %d:%02d", eta / 60, eta % 60));
        }
        // Blanks past the end wipe what a longer previous redraw left on the terminal line.
        return line.append("   ").toString();
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KB", "MB", "GB", "TB"};
        double value = n;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format("%.1f %s", value, units[unit]);
    }
}
