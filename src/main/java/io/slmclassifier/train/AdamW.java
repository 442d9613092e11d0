package io.slmclassifier.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;

/**
 * AdamW exactly as {@code torch.optim.AdamW} computes it (decoupled weight decay, bias corrections folded into
 * the step size and the denominator), with global grad-norm clipping as {@code clip_grad_norm_}. DJL's own
 * optimizer works on Blocks and clips element-wise only, so the update is written out here.
 */
public final class AdamW implements AutoCloseable {
    private final List<NDArray> parameters;
    private final NDManager manager;
    private final NDArray[] m;
    private final NDArray[] v;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private int step;

    public AdamW(List<NDArray> parameters, NDManager parent, double beta1, double beta2, double eps, double weightDecay) {
        this.parameters = parameters;
        this.manager = parent.newSubManager();
        this.m = new NDArray[parameters.size()];
        this.v = new NDArray[parameters.size()];
        for (int i = 0; i < parameters.size(); i++) {
            m[i] = manager.zeros(parameters.get(i).getShape(), parameters.get(i).getDataType(), parameters.get(i).getDevice());
            v[i] = manager.zeros(parameters.get(i).getShape(), parameters.get(i).getDataType(), parameters.get(i).getDevice());
        }
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
            double sumSquares = 0;
            NDArray[] grads = gradients(scope);
            for (NDArray g : grads) {
                sumSquares += g.square().sum().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
            }
            double norm = Math.sqrt(sumSquares);
            double coefficient = maxNorm / (norm + 1e-6);
            if (coefficient < 1) {
                for (NDArray g : grads) {
                    g.muli((float) coefficient);
                }
            }
            return norm;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /** One update with learning rate {@code lr}; gradients are zeroed afterwards. */
    public void step(double lr) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        step++;
        double bias1 = 1 - Math.pow(beta1, step);
        double bias2 = 1 - Math.pow(beta2, step);
        double stepSize = lr / bias1;
        try (NDManager scope = manager.newSubManager()) {
            NDArray[] grads = gradients(scope);
            for (int i = 0; i < parameters.size(); i++) {
                NDArray p = parameters.get(i);
                NDArray g = grads[i];
                if (weightDecay != 0) {
                    p.muli((float) (1 - lr * weightDecay));
                }
                m[i].muli((float) beta1).addi(g.mul((float) (1 - beta1)));
                v[i].muli((float) beta2).addi(g.square().mul((float) (1 - beta2)));
                // Results belong to their first operand's manager: keep temporaries of the long-lived state in scope.
                NDArray sqrtV = v[i].sqrt();
                sqrtV.attach(scope);
                NDArray denominator = sqrtV.div((float) Math.sqrt(bias2)).add((float) eps);
                NDArray update = m[i].div(denominator);
                update.attach(scope);
                p.subi(update.muli((float) stepSize));
                JniUtils.zeroGrad((PtNDArray) p);
            }
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    private NDArray[] gradients(NDManager scope) {
        NDArray[] grads = new NDArray[parameters.size()];
        for (int i = 0; i < grads.length; i++) {
            grads[i] = parameters.get(i).getGradient();
            grads[i].attach(scope);
        }
        return grads;
    }

    @Override
    public void close() {
        manager.close();
    }
}
