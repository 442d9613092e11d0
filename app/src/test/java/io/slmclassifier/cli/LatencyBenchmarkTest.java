package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.slmclassifier.cli.LatencyBenchmark.Pass;
import io.slmclassifier.cli.LatencyBenchmark.Passes;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The passes of a latency run, per window: counted where they ended, their time where it fell. */
class LatencyBenchmarkTest {

    @Test
    void aPassCountsWhereItEndedAndItsTimeWhereItFell() {
        // Windows of 2 s over a run of 4 s; the second pass straddles the edge, the third ends while draining.
        List<Passes> windows = LatencyBenchmark.passesPerWindow(List.of(
                new Pass(0.5, 4, 100, false),
                new Pass(2.5, 8, 1000, false),
                new Pass(5.0, 2, 500, false)), 2, 2, 4);

        assertEquals(new Passes(1, 4, 4, 4, 100, 100, 100 * (0.1 + 0.5) / 2), windows.get(0));
        // The last window reaches to the end of the last pass: 2 s to 5 s, busy 0.5 + 0.5 s of it.
        assertEquals(new Passes(2, 10, 5, 8, 500, 1000, 100 * 1.0 / 3), windows.get(1));
    }

    @Test
    void aWindowWithoutPassesSaysSo() {
        List<Passes> windows = LatencyBenchmark.passesPerWindow(List.of(new Pass(3, 1, 10, false)), 2, 2, 4);

        Passes first = windows.get(0);
        assertEquals(0, first.count());
        assertEquals(0, first.texts());
        assertEquals(0, first.busyPercent());
        assertEquals(Double.NaN, first.p50Ms());
    }
}
