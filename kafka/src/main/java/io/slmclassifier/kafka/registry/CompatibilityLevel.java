package io.slmclassifier.kafka.registry;

/**
 * Compatibility rules of the Confluent protocol. BACKWARD (the default everywhere) means consumers using the new
 * schema can read data written with the previous one; the _TRANSITIVE forms check against all earlier versions.
 */
public enum CompatibilityLevel {
    NONE,
    BACKWARD,
    BACKWARD_TRANSITIVE,
    FORWARD,
    FORWARD_TRANSITIVE,
    FULL,
    FULL_TRANSITIVE;

    boolean checksBackward() {
        return this == BACKWARD || this == BACKWARD_TRANSITIVE || this == FULL || this == FULL_TRANSITIVE;
    }

    boolean checksForward() {
        return this == FORWARD || this == FORWARD_TRANSITIVE || this == FULL || this == FULL_TRANSITIVE;
    }

    boolean isTransitive() {
        return name().endsWith("_TRANSITIVE");
    }
}
