package io.slmclassifier.train;

import io.slmclassifier.classify.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.Decoder;
import java.util.List;

/** Classifies labeled examples and compares: the one evaluation used by training, `evaluate` and the gate. */
public final class ModelEvaluation {
    private ModelEvaluation() {}

    /** {@code classifier} already serves the adapter to evaluate. */
    public static Metrics evaluate(Classifier classifier, List<LabeledData.Example> data) {
        int[] truth = new int[data.size()];
        int[] predicted = new int[data.size()];
        int chunk = 64;
        for (int from = 0; from < data.size(); from += chunk) {
            List<LabeledData.Example> part = data.subList(from, Math.min(data.size(), from + chunk));
            List<Classification> results = classifier.classify(part.stream().map(LabeledData.Example::text).toList());
            for (int i = 0; i < part.size(); i++) {
                truth[from + i] = part.get(i).label();
                predicted[from + i] = results.get(i).labelIndex();
            }
        }
        return Metrics.of(classifier.task().labels(), truth, predicted);
    }

    public static Metrics evaluate(LanguageModel model, Task task, Decoder.ProjectionDeltas adapter,
            List<LabeledData.Example> data, int batchSize) {
        try (Classifier classifier = new Classifier(model, task, Classifier.Options.defaults().withBatchSize(batchSize))) {
            if (adapter != null) {
                classifier.useAdapter("evaluated", adapter);
            }
            return evaluate(classifier, data);
        }
    }
}
