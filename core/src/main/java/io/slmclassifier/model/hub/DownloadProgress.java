package io.slmclassifier.model.hub;

import java.io.PrintStream;

/** One line per file on stderr, redrawn in place at most five times a second, left complete when done. */
final class DownloadProgress {
    private static final long REDRAW_NANOS = 200_000_000L;
    private static final int BAR_WIDTH = 24;

    private final PrintStream out;
    private final String name;
    private final long total;
    private final long resumedFrom;
    private final long started = System.nanoTime();
    private long done;
    private long lastDrawn;

    /** @param total -1 when the size is unknown */
    DownloadProgress(PrintStream out, String name, long total, long resumedFrom) {
        this.out = out;
        this.name = name;
        this.total = total;
        this.resumedFrom = resumedFrom;
        this.done = resumedFrom;
    }

    void advance(long bytes) {
        done += bytes;
        long now = System.nanoTime();
        if (now - lastDrawn >= REDRAW_NANOS) {
            lastDrawn = now;
            draw(now);
        }
    }

    void finish() {
        draw(System.nanoTime());
        if (out != null) {
            out.println();
            out.flush();
        }
    }

    private void draw(long now) {
        if (out == null) {
            return;
        }
        double seconds = Math.max(1e-3, (now - started) / 1e9);
        // Bytes that were already on disk do not count towards the speed.
        double rate = (done - resumedFrom) / seconds;
        StringBuilder line = new StringBuilder("\r").append(name).append("  ");
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
        line.append("   ");
        out.print(line);
        out.flush();
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
