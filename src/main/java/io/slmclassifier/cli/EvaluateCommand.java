package io.slmclassifier.cli;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.train.LabeledData;
import io.slmclassifier.train.Calibration;
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


    @Option(names = "--model", required = true, description = ModelOptions.DESCRIPTION) String model;
    @Option(names = "--task", required = true, description = "Task file (YAML or JSON).") Path task;
    @Option(names = "--adapter", description = "PEFT LoRA adapter directory.") Path adapter;
    @Option(names = "--data", required = true, description = "JSON lines {text, label} or CSV text,label.") Path data;
    @Option(names = "--json", description = "Also write the metrics as JSON to this file.") Path json;
    @Option(names = "--plot", description = "Write the reliability diagram and accuracy against coverage, before and "
            + "after temperature scaling, as PNG and SVG into this directory.") Path plot;
    @Option(names = "--device", defaultValue = "auto", description = "cpu, gpu or auto (default: ${DEFAULT-VALUE}).")
    String device;
    @Option(names = "--batch-size", defaultValue = "32", description = "Most examples per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Override
    public Integer call() throws Exception {
        Task t = Task.load(task);
        LabeledData examples = TrainCommand.usable(LabeledData.read(data, t), "evaluation", System.err);
        Device d = TorchRuntime.device(device);
        try (LanguageModel lm = LanguageModel.load(ModelResolver.fromEnvironment().resolve(model), d, null);
                LoraAdapter loaded = adapter == null ? null : lm.loadAdapter(adapter)) {
            ModelEvaluation.Outcome outcome = ModelEvaluation.classify(lm, t, loaded, examples.examples(), batchSize);
            Calibration.Report calibration = outcome.calibration();
            System.out.print(outcome.metrics().toTable());
            System.out.print(calibration.toTable());
            if (plot != null) {
                for (Path written : io.slmclassifier.train.CalibrationPlots.write(plot, calibration)) {
                    System.out.println("wrote " + written);
                }
            }
            if (json != null) {
                ObjectNode report = outcome.metrics().toJson();
                report.set("calibration", calibration.toJson());
                new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(json.toFile(), report);
            }
        }
        return 0;
    }
}
