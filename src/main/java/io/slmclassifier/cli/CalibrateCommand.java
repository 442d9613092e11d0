package io.slmclassifier.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.train.Calibration;
import io.slmclassifier.train.LabeledData;
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

    @Option(names = "--model", required = true, description = ModelOptions.DESCRIPTION) String model;
    @Option(names = "--task", required = true, description = "Task file (YAML or JSON).") Path task;
    @Option(names = "--adapter", description = "PEFT LoRA adapter directory (default: the base model).") Path adapter;
    @Option(names = "--data", required = true, description = "Labeled examples the model has not trained on: JSON lines "
            + "{text, label} or CSV text,label.") Path data;
    @Option(names = "--output", description = "Also write calibration.json here: the temperature and the figures "
            + "before and after it.") Path output;
    @Option(names = "--device", defaultValue = "auto", description = "cpu, gpu or auto (default: ${DEFAULT-VALUE}).")
    String device;
    @Option(names = "--batch-size", defaultValue = "32", description = "Most examples per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Override
    public Integer call() throws Exception {
        Task t = Task.load(task);
        LabeledData examples = TrainCommand.usable(LabeledData.read(data, t), "calibration", System.err);
        try (LanguageModel lm = LanguageModel.load(ModelResolver.fromEnvironment().resolve(model),
                TorchRuntime.device(device), null);
                LoraAdapter loaded = adapter == null ? null : lm.loadAdapter(adapter)) {
            ModelEvaluation.Outcome outcome = ModelEvaluation.classify(lm, t, loaded, examples.examples(), batchSize);
            Calibration.Report report = outcome.calibration();
            Calibration before = report.reported();
            Calibration after = report.scaled();
            System.out.printf("%d examples: ECE %.4f -> %.4f, NLL %.4f -> %.4f, Brier %.4f -> %.4f%n",
                    examples.examples().size(), before.ece(), after.ece(), before.nll(), after.nll(), before.brier(),
                    after.brier());
            boolean atBound = !Calibration.fittedInside(after.temperature());
            if (atBound) {
                System.out.printf("The fit ended at its bound (T = %.3f): these examples cannot calibrate this model "
                        + "(no errors among them, or too few). Use more, harder examples.%n", after.temperature());
            } else {
                System.out.printf("calibration.temperature=%.6f%n", after.temperature());
            }
            if (output != null) {
                new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(output.toFile(),
                        report.summary(examples.examples().size()));
            }
            return atBound ? 1 : 0;
        }
    }
}
