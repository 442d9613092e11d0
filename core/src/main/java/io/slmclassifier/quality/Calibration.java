package io.slmclassifier.quality;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.classify.SlicedHead;
import java.util.ArrayList;
import java.util.List;

/**
 * How far the classifier's confidence can be trusted, measured from its logits over the task's labels at a
 * temperature T (probabilities are softmax(logits / T); T = 1 is what the classifier reports).
 *
 * @param ece expected calibration error over {@link #BINS} equal-width bins of confidence (the top probability):
 *     the sum over bins of (examples in the bin / n) * |accuracy in the bin - mean confidence in the bin|
 * @param nll mean negative log of the probability given to the true label
 * @param brier mean over examples of the sum over labels of (p_k - y_k)^2, y being the one-hot truth
 * @param selective for each of {@link #THRESHOLDS}, the examples whose confidence is at least the threshold
 */
public record Calibration(double temperature, double ece, double nll, double brier, List<Selective> selective,
        List<Bin> bins, List<Selective> coverageCurve) {
    public static final int BINS = 15;
    public static final double[] THRESHOLDS = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95};
    /** The range searched for the fitted temperature. */
    public static final double MIN_TEMPERATURE = 0.05;
    public static final double MAX_TEMPERATURE = 20;

    /**
     * @param coverage fraction of the examples kept
     * @param accuracy accuracy on the kept examples; NaN when none is kept
     */
    public record Selective(double threshold, double coverage, double accuracy) {}

    /** One bin of the reliability diagram: confidence in (lower, upper], its examples' mean confidence and accuracy. */
    public record Bin(double lower, double upper, int count, double meanConfidence, double accuracy) {}

    /** {@code logits[i]} follows the task's label order; {@code truth[i]} is the index of the true label. */
    public static Calibration measure(float[][] logits, int[] truth, double temperature) {
        int n = truth.length;
        if (n == 0 || logits.length != n) {
            throw new IllegalArgumentException("Calibration needs one row of logits per example, and examples: "
                    + logits.length + " rows, " + n + " labels");
        }
        double[] confidence = new double[n];
        boolean[] correct = new boolean[n];
        double nll = 0;
        double brier = 0;
        for (int i = 0; i < n; i++) {
            double[] p = SlicedHead.softmax(logits[i], temperature);
            int top = argmax(p);
            confidence[i] = p[top];
            correct[i] = top == truth[i];
            nll -= Math.log(p[truth[i]]);
            for (int k = 0; k < p.length; k++) {
                double miss = p[k] - (k == truth[i] ? 1 : 0);
                brier += miss * miss;
            }
        }
        List<Selective> selective = new ArrayList<>();
        for (double threshold : THRESHOLDS) {
            int kept = 0;
            int keptCorrect = 0;
            for (int i = 0; i < n; i++) {
                if (confidence[i] >= threshold) {
                    kept++;
                    keptCorrect += correct[i] ? 1 : 0;
                }
            }
            selective.add(new Selective(threshold, (double) kept / n, kept == 0 ? Double.NaN : (double) keptCorrect / kept));
        }
        List<Bin> bins = reliabilityBins(confidence, correct);
        return new Calibration(temperature, ece(bins), nll / n, brier / n, List.copyOf(selective), bins,
                coverageCurve(confidence, correct));
    }

    /**
     * The expected calibration error of results as a consumer reads them: each one's confidence (its label's
     * probability) and whether that label was right.
     */
    public static double ece(double[] confidence, boolean[] correct) {
        return ece(reliabilityBins(confidence, correct));
    }

    /** The expected calibration error of reliability bins: their gaps between accuracy and confidence, by weight. */
    public static double ece(List<Bin> bins) {
        int n = bins.stream().mapToInt(Bin::count).sum();
        double ece = 0;
        for (Bin b : bins) {
            if (b.count() > 0) {
                ece += (double) b.count() / n * Math.abs(b.accuracy() - b.meanConfidence());
            }
        }
        return ece;
    }

    /** Accuracy of the most confident examples against the fraction kept, at every cut (thresholds: the confidences). */
    private static List<Selective> coverageCurve(double[] confidence, boolean[] correct) {
        Integer[] order = new Integer[confidence.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(confidence[b], confidence[a]));
        List<Selective> curve = new ArrayList<>();
        int right = 0;
        for (int k = 0; k < order.length; k++) {
            right += correct[order[k]] ? 1 : 0;
            curve.add(new Selective(confidence[order[k]], (k + 1.0) / order.length, (double) right / (k + 1)));
        }
        return List.copyOf(curve);
    }

    private static List<Bin> reliabilityBins(double[] confidence, boolean[] correct) {
        int n = confidence.length;
        List<Bin> bins = new ArrayList<>();
        for (int bin = 0; bin < BINS; bin++) {
            // Bins (k/15, (k+1)/15] as in Guo et al.; comparing against k / 15.0 keeps the edges where others put them.
            double lower = bin / (double) BINS;
            double upper = (bin + 1) / (double) BINS;
            int count = 0;
            double confidenceSum = 0;
            int correctCount = 0;
            for (int i = 0; i < n; i++) {
                if (confidence[i] > lower && confidence[i] <= upper) {
                    count++;
                    confidenceSum += confidence[i];
                    correctCount += correct[i] ? 1 : 0;
                }
            }
            bins.add(new Bin(lower, upper, count, count == 0 ? Double.NaN : confidenceSum / count,
                    count == 0 ? Double.NaN : (double) correctCount / count));
        }
        return List.copyOf(bins);
    }

    /** Mean negative log-likelihood of the true labels at {@code temperature}, without the other figures. */
    public static double nll(float[][] logits, int[] truth, double temperature) {
        double sum = 0;
        for (int i = 0; i < truth.length; i++) {
            sum -= Math.log(SlicedHead.softmax(logits[i], temperature)[truth[i]]);
        }
        return sum / truth.length;
    }

    /**
     * The temperature that minimises the NLL of the true labels (temperature scaling, Guo et al. 2017), searched in
     * [{@link #MIN_TEMPERATURE}, {@link #MAX_TEMPERATURE}]. The NLL is convex in 1/T (a log-sum-exp of terms linear
     * in it), so it has a single minimum along log T too, and a golden-section search on log T finds it: one
     * dimension, no derivatives, no library.
     *
     * <p>Examples without a single error have no such minimum: the NLL keeps falling as T shrinks, toward answers
     * that are all certain, and the search would end at its bound. Then the temperature is the one at which the mean
     * confidence equals {@link #ruleOfSuccession the accuracy n right answers out of n support}, (n + 1) / (n + 2):
     * confident in proportion to the evidence, where the raw logits of a freshly trained adapter are often far
     * less sure than its answers are right. It only ever sharpens (T at most 1): examples without an error are no
     * evidence that the model is too sure, and softening would raise the NLL on them.
     */
    public static double fitTemperature(float[][] logits, int[] truth) {
        if (errors(logits, truth) == 0) {
            return Math.min(1, temperatureForMeanConfidence(logits, ruleOfSuccession(truth.length)));
        }
        return minimumOfTheNll(logits, truth);
    }

    /** Laplace's rule of succession: after n successes in n trials, the expected chance of the next, (n + 1) / (n + 2). */
    public static double ruleOfSuccession(int n) {
        return (n + 1.0) / (n + 2.0);
    }

    /** How many examples' top logit is not their true label's. */
    public static int errors(float[][] logits, int[] truth) {
        int errors = 0;
        for (int i = 0; i < truth.length; i++) {
            errors += argmax(SlicedHead.softmax(logits[i], 1)) == truth[i] ? 0 : 1;
        }
        return errors;
    }

    /** Mean top probability at {@code temperature}. */
    public static double meanConfidence(float[][] logits, double temperature) {
        double sum = 0;
        for (float[] row : logits) {
            double[] p = SlicedHead.softmax(row, temperature);
            sum += p[argmax(p)];
        }
        return sum / logits.length;
    }

    /**
     * The temperature whose mean confidence is {@code target}, by bisection on log T: each top probability falls
     * as T grows (the label order never changes), so their mean does too. A target out of reach inside the search
     * range gives the nearer bound, which {@link #fittedInside} then reports as no fit (tied logits, for one, stay at
     * 1 / labels whatever T is).
     */
    static double temperatureForMeanConfidence(float[][] logits, double target) {
        double low = Math.log(MIN_TEMPERATURE);
        double high = Math.log(MAX_TEMPERATURE);
        if (meanConfidence(logits, Math.exp(low)) < target) {
            return MIN_TEMPERATURE;
        }
        if (meanConfidence(logits, Math.exp(high)) > target) {
            return MAX_TEMPERATURE;
        }
        while (high - low > 1e-9) {
            double middle = (low + high) / 2;
            if (meanConfidence(logits, Math.exp(middle)) > target) {
                low = middle;
            } else {
                high = middle;
            }
        }
        return Math.exp((low + high) / 2);
    }

    /** The golden-section search of {@link #fitTemperature}, for examples with errors. */
    private static double minimumOfTheNll(float[][] logits, int[] truth) {
        double invPhi = (Math.sqrt(5) - 1) / 2;
        double low = Math.log(MIN_TEMPERATURE);
        double high = Math.log(MAX_TEMPERATURE);
        double left = high - invPhi * (high - low);
        double right = low + invPhi * (high - low);
        double nllLeft = nll(logits, truth, Math.exp(left));
        double nllRight = nll(logits, truth, Math.exp(right));
        while (high - low > 1e-9) {
            if (nllLeft <= nllRight) {
                high = right;
                right = left;
                nllRight = nllLeft;
                left = high - invPhi * (high - low);
                nllLeft = nll(logits, truth, Math.exp(left));
            } else {
                low = left;
                left = right;
                nllLeft = nllRight;
                right = low + invPhi * (high - low);
                nllRight = nll(logits, truth, Math.exp(right));
            }
        }
        return Math.exp((low + high) / 2);
    }

    private static int argmax(double[] p) {
        int top = 0;
        for (int k = 1; k < p.length; k++) {
            if (p[k] > p[top]) {
                top = k;
            }
        }
        return top;
    }

    /** A temperature a person gives: positive and finite, or an error that says so. */
    public static double requireUsable(double temperature) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature " + temperature + ": it must be a positive number");
        }
        return temperature;
    }

    /**
     * Whether a fitted temperature is a real fit: at a bound of the search the NLL was still falling (logits that
     * separate nothing drive T up) or the confidence the examples support was out of reach (tied logits), and the
     * number means nothing.
     */
    public static boolean fittedInside(double temperature) {
        return temperature > MIN_TEMPERATURE * 1.01 && temperature < MAX_TEMPERATURE / 1.01;
    }

    /**
     * The figures as reported (T = 1) and after a temperature: fitted on the same examples, or {@code given} (fitted
     * elsewhere, e.g. on a validation split, and scored here on new data).
     */
    public record Report(Calibration reported, Calibration scaled, boolean given) {
        public Report(Calibration reported, Calibration scaled) {
            this(reported, scaled, false);
        }

        /** The figures at T = 1 and at a temperature fitted elsewhere: what that temperature does on these examples. */
        public static Report given(float[][] logits, int[] truth, double temperature) {
            requireUsable(temperature);
            return new Report(measure(logits, truth, 1), measure(logits, truth, temperature), true);
        }


        /** {@code calibration.json}: the temperature and the figures before and after it, on {@code examples}. */
        public ObjectNode summary(int examples) {
            ObjectNode json = new ObjectMapper().createObjectNode();
            json.put("temperature", scaled.temperature());
            json.put("examples", examples);
            json.putObject("before").put("ece", reported.ece()).put("nll", reported.nll()).put("brier", reported.brier());
            json.putObject("after").put("ece", scaled.ece()).put("nll", scaled.nll()).put("brier", scaled.brier());
            return json;
        }

        public static Report of(float[][] logits, int[] truth) {
            return new Report(measure(logits, truth, 1), measure(logits, truth, fitTemperature(logits, truth)));
        }

        public ObjectNode toJson() {
            ObjectNode node = new ObjectMapper().createObjectNode();
            node.put("bins", BINS);
            node.put("ece", reported.ece());
            node.put("nll", reported.nll());
            node.put("brier", reported.brier());
            var rows = node.putArray("selective");
            for (Selective s : reported.selective()) {
                ObjectNode row = rows.addObject().put("threshold", s.threshold()).put("coverage", s.coverage());
                if (Double.isNaN(s.accuracy())) {
                    row.putNull("accuracy");
                } else {
                    row.put("accuracy", s.accuracy());
                }
            }
            ObjectNode fitted = node.putObject("temperature_scaling");
            fitted.put("fitted_on", given ? "other data (given)" : "the evaluated data");
            fitted.put("temperature", scaled.temperature());
            fitted.put("ece", scaled.ece());
            fitted.put("nll", scaled.nll());
            return node;
        }

        public String toTable() {
            StringBuilder out = new StringBuilder();
            out.append(String.format("%ncalibration   ECE (%d bins) %.4f   NLL %.4f   Brier %.4f%n", BINS, reported.ece(),
                    reported.nll(), reported.brier()));
            out.append(String.format("%-12s %9s %9s%n", "confidence", "coverage", "accuracy"));
            for (Selective s : reported.selective()) {
                out.append(String.format(">= %-9.2f %9.3f %9s%n", s.threshold(), s.coverage(),
                        Double.isNaN(s.accuracy()) ? "-" : String.format("%.3f", s.accuracy())));
            }
            out.append(String.format("%s %.3f: ECE %.4f   NLL %.4f   Brier %.4f%n",
                    given ? "given temperature" : "temperature fitted on these examples", scaled.temperature(),
                    scaled.ece(), scaled.nll(), scaled.brier()));
            return out.toString();
        }
    }
}
