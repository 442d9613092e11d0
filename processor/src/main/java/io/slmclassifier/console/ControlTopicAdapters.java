package io.slmclassifier.console;

import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.rollout.ControlLog;
import io.slmclassifier.rollout.ControlState;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The adapters panel over the control topic: the versions as the processor's own {@link ControlLog} has folded
 * them (from memory, never waiting on Kafka), and commands written to the topic like the {@code adapter}
 * command writes them, checked the same way.
 */
public final class ControlTopicAdapters implements AdapterControl {
    private final ControlLog control;

    public ControlTopicAdapters(ControlLog control) {
        this.control = control;
    }

    @Override
    public List<AdapterRow> versions() {
        ControlState state = control.state();
        List<AdapterRow> rows = new ArrayList<>();
        for (AdapterEvent e : state.events()) {
            ControlState.Status status = state.status(e.getVersion());
            String message = e.getMessage();
            AdapterStatus shown = switch (status) {
                case SERVING, ACTIVE -> AdapterStatus.ACTIVE;
                case ROLLED_BACK -> AdapterStatus.ROLLED_BACK;
                case REJECTED -> AdapterStatus.REJECTED;
                // Kept but not served while a rollback holds the lineage: the hold line names them.
                case CANDIDATE, WAITING -> AdapterStatus.CANDIDATE;
            };
            if (status != ControlState.Status.SERVING && !state.errors(e.getVersion()).isEmpty()) {
                shown = AdapterStatus.ERROR;
                message = String.join("; ", state.errors(e.getVersion()).values());
            }
            rows.add(new AdapterRow(e.getVersion(), shown, e.getMetrics(), e.getCreatedAt(), message, e.getEvaluation()));
        }
        return rows;
    }

    @Override
    public OptionalLong serving() {
        return control.state().serving();
    }

    @Override
    public OptionalLong pinned() {
        return control.state().pinned();
    }

    @Override
    public Optional<String> hold() {
        return control.state().describeHold();
    }

    @Override
    public void send(AdapterCommandType type, Long version, String requestedBy) throws Exception {
        control.command(type, version, requestedBy);
    }
}
