package io.slmclassifier.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.Fixtures;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.ModelFingerprint;
import io.slmclassifier.quality.Calibration;
import io.slmclassifier.quality.Metrics;
import io.slmclassifier.rollout.AdapterLineage;
import io.slmclassifier.rollout.EvaluationRecords;
import java.time.Instant;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** The publish step's decision and the event it writes, given a gate; storing and sending are the ITs' part. */
class AdapterPublicationTest {
    private static final Instant NOW = Instant.parse("2026-01-02T03:04:05Z");

    private static Task task() throws Exception {
        return Task.load(Fixtures.task("radr-intents"));
    }

    /** A candidate whose validation macro-F1 is about 0.21 (labels 0 and 1 always right, 2 never), with a given ECE. */
    private static CandidateRun.Candidate candidate(Task task, double servingF1, double servedEce) {
        int[] truth = {0, 1, 2, 0, 1, 2};
        int[] predicted = {0, 1, 0, 0, 1, 0};
        Metrics validation = Metrics.of(task.labels(), truth, predicted);
        float[][] logits = new float[truth.length][task.labels().size()];
        for (int i = 0; i < truth.length; i++) {
            logits[i][predicted[i]] = 2f;
        }
        Calibration.Report report = Calibration.Report.of(logits, truth);
        return new CandidateRun.Candidate(7, OptionalLong.of(6), validation, servingF1, servedEce, false,
                EvaluationRecords.toAvro(validation, report, false),
                Map.of("macro_f1", validation.macroF1(), CandidateRun.CUTOFF_METRIC, 1234.0), new byte[] {1, 2, 3});
    }

    @Test
    void aCandidateThatBeatsTheServingVersionIsAnnouncedActiveWhereItIsStored() throws Exception {
        Task task = task();
        QualityGate gate = TrainerConfig.of(Map.of("gate.max.ece", "0.2")).gate();
        CandidateRun.Candidate candidate = candidate(task, 0.10, 0.10);
        QualityGate.Verdict verdict = AdapterPublication.judge(gate, candidate);
        assertTrue(verdict.publish(), verdict.message());

        var lineage = new AdapterLineage("qwen3-tiny", "abc", task);
        AdapterEvent event = AdapterPublication.event(lineage, candidate, verdict, "kafka:adapters/0/5", NOW);
        assertEquals(AdapterStatus.ACTIVE, event.getStatus());
        assertEquals("kafka:adapters/0/5", event.getLocation());
        assertEquals(7, event.getVersion());
        assertEquals(6L, event.getParentVersion());
        assertEquals("qwen3-tiny", event.getBaseModelId());
        assertEquals("abc", event.getBaseModelSha256());
        assertEquals(task.name(), event.getTaskName());
        assertEquals(task.hash(), event.getTaskHash());
        assertEquals(ModelFingerprint.sha256(new byte[] {1, 2, 3}), event.getSha256(), "processors check the archive by it");
        assertEquals(3, event.getSizeBytes());
        assertEquals(1234.0, event.getMetrics().get(CandidateRun.CUTOFF_METRIC));
        assertEquals(candidate.evaluation(), event.getEvaluation());
        assertEquals(NOW, event.getCreatedAt());
        assertEquals(verdict.message(), event.getMessage());
    }

    @Test
    void aCandidateTheGateRefusesIsRecordedRejectedWithTheReasonAndNotStored() throws Exception {
        Task task = task();
        var lineage = new AdapterLineage("qwen3-tiny", "abc", task);
        QualityGate gate = TrainerConfig.of(Map.of("gate.max.ece", "0.05")).gate();

        QualityGate.Verdict notBetter = AdapterPublication.judge(gate, candidate(task, 0.70, 0.01));
        assertFalse(notBetter.publish());
        AdapterEvent rejected = AdapterPublication.event(lineage, candidate(task, 0.70, 0.01), notBetter, null, NOW);
        assertEquals(AdapterStatus.REJECTED, rejected.getStatus());
        assertNull(rejected.getLocation());
        assertTrue(rejected.getMessage().toString().contains("does not beat the serving 0.7000"), rejected.getMessage());
        assertEquals(1234.0, rejected.getMetrics().get(CandidateRun.CUTOFF_METRIC), "its examples count as seen");

        QualityGate.Verdict overconfident = AdapterPublication.judge(gate, candidate(task, 0.10, 0.12));
        assertFalse(overconfident.publish(), "the ECE the version would serve is what the ceiling checks");
        assertTrue(overconfident.message().contains("ECE 0.1200 is above gate.max.ece 0.0500"), overconfident.message());
    }

    @Test
    void aLocationGoesWithAPublishedVersionOnly() throws Exception {
        Task task = task();
        var lineage = new AdapterLineage("qwen3-tiny", "abc", task);
        CandidateRun.Candidate candidate = candidate(task, 0.10, 0.10);
        assertThrows(IllegalArgumentException.class, () -> AdapterPublication.event(lineage, candidate,
                new QualityGate.Verdict(true, "passes"), null, NOW));
        assertThrows(IllegalArgumentException.class, () -> AdapterPublication.event(lineage, candidate,
                new QualityGate.Verdict(false, "refused"), "file:v7.zip", NOW));
    }
}
