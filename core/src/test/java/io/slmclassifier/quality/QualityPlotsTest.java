package io.slmclassifier.quality;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;

class QualityPlotsTest {

    @Test
    void labelsAreTextInAWellFormedDocumentNeverMarkup() throws Exception {
        String svg = QualityPlots.svg(QualityPlots.confusion(List.of("<b>x&y</b>", "blue\"", "green'"),
                new int[][] {{5, 1, 0}, {0, 6, 1}, {2, 0, 4}}), 560, 420);
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        factory.newDocumentBuilder().parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
        assertFalse(svg.contains("<b>"), "a label's markup is escaped");
        assertTrue(svg.contains("&lt;b&gt;x&amp;y&lt;/b&gt;"), "and shown as text");
        assertTrue(svg.contains(">6<") && svg.contains(">5<"), "counts in their cells");
    }

    @Test
    void largeMatricesAreBoundedInWhatTheyDraw() {
        String svg = QualityPlots.svg(QualityPlots.confusion(labels(40), diagonal(40, 7)), 560, 420);
        assertFalse(svg.contains(">7<"), "no counts past 30 labels: the cells would be too small to read");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> QualityPlots.confusion(labels(101), diagonal(101, 1)));
        assertTrue(e.getMessage().contains("101 labels"), e.getMessage());
    }

    /** 12 examples right at p 0.98 (the last bin, where the frame used to cut the point), 5 wrong at p 0.62. */
    @Test
    void theReliabilityDiagramShowsEveryPointWholeWithItsCount() {
        float[][] logits = new float[17][];
        int[] truth = new int[17];
        for (int i = 0; i < 17; i++) {
            logits[i] = i < 12 ? new float[] {4, 0} : new float[] {0.5f, 0};
            truth[i] = i < 12 ? 0 : 1;
        }
        Calibration.Report report = Calibration.Report.given(logits, truth, 2.0);
        org.jfree.chart.JFreeChart chart = QualityPlots.reliability(report);
        org.jfree.chart.plot.XYPlot plot = chart.getXYPlot();
        double highest = report.reported().bins().stream().filter(b -> b.count() > 0)
                .mapToDouble(Calibration.Bin::meanConfidence).max().orElseThrow();
        assertTrue(highest > 0.98, "a point near the right edge: " + highest);
        assertTrue(plot.getDomainAxis().getUpperBound() > 1.02, "room right of confidence 1");
        assertTrue(plot.getRangeAxis().getUpperBound() > 1.05, "room above accuracy 1, count included");
        assertTrue(plot.getRangeAxis().getLowerBound() < -0.03, "room below accuracy 0, count included");
        String svg = QualityPlots.svg(chart, 800, 600);
        assertTrue(svg.contains(">12<") && svg.contains(">5<"), "each bin's count beside its point");
        assertTrue(svg.contains("T = 2.00 (given)"), "a temperature fitted elsewhere is not called fitted");
    }

    private static List<String> labels(int n) {
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            labels.add("label-" + i);
        }
        return labels;
    }

    private static int[][] diagonal(int n, int count) {
        int[][] m = new int[n][n];
        for (int i = 0; i < n; i++) {
            m[i][i] = count;
        }
        return m;
    }
}
