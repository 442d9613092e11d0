package io.slmclassifier.cli;

import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.train.LabeledData;
import io.slmclassifier.train.ModelEvaluation;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** A model (and optionally an adapter) run over labeled examples: what {@code evaluate} and {@code calibrate} share. */
final class EvaluationOptions {
    @Option(names = "--model", required = true, description = ModelOptions.DESCRIPTION) String model;
    @Option(names = "--task", required = true, description = "Task file (YAML or JSON).") Path task;
    @Option(names = "--adapter", description = "PEFT LoRA adapter directory (default: the base model alone).") Path adapter;
    @Option(names = "--data", required = true, description = "Labeled examples: JSON lines {text, label} or CSV text,label.")
    Path data;
    @Option(names = "--device", defaultValue = "auto", description = "cpu, gpu, gpu:N or auto (default: ${DEFAULT-VALUE}).")
    String device;
    @Option(names = "--batch-size", defaultValue = "32", description = "Most examples per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    /** Classifies every usable example; the skipped ones are reported on stderr. */
    ModelEvaluation.Outcome classify() throws Exception {
        Task t = Task.load(task);
        LabeledData examples = TrainCommand.usable(LabeledData.read(data, t), "labeled", System.err);
        try (LanguageModel lm = LanguageModel.load(ModelResolver.fromEnvironment().resolve(model),
                TorchRuntime.device(device), null);
                LoraAdapter loaded = adapter == null ? null : lm.loadAdapter(adapter)) {
            return ModelEvaluation.classify(lm, t, loaded, examples.examples(), batchSize);
        }
    }
}
