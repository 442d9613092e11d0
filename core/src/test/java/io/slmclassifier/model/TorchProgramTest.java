package io.slmclassifier.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What {@link TorchProgram} needs of the PyTorch engine beyond DJL's public API, checked against the DJL on the
 * class path: when an upgrade moves the package-private method call it reaches by reflection, the first test
 * fails naming what moved, and the second shows training's gradient path is cut.
 */
class TorchProgramTest {
    /** sum(w * x) * scale, with w given as it is or as a held object (what a prepared adapter is to the decoder). */
    private static final String PROGRAM = """
            class Weights:
              # A held object (what a prepared adapter is to the decoder): made by one call, read by later ones.
              w : Tensor

              def __init__(self, w: Tensor):
                self.w = w


            class Model(Module):
              __parameters__ = []
              __buffers__ = []
              training : bool
              # An attribute the archive creates None (TorchScriptArchive), as the decoder's model is.
              last : Optional[Tensor]

              def forward(self, w: Tensor, x: Tensor, scale: float) -> Tensor:
                return (w * x).sum() * scale

              def weights(self, w: Tensor) -> __torch__.Weights:
                return __torch__.Weights(w * 2.)

              def forward_held(self, weights: __torch__.Weights, x: Tensor) -> Tensor:
                return (weights.w * x).sum()
            """;

    @Test
    void theEnginesMethodCallWithGradientsIsWhereThisDjlHasIt() {
        assertNull(TorchProgram.Engine.MISSING, TorchProgram.Engine.MISSING);
    }

    @Test
    void aCallInsideAGradientCollectorKeepsTheGradientPathToItsArguments() {
        try (NDManager manager = TorchRuntime.engine().newBaseManager();
                TorchProgram program = load(manager)) {
            NDArray w = manager.create(new float[] {1, 2, 3});
            NDArray x = manager.create(new float[] {4, 5, 6});
            w.setRequiresGradient(true);
            try (GradientCollector collector = TorchRuntime.engine().newGradientCollector()) {
                IValue result = program.call("forward", TorchProgram.tensor(w), TorchProgram.tensor(x),
                        IValue.from(2.0));
                NDArray sum = result.toTensor((PtNDManager) manager);
                result.close();
                assertEquals(64f, sum.getFloat());
                collector.backward(sum);
            }
            // d/dw of 2 * sum(w * x) is 2x.
            assertArrayEquals(new float[] {8, 10, 12}, w.getGradient().toFloatArray());
        }
    }

    @Test
    void outsideACollectorNothingIsRecorded() {
        try (NDManager manager = TorchRuntime.engine().newBaseManager();
                TorchProgram program = load(manager)) {
            NDArray w = manager.create(new float[] {1, 2, 3});
            w.setRequiresGradient(true);
            IValue result = program.call("forward", TorchProgram.tensor(w), TorchProgram.tensor(w), IValue.from(1.0));
            NDArray sum = result.toTensor((PtNDManager) manager);
            result.close();
            assertEquals(14f, sum.getFloat());
            assertFalse(JniUtils.requiresGrad((PtNDArray) sum), "DJL's public call runs under a no-grad guard");
        }
    }

    @Test
    void aHeldValueIsPassedToManyCallsAndFreedOnlyWhenReleased() {
        try (NDManager manager = TorchRuntime.engine().newBaseManager();
                TorchProgram program = load(manager)) {
            NDArray w = manager.create(new float[] {1, 2});
            IValue weights = program.hold(program.call("weights", TorchProgram.tensor(w)));
            for (int call = 0; call < 3; call++) {
                IValue result = program.call("forward_held", weights,
                        TorchProgram.tensor(manager.create(new float[] {1, 1})));
                assertEquals(6f, result.toTensor((PtNDManager) manager).getFloat(), "call " + call);
                result.close();
            }
            program.release(weights);
            assertTrue(weights.isReleased(), "released");
        }
    }

    private static TorchProgram load(NDManager manager) {
        return TorchProgram.fromSource(manager, PROGRAM, List.of("last"));
    }
}
