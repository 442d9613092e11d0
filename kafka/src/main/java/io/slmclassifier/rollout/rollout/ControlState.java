package io.slmclassifier.rollout;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import org.apache.avro.specific.SpecificRecord;

/**
 * What the control topic says, folded in log order: every adapter version with its latest event, which were
 * rolled back, the pin, and error reports. Every processor folds the same log the same way, so all of them agree
 * on the version to serve without talking to each other:
 * <ul>
 *   <li>serving = the pinned version, else the highest ACTIVE version not rolled back, else the base model;</li>
 *   <li>ROLLBACK with a version: serve that version (0 is the base model) by rolling back every newer one;
 *       without: roll back the serving version. Either clears a pin;</li>
 *   <li>PIN v: serve v whatever comes after, until UNPIN; TRAIN asks the trainer for a run now.</li>
 * </ul>
 * ERROR events report that one processor could not load a version; they do not change what the others serve.
 */
public final class ControlState {
    /** A version as people see it. */
    public enum Status { SERVING, ACTIVE, ROLLED_BACK, REJECTED, CANDIDATE }

    private final TreeMap<Long, AdapterEvent> versions = new TreeMap<>();
    private final Set<Long> rolledBack = new HashSet<>();
    private final Map<Long, Map<String, String>> errors = new TreeMap<>();
    private final List<AdapterCommand> commands = new ArrayList<>();
    private Long pinned;
    private long lastTrainRequestMillis;

    public ControlState copy() {
        ControlState c = new ControlState();
        c.versions.putAll(versions);
        c.rolledBack.addAll(rolledBack);
        errors.forEach((v, m) -> c.errors.put(v, new LinkedHashMap<>(m)));
        c.commands.addAll(commands);
        c.pinned = pinned;
        c.lastTrainRequestMillis = lastTrainRequestMillis;
        return c;
    }

    public void apply(SpecificRecord record) {
        if (record instanceof AdapterEvent e) {
            apply(e);
        } else if (record instanceof AdapterCommand c) {
            apply(c);
        }
    }

    private void apply(AdapterEvent e) {
        if (e.getStatus() == AdapterStatus.ERROR) {
            errors.computeIfAbsent(e.getVersion(), v -> new LinkedHashMap<>())
                    .put(String.valueOf(e.getInstance()), String.valueOf(e.getMessage()));
            return;
        }
        versions.put(e.getVersion(), e);
    }

    private void apply(AdapterCommand c) {
        commands.add(c);
        switch (c.getCommand()) {
            case PIN -> {
                if (c.getVersion() != null && servable(c.getVersion())) {
                    pinned = c.getVersion();
                }
            }
            case UNPIN -> pinned = null;
            case ROLLBACK -> {
                long serving = serving().orElse(0);
                long target = c.getVersion() != null ? c.getVersion() : previousActive(serving);
                if (target != 0 && !servable(target)) {
                    return;
                }
                pinned = null;
                rolledBack.remove(target);
                for (long v : versions.tailMap(target, false).keySet()) {
                    rolledBack.add(v);
                }
            }
            case TRAIN -> lastTrainRequestMillis = Math.max(lastTrainRequestMillis, c.getRequestedAt().toEpochMilli());
        }
    }

    private boolean servable(long version) {
        AdapterEvent e = versions.get(version);
        return e != null && e.getStatus() == AdapterStatus.ACTIVE;
    }

    private long previousActive(long below) {
        for (Long v : versions.headMap(below, false).descendingKeySet()) {
            if (servable(v) && !rolledBack.contains(v)) {
                return v;
            }
        }
        return 0;
    }

    /** The version every processor should serve; empty for the base model alone. */
    public OptionalLong serving() {
        if (pinned != null) {
            return OptionalLong.of(pinned);
        }
        for (Long v : versions.descendingKeySet()) {
            if (servable(v) && !rolledBack.contains(v)) {
                return OptionalLong.of(v);
            }
        }
        return OptionalLong.empty();
    }

    public OptionalLong pinned() {
        return pinned == null ? OptionalLong.empty() : OptionalLong.of(pinned);
    }

    /** The highest version any event names (the next trained adapter gets one more). */
    public long highestVersion() {
        long highest = versions.isEmpty() ? 0 : versions.lastKey();
        return errors.isEmpty() ? highest : Math.max(highest, ((TreeMap<Long, ?>) errors).lastKey());
    }

    public Optional<AdapterEvent> event(long version) {
        return Optional.ofNullable(versions.get(version));
    }

    /** Every version's latest event, oldest first. */
    public List<AdapterEvent> events() {
        return List.copyOf(versions.values());
    }

    public Status status(long version) {
        AdapterEvent e = versions.get(version);
        if (e == null) {
            throw new IllegalArgumentException("unknown adapter version " + version);
        }
        if (serving().orElse(-1) == version) {
            return Status.SERVING;
        }
        return switch (e.getStatus()) {
            case ACTIVE -> rolledBack.contains(version) ? Status.ROLLED_BACK : Status.ACTIVE;
            case REJECTED -> Status.REJECTED;
            case ROLLED_BACK -> Status.ROLLED_BACK;
            default -> Status.CANDIDATE;
        };
    }

    /** Processor instance -> reason, for each instance that could not load the version. */
    public Map<String, String> errors(long version) {
        return errors.getOrDefault(version, Map.of());
    }

    /** The newest event time of the trainer's own events (0 when none). */
    public long lastTrainerEventMillis() {
        return versions.values().stream().mapToLong(e -> e.getCreatedAt().toEpochMilli()).max().orElse(0);
    }

    public long lastTrainRequestMillis() {
        return lastTrainRequestMillis;
    }

    public List<AdapterCommand> commands() {
        return List.copyOf(commands);
    }
}
