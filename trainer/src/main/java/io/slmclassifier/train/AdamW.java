package io.slmclassifier.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import io.slmclassifier.model.TorchProgram;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW exactly as {@code torch.optim.AdamW} computes it (decoupled weight decay, bias corrections folded into
 * the step size and the denominator), with global grad-norm clipping as {@code clip_grad_norm_}. DJL's own
 * optimizer works on Blocks and clips element-wise only; the update runs as a TorchScript program
 * ({@code adamw.py}) of multi-tensor kernels, one engine call per step.
 */
public final class AdamW implements AutoCloseable {
    private final List<NDArray> parameters;
    private final NDManager manager;
    private final TorchProgram program;
    private final List<NDArray> m = new ArrayList<>();
    private final List<NDArray> v = new ArrayList<>();
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private int step;

    public AdamW(List<NDArray> parameters, NDManager parent, double beta1, double beta2, double eps, double weightDecay) {
        this.parameters = parameters;
        this.manager = parent.newSubManager();
        for (NDArray p : parameters) {
            m.add(manager.zeros(p.getShape(), p.getDataType(), p.getDevice()));
            v.add(manager.zeros(p.getShape(), p.getDataType(), p.getDevice()));
        }
        this.program = TorchProgram.load(manager, AdamW.class, "adamw.py", List.of());
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** Scales all gradients so their global L2 norm is at most {@code maxNorm}; returns the norm before. */
    public double clipGradNorm(double maxNorm) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager scope = manager.newSubManager()) {
            IValue norm = program.call("clip", TorchProgram.list(gradients(scope)), IValue.from(maxNorm));
            float value = norm.toTensor((PtNDManager) scope).getFloat();
            norm.close();
            return value;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /** One update with learning rate {@code lr}; gradients are zeroed afterwards. */
    public void step(double lr) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        step++;
        double stepSize = lr / (1 - Math.pow(beta1, step));
        double bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
        try (NDManager scope = manager.newSubManager()) {
            program.run("step", TorchProgram.list(parameters), TorchProgram.list(gradients(scope)), TorchProgram.list(m),
                    TorchProgram.list(v), IValue.from(lr), IValue.from(beta1), IValue.from(beta2), IValue.from(eps),
                    IValue.from(weightDecay), IValue.from(stepSize), IValue.from(bias2Sqrt));
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /** The gradient tensors themselves (not copies): the program scales and zeroes them in place. */
    private List<NDArray> gradients(NDManager scope) {
        List<NDArray> grads = new ArrayList<>(parameters.size());
        for (NDArray p : parameters) {
            NDArray g = p.getGradient();
            g.attach(scope);
            grads.add(g);
        }
        return grads;
    }

    @Override
    public void close() {
        program.close();
        manager.close();
    }
}
