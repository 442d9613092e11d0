package io.slmclassifier.classify;

import java.util.List;

/** How far two runs' class probabilities are apart: the largest |dp| over every text and class. */
final class ProbabilityGap {
    private ProbabilityGap() {}

    static double max(List<Classification> a, List<Classification> b) {
        return max(probabilities(a), probabilities(b));
    }

    static double max(double[][] a, double[][] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return max;
    }

    private static double[][] probabilities(List<Classification> results) {
        return results.stream().map(Classification::probabilities).toArray(double[][]::new);
    }
}
