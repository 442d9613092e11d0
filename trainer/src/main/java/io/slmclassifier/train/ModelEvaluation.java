package io.slmclassifier.train;

import io.slmclassifier.classify.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.Decoder;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.quality.Metrics;
import java.util.List;

/** Classifies labeled examples and compares: the one evaluation used by training, `evaluate` and the gate. */
public final class ModelEvaluation {
    private ModelEvaluation() {}

    /**
     * The metrics, and what they were computed from: per example the logits over the task's labels and the index of
     * the true label, from which {@link Calibration} measures how far the confidence can be trusted.
     */
    public record Outcome(Metrics metrics, float[][] logits, int[] truth) {
        public Calibration.Report calibration() {
            return Calibration.Report.of(logits, truth);
        }
    }

    /** {@code classifier} already serves the adapter to evaluate. */
    public static Metrics evaluate(Classifier classifier, List<LabeledData.Example> data) {
        return classify(classifier, data).metrics();
    }

    public static Metrics evaluate(LanguageModel model, Task task, Decoder.ProjectionDeltas adapter,
            List<LabeledData.Example> data, int batchSize) {
        return classify(model, task, adapter, data, batchSize).metrics();
    }

    /** {@code classifier} already serves the adapter to evaluate. */
    public static Outcome classify(Classifier classifier, List<LabeledData.Example> data) {
        int[] truth = new int[data.size()];
        int[] predicted = new int[data.size()];
        float[][] logits = new float[data.size()][];
        int chunk = 64;
        for (int from = 0; from < data.size(); from += chunk) {
            List<LabeledData.Example> part = data.subList(from, Math.min(data.size(), from + chunk));
            List<Classification> results = classifier.classify(part.stream().map(LabeledData.Example::text).toList());
            for (int i = 0; i < part.size(); i++) {
                truth[from + i] = part.get(i).label();
                predicted[from + i] = results.get(i).labelIndex();
                logits[from + i] = results.get(i).logits();
            }
        }
        return new Outcome(Metrics.of(classifier.task().labels(), truth, predicted), logits, truth);
    }

    public static Outcome classify(LanguageModel model, Task task, Decoder.ProjectionDeltas adapter,
            List<LabeledData.Example> data, int batchSize) {
        try (Classifier classifier = new Classifier(model, task, Classifier.Options.defaults().withBatchSize(batchSize))) {
            if (adapter != null) {
                classifier.useAdapter("evaluated", adapter);
            }
            return classify(classifier, data);
        }
    }
}
