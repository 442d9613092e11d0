package io.slmclassifier.quality;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** Classification quality: accuracy, macro and weighted F1, per-class precision/recall/F1, confusion matrix. */
public record Metrics(List<String> labels, int[][] confusion, double accuracy, double macroF1, double weightedF1,
        double[] precision, double[] recall, double[] f1, int[] support) {

    /** {@code confusion[true][predicted]}. */
    public static Metrics of(List<String> labels, int[] truth, int[] predicted) {
        int c = labels.size();
        int[][] confusion = new int[c][c];
        for (int i = 0; i < truth.length; i++) {
            confusion[truth[i]][predicted[i]]++;
        }
        double[] precision = new double[c];
        double[] recall = new double[c];
        double[] f1 = new double[c];
        int[] support = new int[c];
        int correct = 0;
        double macro = 0;
        double weighted = 0;
        for (int k = 0; k < c; k++) {
            int tp = confusion[k][k];
            int predictedK = 0;
            for (int t = 0; t < c; t++) {
                predictedK += confusion[t][k];
                support[k] += confusion[k][t];
            }
            correct += tp;
            // As scikit-learn with zero_division=0: an undefined ratio counts as 0.
            precision[k] = predictedK == 0 ? 0 : (double) tp / predictedK;
            recall[k] = support[k] == 0 ? 0 : (double) tp / support[k];
            f1[k] = precision[k] + recall[k] == 0 ? 0 : 2 * precision[k] * recall[k] / (precision[k] + recall[k]);
            macro += f1[k] / c;
            weighted += f1[k] * support[k];
        }
        int n = truth.length;
        return new Metrics(List.copyOf(labels), confusion, n == 0 ? 0 : (double) correct / n, macro,
                n == 0 ? 0 : weighted / n, precision, recall, f1, support);
    }

    public ObjectNode toJson() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode node = json.createObjectNode();
        node.put("accuracy", accuracy);
        node.put("macro_f1", macroF1);
        node.put("weighted_f1", weightedF1);
        ObjectNode perClass = node.putObject("per_class");
        for (int k = 0; k < labels.size(); k++) {
            ObjectNode cls = perClass.putObject(labels.get(k));
            cls.put("precision", precision[k]);
            cls.put("recall", recall[k]);
            cls.put("f1", f1[k]);
            cls.put("support", support[k]);
        }
        var rows = node.putArray("confusion");
        for (int[] row : confusion) {
            var r = rows.addArray();
            for (int v : row) {
                r.add(v);
            }
        }
        return node;
    }

    /** A table for people: per-class figures, then the confusion matrix (rows true, columns predicted). */
    public String toTable() {
        int width = Math.max(8, labels.stream().mapToInt(String::length).max().orElse(8));
        StringBuilder out = new StringBuilder();
        out.append(String.format("%-" + width + "s %9s %9s %9s %8s%n", "label", "precision", "recall", "f1", "support"));
        for (int k = 0; k < labels.size(); k++) {
            out.append(String.format("%-" + width + "s %9.3f %9.3f %9.3f %8d%n", labels.get(k), precision[k], recall[k],
                    f1[k], support[k]));
        }
        out.append(String.format("%naccuracy %.4f   macro-F1 %.4f   weighted-F1 %.4f%n%n", accuracy, macroF1, weightedF1));
        out.append(String.format("%-" + width + "s", "true \\ pred"));
        for (int k = 0; k < labels.size(); k++) {
            out.append(String.format(" %6.6s", labels.get(k)));
        }
        out.append('\n');
        for (int t = 0; t < labels.size(); t++) {
            out.append(String.format("%-" + width + "s", labels.get(t)));
            for (int p = 0; p < labels.size(); p++) {
                out.append(String.format(" %6d", confusion[t][p]));
            }
            out.append('\n');
        }
        return out.toString();
    }
}
