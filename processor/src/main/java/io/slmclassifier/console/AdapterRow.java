package io.slmclassifier.console;

import io.slmclassifier.avro.AdapterEvaluation;
import io.slmclassifier.avro.AdapterStatus;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * One adapter version as the adapters panel shows it.
 *
 * @param status the version's state after its events and the commands that touched it (ACTIVE for the one
 *     serving, REJECTED by the evaluation gate, ROLLED_BACK, ERROR when it could not be loaded, CANDIDATE)
 * @param metrics evaluation figures, e.g. {@code macro_f1}, {@code accuracy}
 * @param created when the version was first published (its first event); labels given after the newest version's
 *     {@code created} are the ones no adapter has learnt from yet
 * @param message human-readable detail, e.g. why it was rejected; may be null
 * @param evaluation what the trainer measured on the validation split (confusion, reliability, coverage); null when
 *     it published none
 */
public record AdapterRow(long version, AdapterStatus status, Map<String, Double> metrics, Instant created,
        String message, AdapterEvaluation evaluation) {

    public AdapterRow {
        Objects.requireNonNull(status, "status");
        metrics = metrics == null ? Map.of() : Map.copyOf(metrics);
    }
}
