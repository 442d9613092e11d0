package io.slmclassifier.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

class QualityGateTest {

    @Test
    void withoutACeilingOnlyTheImprovementCounts() {
        QualityGate gate = TrainerConfig.of(Map.of()).gate();
        assertEquals(0.01, gate.minImprovement());
        assertTrue(gate.maxEce().isEmpty());
        assertTrue(gate.judge(0.90, 0.80, 0.40).publish(), "any ECE passes without gate.max.ece");
        QualityGate.Verdict close = gate.judge(0.805, 0.80, 0.01);
        assertFalse(close.publish());
        assertTrue(close.message().contains("does not beat the serving 0.8000 by 0.0100"), close.message());
    }

    @Test
    void aBetterButOverconfidentCandidateIsRejectedWithItsEce() {
        QualityGate gate = TrainerConfig.of(Map.of("gate.max.ece", "0.05")).gate();
        assertEquals(OptionalDouble.of(0.05), gate.maxEce());
        QualityGate.Verdict over = gate.judge(0.95, 0.80, 0.12);
        assertFalse(over.publish());
        assertTrue(over.message().contains("ECE 0.1200 is above gate.max.ece 0.0500"), over.message());
        QualityGate.Verdict within = gate.judge(0.95, 0.80, 0.05);
        assertTrue(within.publish(), within.message());
        assertTrue(within.message().contains("within 0.0500"), within.message());
        assertFalse(gate.judge(0.95, 0.80, Double.NaN).publish(), "an ECE that could not be measured does not pass");
    }

    @Test
    void aCeilingThatIsNoProbabilityIsAConfigurationError() {
        for (String bad : new String[] {"-0.1", "1.5", "low", "NaN"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> TrainerConfig.of(Map.of("gate.max.ece", bad)).maxEce(), bad);
            assertTrue(e.getMessage().contains("gate.max.ece"), e.getMessage());
        }
    }
}
