package io.slmclassifier.train;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.rollout.AdapterLineage;
import io.slmclassifier.rollout.AdapterStore;
import io.slmclassifier.rollout.ControlLog;
import java.io.IOException;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last step of a run: the quality gate judges the candidate against the serving version; a candidate that
 * passes is stored and announced ACTIVE on the control topic, any other is recorded there as REJECTED with its
 * metrics (so the schedule counts its examples as seen, and people see why). {@link #event} is the decision alone,
 * without the store or the broker.
 */
public final class AdapterPublication {
    private static final Logger log = LoggerFactory.getLogger(AdapterPublication.class);

    private final QualityGate gate;
    private final AdapterLineage lineage;
    private final AdapterStore store;
    private final ControlLog control;

    public AdapterPublication(QualityGate gate, AdapterLineage lineage, AdapterStore store, ControlLog control) {
        this.gate = gate;
        this.lineage = lineage;
        this.store = store;
        this.control = control;
    }

    /** Judges, stores when it passes, and writes the event; returns the event written. */
    public AdapterEvent publish(CandidateRun.Candidate candidate) throws IOException {
        QualityGate.Verdict verdict = judge(gate, candidate);
        Instant judgedAt = Instant.now(); // the event's time is the verdict's, not the end of a slow upload
        String location = verdict.publish() ? store.put(candidate.version(), candidate.archive()) : null;
        AdapterEvent event = event(lineage, candidate, verdict, location, judgedAt);
        control.publish(event);
        if (verdict.publish()) {
            log.info("Published version {} ({}) to {}", candidate.version(), verdict.message(), location);
        } else {
            log.info("Rejected candidate {}: {}", candidate.version(), verdict.message());
        }
        return event;
    }

    /** The gate's verdict on the candidate: its macro-F1 against the serving version's, and the ECE it would serve. */
    public static QualityGate.Verdict judge(QualityGate gate, CandidateRun.Candidate candidate) {
        return gate.judge(candidate.validation().macroF1(), candidate.servingMacroF1(), candidate.servedEce());
    }

    /**
     * The candidate's event: ACTIVE at {@code location} when the verdict publishes it, REJECTED (no location)
     * otherwise; the verdict's sentence is its message.
     */
    public static AdapterEvent event(AdapterLineage lineage, CandidateRun.Candidate candidate,
            QualityGate.Verdict verdict, String location, Instant createdAt) {
        if (verdict.publish() == (location == null)) {
            throw new IllegalArgumentException("a published version has a location, a rejected one none");
        }
        AdapterEvent.Builder event = lineage.event(candidate.version(), candidate.archive(), createdAt)
                .setParentVersion(candidate.parent().isPresent() ? candidate.parent().getAsLong() : null)
                .setMetrics(candidate.metrics()).setEvaluation(candidate.evaluation()).setMessage(verdict.message());
        return verdict.publish() ? event.setStatus(AdapterStatus.ACTIVE).setLocation(location).build()
                : event.setStatus(AdapterStatus.REJECTED).build();
    }
}
