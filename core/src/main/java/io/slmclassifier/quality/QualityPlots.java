package io.slmclassifier.quality;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Paint;
import java.awt.Rectangle;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.annotations.XYTextAnnotation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.PaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.xy.DefaultXYZDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;

/**
 * The pictures of a classifier's quality, drawn by JFreeChart: the reliability diagram (accuracy against confidence
 * per bin, beside the diagonal of perfect calibration), accuracy against coverage (what keeping only the most
 * confident results buys), each before and after temperature scaling, and the confusion matrix as a heat map.
 * {@code evaluate --plot} writes them as files; the console serves them as SVG for the versions it shows.
 */
public final class QualityPlots {
    public static final int WIDTH = 800;
    public static final int HEIGHT = 600;
    private static final Color BEFORE = new Color(0x2f6fde);
    private static final Color AFTER = new Color(0xe0823d);
    private static final Color HEAT = new Color(0x1f4e9c);
    /** Most labels a confusion matrix is drawn for (a cell each: beyond this, neither readable nor small). */
    public static final int MAX_CONFUSION_LABELS = 100;
    /** Most labels whose cells also show their count. */
    private static final int MAX_NUMBERED_LABELS = 30;

    static {
        System.setProperty("java.awt.headless", "true"); // no display on servers and in CI
    }

    private QualityPlots() {}

    /**
     * Writes reliability, coverage and (with {@code metrics}) confusion, each as .png and .svg, into {@code dir};
     * returns the files written.
     */
    public static List<Path> write(Path dir, Calibration.Report report, Metrics metrics) throws IOException {
        Files.createDirectories(dir);
        List<Path> written = new ArrayList<>();
        written.addAll(both(dir, "reliability", reliability(report)));
        written.addAll(both(dir, "coverage", coverage(report)));
        if (metrics != null && metrics.labels().size() <= MAX_CONFUSION_LABELS) {
            written.addAll(both(dir, "confusion", confusion(metrics.labels(), metrics.confusion())));
        }
        return written;
    }

    /** Accuracy against mean confidence per bin; {@code report.scaled()} may be null (no temperature). */
    public static JFreeChart reliability(Calibration.Report report) {
        XYSeriesCollection data = new XYSeriesCollection();
        data.addSeries(bins(String.format("T = 1 (before calibration), ECE %.3f", report.reported().ece()),
                report.reported()));
        if (report.scaled() != null) {
            data.addSeries(bins(String.format("%s, ECE %.3f", fitted(report), report.scaled().ece()),
                    report.scaled()));
        }
        XYSeries diagonal = new XYSeries("perfect calibration");
        diagonal.add(0, 0);
        diagonal.add(1, 1);
        data.addSeries(diagonal);
        JFreeChart chart = lines("Reliability diagram", "confidence (mean per bin of 1/" + Calibration.BINS
                + "; the numbers: examples in the bin)", "accuracy", data,
                report.scaled() == null ? new Color[] {BEFORE, Color.GRAY} : new Color[] {BEFORE, AFTER, Color.GRAY});
        // How many examples each point stands for: a bin of 2 examples at accuracy 0 is noise, one of 200 is not.
        // Below the points before calibration, above those after, so the two sets of numbers do not overlap.
        counts(chart.getXYPlot(), report.reported(), BEFORE, -COUNT_OFFSET);
        if (report.scaled() != null) {
            counts(chart.getXYPlot(), report.scaled(), AFTER, COUNT_OFFSET);
        }
        return chart;
    }

    private static final double COUNT_OFFSET = 0.035;

    private static void counts(XYPlot plot, Calibration calibration, Color color, double offset) {
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
        for (Calibration.Bin bin : calibration.bins()) {
            if (bin.count() > 0) {
                XYTextAnnotation count = new XYTextAnnotation(Integer.toString(bin.count()), bin.meanConfidence(),
                        bin.accuracy() + offset);
                count.setFont(font);
                count.setPaint(color);
                plot.addAnnotation(count);
            }
        }
    }

    /** Accuracy of the kept results against the fraction kept, most confident first. */
    public static JFreeChart coverage(Calibration.Report report) {
        XYSeriesCollection data = new XYSeriesCollection();
        data.addSeries(curve("T = 1 (before calibration)", report.reported()));
        if (report.scaled() != null) {
            data.addSeries(curve(fitted(report), report.scaled()));
        }
        return lines("Accuracy of the most confident results", "coverage (fraction kept)",
                "accuracy of the kept results", data, new Color[] {BEFORE, AFTER});
    }

