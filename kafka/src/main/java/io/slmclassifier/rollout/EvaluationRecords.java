package io.slmclassifier.rollout;

import io.slmclassifier.avro.AdapterEvaluation;
import io.slmclassifier.avro.CoveragePoint;
import io.slmclassifier.avro.ReliabilityBin;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.quality.Metrics;
import java.util.ArrayList;
import java.util.List;

/**
 * An evaluation as the trainer publishes it in an {@code AdapterEvent}, and back: enough of it to draw the same
 * pictures as {@code evaluate --plot} wherever the event is read (the console), without the examples themselves.
 */
public final class EvaluationRecords {
    /** Points kept of the accuracy-coverage curve: one per percent of the examples kept. */
    public static final int COVERAGE_POINTS = 100;

    private EvaluationRecords() {}

    /** A published evaluation, read back; {@code calibration.scaled()} is null when no temperature was fitted. */
    public record Published(int examples, List<String> labels, int[][] confusion, Calibration.Report calibration) {}

    /**
     * @param withTemperature whether the fitted temperature is served with the version (a fit at the bound of the
     *     search is not, see {@link Calibration#fittedInside}); without it only the T = 1 figures are published
     */
    public static AdapterEvaluation toAvro(Metrics metrics, Calibration.Report report, boolean withTemperature) {
        List<List<Integer>> confusion = new ArrayList<>();
        int examples = 0;
        for (int[] row : metrics.confusion()) {
            List<Integer> counts = new ArrayList<>();
            for (int count : row) {
                counts.add(count);
                examples += count;
            }
            confusion.add(counts);
        }
        Calibration scaled = withTemperature ? report.scaled() : null;
        return AdapterEvaluation.newBuilder()
                .setExamples(examples)
                .setLabels(List.copyOf(metrics.labels()))
                .setConfusion(confusion)
                .setTemperature(scaled == null ? null : scaled.temperature())
                .setReliability(bins(report.reported()))
                .setReliabilityCalibrated(scaled == null ? List.of() : bins(scaled))
                .setCoverage(curve(report.reported()))
                .setCoverageCalibrated(scaled == null ? List.of() : curve(scaled))
                .build();
    }

    public static Published fromAvro(AdapterEvaluation e) {
        List<String> labels = e.getLabels().stream().map(CharSequence::toString).toList();
        int[][] confusion = new int[labels.size()][labels.size()];
        for (int t = 0; t < Math.min(labels.size(), e.getConfusion().size()); t++) {
            List<Integer> row = e.getConfusion().get(t);
            for (int p = 0; p < Math.min(labels.size(), row.size()); p++) {
                confusion[t][p] = row.get(p);
            }
        }
        Calibration reported = calibration(1, e.getReliability(), e.getCoverage());
        Calibration scaled = e.getTemperature() == null || e.getReliabilityCalibrated().isEmpty() ? null
                : calibration(e.getTemperature(), e.getReliabilityCalibrated(), e.getCoverageCalibrated());
        return new Published(e.getExamples(), labels, confusion, new Calibration.Report(reported, scaled));
    }

    private static List<ReliabilityBin> bins(Calibration c) {
        return c.bins().stream().map(b -> new ReliabilityBin(b.lower(), b.upper(), b.count(),
                b.count() == 0 ? null : b.meanConfidence(), b.count() == 0 ? null : b.accuracy())).toList();
    }

    /** The curve at every percent kept: the point where the kept fraction first reaches it. */
    private static List<CoveragePoint> curve(Calibration c) {
        List<Calibration.Selective> all = c.coverageCurve();
        List<CoveragePoint> points = new ArrayList<>();
        int last = -1;
        for (int percent = 1; percent <= COVERAGE_POINTS; percent++) {
            int index = (int) Math.ceil(percent / (double) COVERAGE_POINTS * all.size()) - 1;
            if (index > last && index < all.size()) {
                Calibration.Selective s = all.get(index);
                points.add(new CoveragePoint(s.threshold(), s.coverage(), s.accuracy()));
                last = index;
            }
        }
        return points;
    }

    /** Figures that only the examples would give (NLL, Brier, the fixed thresholds) are NaN and empty here. */
    private static Calibration calibration(double temperature, List<ReliabilityBin> bins, List<CoveragePoint> curve) {
        List<Calibration.Bin> read = bins.stream().map(b -> new Calibration.Bin(b.getLower(), b.getUpper(), b.getCount(),
                b.getMeanConfidence() == null ? Double.NaN : b.getMeanConfidence(),
                b.getAccuracy() == null ? Double.NaN : b.getAccuracy())).toList();
        List<Calibration.Selective> points = curve.stream()
                .map(p -> new Calibration.Selective(p.getThreshold(), p.getCoverage(), p.getAccuracy())).toList();
        return new Calibration(temperature, Calibration.ece(read), Double.NaN, Double.NaN, List.of(), read, points);
    }
}
