package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import io.slmclassifier.Fixtures;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.LoraConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code bench --resident-adapters}: what each resident adapter holds, and no GPU reading on a CPU. */
class ResidentAdaptersTest {

    @Test
    void eachAdapterHoldsItsRank16TensorsOfAllSevenProjectionsInTheComputeType() throws Exception {
        List<Task> tasks = TasksBenchmark.tasks(List.of(Fixtures.task("radr-intents"), Fixtures.task("emotion")), 3);
        try (LanguageModel model = LanguageModel.load(Fixtures.model("qwen3-tiny"), Device.cpu(), null)) {
            ResidentAdapters.Result r = ResidentAdapters.measure(model, tasks, () -> {
                throw new AssertionError("no GPU reading on a CPU");
            });
            assertEquals(3, r.adapters());
            // As the decoder holds it: B of q/k/v and of gate/up block-diagonal, zero blocks included.
            long numbers = LoraAdapter.servedParameterCount(LoraConfig.defaults(model.id()), model.weights().config);
            assertEquals(numbers * 4, r.bytesPerAdapter(), "float32 on a CPU: four bytes per number");
            assertEquals(-1, r.gpuMbBefore());
            assertEquals(-1, r.gpuMbAfter());
        }
    }
}
