package io.slmclassifier.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.quality.QualityPlots;
import io.slmclassifier.train.ModelEvaluation;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Metrics of a model (and optionally an adapter) on labeled data. */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Print accuracy, F1, the confusion matrix and calibration (ECE, NLL, Brier, selective accuracy).")
public final class EvaluateCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    LogOptions logging;

    @picocli.CommandLine.Mixin
    EvaluationOptions evaluation;

    @Option(names = "--json", description = "Also write the metrics as JSON to this file.") Path json;
    @Option(names = "--temperature", description = "Score this calibration temperature (fitted elsewhere, e.g. by "
            + "calibrate or the trainer) on these examples, in place of one fitted on them.") Double temperature;
    @Option(names = "--plot", description = "Write the reliability diagram and accuracy against coverage (before and "
            + "after temperature scaling) and the confusion matrix as a heat map, as PNG and SVG into this directory.") Path plot;

    @Override
    public Integer call() throws Exception {
        if (temperature != null) {
            Calibration.requireUsable(temperature); // before the model loads, not after
        }
        ModelEvaluation.Outcome outcome = evaluation.classify();
        Calibration.Report calibration = temperature == null ? outcome.calibration()
                : Calibration.Report.given(outcome.logits(), outcome.truth(), temperature);
        System.out.print(outcome.metrics().toTable());
        System.out.print(calibration.toTable());
        if (plot != null) {
            for (Path written : QualityPlots.write(plot, calibration, outcome.metrics())) {
                System.out.println("wrote " + written);
            }
            if (outcome.metrics().labels().size() > QualityPlots.MAX_CONFUSION_LABELS) {
                System.out.printf("no confusion matrix drawn: %d labels (at most %d)%n",
                        outcome.metrics().labels().size(), QualityPlots.MAX_CONFUSION_LABELS);
            }
        }
        if (json != null) {
            ObjectNode report = outcome.metrics().toJson();
            report.set("calibration", calibration.toJson());
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(json.toFile(), report);
        }
        return 0;
    }
}
