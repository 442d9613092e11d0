package io.slmclassifier.quality;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Rectangle;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;

/**
 * The two pictures of calibration, as PNG and SVG: the reliability diagram (accuracy against confidence per bin,
 * beside the diagonal of perfect calibration) and accuracy against coverage (what keeping only the most confident
 * results buys), each before and after temperature scaling.
 */
public final class CalibrationPlots {
    private static final int WIDTH = 800;
    private static final int HEIGHT = 600;

    private CalibrationPlots() {}

    /** Writes reliability.png/.svg and coverage.png/.svg into {@code dir}; returns the files written. */
    public static List<Path> write(Path dir, Calibration.Report report) throws IOException {
        System.setProperty("java.awt.headless", "true"); // no display on servers and in CI
        Files.createDirectories(dir);
        Calibration before = report.reported();
        Calibration after = report.scaled();
        String scaled = String.format("T = %.2f (fitted)", after.temperature());

        XYSeriesCollection reliability = new XYSeriesCollection();
        reliability.addSeries(bins("T = 1 (as served), ECE " + String.format("%.3f", before.ece()), before));
        reliability.addSeries(bins(scaled + ", ECE " + String.format("%.3f", after.ece()), after));
        XYSeries diagonal = new XYSeries("perfect calibration");
        diagonal.add(0, 0);
        diagonal.add(1, 1);
        reliability.addSeries(diagonal);
        JFreeChart reliabilityChart = chart("Reliability diagram", "confidence (mean per bin of 1/15)",
                "accuracy", reliability);

        XYSeriesCollection coverage = new XYSeriesCollection();
        coverage.addSeries(curve("T = 1 (as served)", before));
        coverage.addSeries(curve(scaled, after));
        JFreeChart coverageChart = chart("Accuracy of the most confident results", "coverage (fraction kept)",
                "accuracy of the kept results", coverage);

        return List.of(png(dir.resolve("reliability.png"), reliabilityChart), svg(dir.resolve("reliability.svg"), reliabilityChart),
                png(dir.resolve("coverage.png"), coverageChart), svg(dir.resolve("coverage.svg"), coverageChart));
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

    private static JFreeChart chart(String title, String x, String y, XYSeriesCollection data) {
        JFreeChart chart = ChartFactory.createXYLineChart(title, x, y, data, PlotOrientation.VERTICAL, true, false, false);
        chart.setBackgroundPaint(Color.WHITE);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.getDomainAxis().setRange(0, 1);
        plot.getRangeAxis().setRange(0, 1.02);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        Color[] colors = {new Color(0x2f6fde), new Color(0xe0823d), Color.GRAY};
        for (int s = 0; s < data.getSeriesCount(); s++) {
            renderer.setSeriesPaint(s, colors[s % colors.length]);
            renderer.setSeriesStroke(s, new BasicStroke(2f));
            renderer.setSeriesShapesVisible(s, data.getSeries(s).getItemCount() <= 30);
        }
        plot.setRenderer(renderer);
        return chart;
    }

    private static Path png(Path file, JFreeChart chart) throws IOException {
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
        return file;
    }

    private static Path svg(Path file, JFreeChart chart) throws IOException {
        SVGGraphics2D g2 = new SVGGraphics2D(WIDTH, HEIGHT);
        chart.draw(g2, new Rectangle(0, 0, WIDTH, HEIGHT));
        Files.writeString(file, g2.getSVGDocument(), StandardCharsets.UTF_8);
        return file;
    }
}
