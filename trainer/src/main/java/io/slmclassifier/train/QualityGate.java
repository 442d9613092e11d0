package io.slmclassifier.train;

import java.util.OptionalDouble;

/**
 * Whether a candidate version is published: its validation macro-F1 must beat the serving version's by a margin
 * and, when a ceiling is set, the calibration error of the probabilities it would serve must stay under it (a
 * version that classifies better but whose confidence cannot be trusted would break every abstention threshold
 * set on the one before).
 *
 * @param minImprovement {@code gate.min.improvement}
 * @param maxEce {@code gate.max.ece}, when set
 * @see TrainerConfig#gate()
 */
public record QualityGate(double minImprovement, OptionalDouble maxEce) {

    /** The decision, and the sentence for the version's event. */
    public record Verdict(boolean publish, String message) {}

    /**
     * @param servedEce the candidate's ECE on the validation split, after its temperature when it has one
     */
    public Verdict judge(double candidateF1, double servingF1, double servedEce) {
        if (candidateF1 < servingF1 + minImprovement) {
            return new Verdict(false, String.format("macro-F1 %.4f does not beat the serving %.4f by %.4f",
                    candidateF1, servingF1, minImprovement));
        }
        if (maxEce.isPresent() && !(servedEce <= maxEce.getAsDouble())) {
            return new Verdict(false, String.format("macro-F1 %.4f beats the serving %.4f, but its validation ECE "
                    + "%.4f is above gate.max.ece %.4f", candidateF1, servingF1, servedEce, maxEce.getAsDouble()));
        }
        return new Verdict(true, String.format("macro-F1 %.4f beats the serving %.4f by at least %.4f", candidateF1,
                servingF1, minImprovement) + (maxEce.isPresent()
                        ? String.format("; validation ECE %.4f within %.4f", servedEce, maxEce.getAsDouble()) : ""));
    }
}
