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