    /**
     * Rows the true labels, columns the predicted ones. A cell's colour is its share of the row (the recall of the
     * diagonal, the confusions elsewhere), so rare labels read as clearly as common ones; its number is the count
     * (up to 30 labels).
     *
     * @throws IllegalArgumentException with more than {@link #MAX_CONFUSION_LABELS} labels
     */
    public static JFreeChart confusion(List<String> labels, int[][] counts) {
        int c = labels.size();
        if (c > MAX_CONFUSION_LABELS) {
            throw new IllegalArgumentException("a confusion matrix of " + c + " labels is not drawn (at most "
                    + MAX_CONFUSION_LABELS + ")");
        }
        double[] x = new double[c * c];
        double[] y = new double[c * c];
        double[] share = new double[c * c];
        for (int t = 0; t < c; t++) {
            int row = 0;
            for (int p = 0; p < c; p++) {
                row += counts[t][p];
            }
            for (int p = 0; p < c; p++) {
                int i = t * c + p;
                x[i] = p;
                y[i] = t;
                share[i] = row == 0 ? 0 : counts[t][p] / (double) row;
            }
        }
        DefaultXYZDataset data = new DefaultXYZDataset();
        data.addSeries("share of the true label", new double[][] {x, y, share});
        String[] names = labels.toArray(String[]::new);
        SymbolAxis predicted = new SymbolAxis("predicted label", names);
        predicted.setGridBandsVisible(false);
        SymbolAxis truth = new SymbolAxis("true label", names);
        truth.setGridBandsVisible(false);
        truth.setInverted(true); // the first label on the top row, as the matrix is printed
        PaintScale scale = new SharePaintScale();
        XYBlockRenderer renderer = new XYBlockRenderer();
        renderer.setPaintScale(scale);
        XYPlot plot = new XYPlot(data, predicted, truth, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinesVisible(false);
        plot.setRangeGridlinesVisible(false);
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, c <= 8 ? 14 : c <= 16 ? 11 : 8);
        for (int i = 0; i < (c <= MAX_NUMBERED_LABELS ? x.length : 0); i++) {
            int count = counts[(int) y[i]][(int) x[i]];
            XYTextAnnotation number = new XYTextAnnotation(Integer.toString(count), x[i], y[i]);
            number.setFont(font);
            number.setPaint(share[i] > 0.5 ? Color.WHITE : Color.DARK_GRAY);
            plot.addAnnotation(number);
        }
        JFreeChart chart = new JFreeChart("Confusion matrix", JFreeChart.DEFAULT_TITLE_FONT, plot, false);
        chart.setBackgroundPaint(Color.WHITE);
        NumberAxis legendAxis = new NumberAxis("share of the true label's examples");
        legendAxis.setRange(0, 1);
        PaintScaleLegend legend = new PaintScaleLegend(scale, legendAxis);
        legend.setPosition(RectangleEdge.RIGHT);
        legend.setStripWidth(12);
        legend.setMargin(4, 4, 40, 4);
        chart.addSubtitle(legend);
        return chart;
    }

    /** The chart as an SVG document of the given size. */
    public static String svg(JFreeChart chart, int width, int height) {
        SVGGraphics2D g2 = new SVGGraphics2D(width, height);
        chart.draw(g2, new Rectangle(0, 0, width, height));
        return g2.getSVGDocument();
    }

    private static List<Path> both(Path dir, String name, JFreeChart chart) throws IOException {
        Path png = dir.resolve(name + ".png");
        ChartUtils.saveChartAsPNG(png.toFile(), chart, WIDTH, HEIGHT);
        Path svg = dir.resolve(name + ".svg");
        Files.writeString(svg, svg(chart, WIDTH, HEIGHT), StandardCharsets.UTF_8);
        return List.of(png, svg);
    }

    private static final double AXIS_MARGIN = 0.04;

    private static String fitted(Calibration.Report report) {
        return String.format("T = %.2f (%s)", report.scaled().temperature(), report.given() ? "given" : "fitted");
    }

    private static XYSeries bins(String name, Calibration calibration) {
        XYSeries series = new XYSeries(name, false);
        for (Calibration.Bin bin : calibration.bins()) {
            if (bin.count() > 0) {
                series.add(bin.meanConfidence(), bin.accuracy());
            }
        }
        return series;
    }

    private static XYSeries curve(String name, Calibration calibration) {
        XYSeries series = new XYSeries(name, false);
        for (Calibration.Selective point : calibration.coverageCurve()) {
            series.add(point.coverage(), point.accuracy());
        }
        return series;
    }

    private static JFreeChart lines(String title, String x, String y, XYSeriesCollection data, Color[] colors) {
        JFreeChart chart = ChartFactory.createXYLineChart(title, x, y, data, PlotOrientation.VERTICAL, true, false, false);
        chart.setBackgroundPaint(Color.WHITE);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        // A margin around [0, 1] on both axes: points at confidence, coverage or accuracy 1 (or accuracy 0) are common,
        // and at the very edge the frame cuts their markers (and a bin's count) in half.
        plot.getDomainAxis().setRange(-AXIS_MARGIN, 1 + AXIS_MARGIN);
        plot.getRangeAxis().setRange(-AXIS_MARGIN, 1 + 2 * AXIS_MARGIN);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        for (int s = 0; s < data.getSeriesCount(); s++) {
            renderer.setSeriesPaint(s, colors[s % colors.length]);
            // The first series is drawn last (on top): the later ones wider, so a curve that coincides stays visible.
            renderer.setSeriesStroke(s, new BasicStroke(s == 0 ? 2f : 4f));
            renderer.setSeriesShapesVisible(s, data.getSeries(s).getItemCount() <= 30);
        }
        plot.setRenderer(renderer);
        return chart;
    }

    /** White at 0 to dark blue at 1. */
    private static final class SharePaintScale implements PaintScale {
        @Override
        public double getLowerBound() {
            return 0;
        }

        @Override
        public double getUpperBound() {
            return 1;
        }

        @Override
        public Paint getPaint(double value) {
            double v = Math.max(0, Math.min(1, Double.isNaN(value) ? 0 : value));
            return new Color(mix(255, HEAT.getRed(), v), mix(255, HEAT.getGreen(), v), mix(255, HEAT.getBlue(), v));
        }

        private static int mix(int from, int to, double v) {
            return (int) Math.round(from + (to - from) * v);
        }
    }
}
