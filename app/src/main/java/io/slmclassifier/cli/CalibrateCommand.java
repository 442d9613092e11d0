package io.slmclassifier.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.train.ModelEvaluation;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The temperature of a model (the base model, or one adapter) fitted on labeled examples, for a processor to
 * divide its logits by ({@code calibration.temperature}); adapter versions from the trainer carry their own.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
        description = "Fit a calibration temperature on labeled examples and print the processor setting.")
public final class CalibrateCommand implements Callable<Integer> {
    @Mixin
    LogOptions logging;

    @Mixin
    EvaluationOptions evaluation;

    @Option(names = "--output", description = "Also write calibration.json here: the temperature and the figures "
            + "before and after it.") Path output;

    @Override
    public Integer call() throws Exception {
        ModelEvaluation.Outcome outcome = evaluation.classify();
        int examples = outcome.truth().length;
        Calibration.Report report = outcome.calibration();
        Calibration before = report.reported();
        Calibration after = report.scaled();
        System.out.printf("%d examples: ECE %.4f -> %.4f, NLL %.4f -> %.4f, Brier %.4f -> %.4f%n", examples,
                before.ece(), after.ece(), before.nll(), after.nll(), before.brier(), after.brier());
        boolean atBound = !Calibration.fittedInside(after.temperature());
        if (atBound) {
            System.out.printf("The fit ended at its bound (T = %.3f): these examples cannot calibrate this model "
                    + "(its logits do not tell the labels apart on them). Use more, harder examples.%n", after.temperature());
        } else {
            System.out.printf("calibration.temperature=%.6f%n", after.temperature());
        }
        if (output != null) {
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(output.toFile(), report.summary(examples));
        }
        return atBound ? 1 : 0;
    }
}
