package io.slmclassifier.console;

import io.slmclassifier.avro.AdapterEvaluation;
import io.slmclassifier.rollout.EvaluationRecords;
import io.slmclassifier.quality.QualityPlots;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.jfree.chart.JFreeChart;

/**
 * The pictures of a version's published evaluation, as SVG for the page: the same charts as {@code evaluate
 * --plot} draws, from the figures in the version's {@code AdapterEvent}. Drawn on first request and kept (a version's
 * evaluation does not change), the most recent few only.
 */
final class EvaluationPlots {
    static final Set<String> KINDS = Set.of("reliability", "coverage", "confusion");
    private static final int WIDTH = 560;
    private static final int HEIGHT = 420;
    private static final int KEPT = 48;

    private record Drawn(AdapterEvaluation from, byte[] svg) {}

    private final Map<String, Drawn> drawn = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Drawn> eldest) {
            return size() > KEPT;
        }
    };

    /** {@code kind} is one of {@link #KINDS}. */
    synchronized byte[] svg(long version, String kind, AdapterEvaluation evaluation) {
        String key = version + "/" + kind;
        Drawn cached = drawn.get(key);
        if (cached != null && cached.from().equals(evaluation)) {
            return cached.svg();
        }
        EvaluationRecords.Published published = EvaluationRecords.fromAvro(evaluation);
        JFreeChart chart = switch (kind) {
            case "reliability" -> QualityPlots.reliability(published.calibration());
            case "coverage" -> QualityPlots.coverage(published.calibration());
            case "confusion" -> QualityPlots.confusion(published.labels(), published.confusion());
            default -> throw new IllegalArgumentException("no plot named " + kind);
        };
        chart.setTitle(chart.getTitle().getText() + " (v" + version + ", " + published.examples() + " validation examples)");
        byte[] svg = QualityPlots.svg(chart, WIDTH, HEIGHT).getBytes(StandardCharsets.UTF_8);
        drawn.put(key, new Drawn(evaluation, svg));
        return svg;
    }
}
