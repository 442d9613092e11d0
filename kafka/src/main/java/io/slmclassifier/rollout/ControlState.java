package io.slmclassifier.rollout;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
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
 *   <li>serving = the pinned version, else the highest ACTIVE version not rolled back and not waiting, else the base
 *       model;</li>
 *   <li>ROLLBACK with a version: serve that version (0 is the base model) by rolling back every newer one;
 *       without: roll back the serving version. Either clears a pin, and holds the lineage: versions published
 *       after the rollback (numbered above every version it knew) are kept but WAITING, not served, because a
 *       rollback is an operator's decision that the trainer's next candidate must not undo on its own;</li>
 *   <li>PIN v: serve v whatever comes after, until UNPIN; it ends a hold (the operator chose what serves).</li>
 *   <li>UNPIN: clears the pin and ends a hold ({@code adapter resume} sends it): the newest ACTIVE version not
 *       rolled back serves again, a waiting one included;</li>
 *   <li>TRAIN asks the trainer for a run now.</li>
 *   <li>Each record counts once, in its issuer's order: one with a {@code sequence} is refused when a record of the
 *       same {@code issuer} with the same or a higher sequence was applied before (a genuine record written again,
 *       or one overtaken by its issuer's newer one); one without a sequence (written before sequences existed) is
 *       refused once any record with one was applied, because after that it can only be a copy. A refused record
 *       changes nothing, so a replayed {@code rollback} or {@code pin} is not applied a second time.</li>
 * </ul>
 * ERROR events report that one processor could not load a version; they do not change what the others serve.
 * The rules depend only on the records and their order, so a replica of the applied records folds to the same state.
 *
 * <p>A state {@linkplain #forTask for one task} folds that task's control topic alone, and refuses, before any rule
 * above, what belongs to another task's lineage: an event whose {@code task_name} is another task's, or a command
 * whose {@code task} is. A command without {@code task} (from a CLI older than several tasks) applies to the lineage
 * of the topic it is on. A state for no task in particular ({@code new ControlState()}, the single task) applies
 * records of any task, as before.
 */
public final class ControlState {
    /** A version as people see it. */
    public enum Status { SERVING, ACTIVE, ROLLED_BACK, REJECTED, CANDIDATE, WAITING }

    /**
     * A lineage held by a rollback: versions above {@code newestAtRollback} wait for an operator's UNPIN or PIN.
     *
     * @param since the rollback's time, as its command says
     * @param by who asked for the rollback
     */
    public record Hold(long newestAtRollback, Instant since, String by) {}

    private final TreeMap<Long, AdapterEvent> versions = new TreeMap<>();
    private final Set<Long> rolledBack = new HashSet<>();
    private final Map<Long, Map<String, String>> errors = new TreeMap<>();
    private final List<AdapterCommand> commands = new ArrayList<>();
    private Long pinned;
    private Hold hold;
    private long lastTrainRequestMillis;
    /** Issuer -> the highest sequence applied from it. */
    private final Map<String, Long> lastSequence = new HashMap<>();
    /** Nonce -> the record it was applied from, to name a replay as such. */
    private final Map<String, String> appliedNonces = new HashMap<>();
    /** The task whose lineage this is; null when records of any task apply. */
    private final String task;

    /** The state of a control topic whose records apply whatever task they name (the single task). */
    public ControlState() {
        this(null);
    }

    private ControlState(String task) {
        this.task = task;
    }

    /** The state of the control topic of the task {@code name}: records of another task are refused. */
    public static ControlState forTask(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a task's control state needs the task's name");
        }
        return new ControlState(name);
    }

    /** The task whose lineage this state folds; empty when it applies records of any task. */
    public Optional<String> task() {
        return Optional.ofNullable(task);
    }

    public ControlState copy() {
        ControlState c = new ControlState(task);
        c.versions.putAll(versions);
        c.rolledBack.addAll(rolledBack);
        errors.forEach((v, m) -> c.errors.put(v, new LinkedHashMap<>(m)));
        c.commands.addAll(commands);
        c.pinned = pinned;
        c.hold = hold;
        c.lastTrainRequestMillis = lastTrainRequestMillis;
        c.lastSequence.putAll(lastSequence);
        c.appliedNonces.putAll(appliedNonces);
        return c;
    }

    /** Folds one record in; returns why it was refused (then nothing changed), or empty when it was applied. */
    public Optional<String> apply(SpecificRecord record) {
        Origin origin = Origin.of(record);
        if (origin == null) {
            return Optional.of("not a control record");
        }
        Optional<String> refusal = otherTask(record).or(() -> refusal(origin));
        if (refusal.isPresent()) {
            return refusal;
        }
        if (origin.sequence() != null) {
            lastSequence.put(origin.issuer(), origin.sequence());
            if (origin.nonce() != null) {
                appliedNonces.put(origin.nonce(), origin.issuer() + " #" + origin.sequence());
            }
        }
        if (record instanceof AdapterEvent e) {
            apply(e);
        } else {
            apply((AdapterCommand) record);
        }
        return Optional.empty();
    }

    /** Why the record belongs to another task's lineage; empty when it is this one's (or any task applies). */
    private Optional<String> otherTask(SpecificRecord record) {
        if (task == null) {
            return Optional.empty();
        }
        if (record instanceof AdapterEvent e && !task.equals(e.getTaskName())) {
            return Optional.of("an event of task '" + e.getTaskName() + "' (version " + e.getVersion()
                    + ") on the control topic of task '" + task + "'");
        }
        if (record instanceof AdapterCommand c && c.getTask() != null && !task.equals(c.getTask())) {
            return Optional.of("a " + c.getCommand() + " command for task '" + c.getTask()
                    + "' on the control topic of task '" + task + "'");
        }
        return Optional.empty();
    }

    private Optional<String> refusal(Origin origin) {
        if (origin.sequence() == null) {
            return lastSequence.isEmpty() ? Optional.empty()
                    : Optional.of("it has no sequence, and records with one were applied before: a copy of an old record");
        }
        if (origin.issuer() == null || origin.issuer().isBlank()) {
            return Optional.of("it has a sequence but no issuer");
        }
        if (origin.nonce() != null && appliedNonces.containsKey(origin.nonce())) {
            return Optional.of("a replay of the record with nonce " + origin.nonce() + " (" + appliedNonces.get(origin.nonce())
                    + "), applied before");
        }
        Long last = lastSequence.get(origin.issuer());
        if (last != null && origin.sequence() <= last) {
            return Optional.of("sequence " + origin.sequence() + " of " + origin.issuer()
                    + " is not above the last one applied from it (" + last + "): a replay or an overtaken record");
        }
        return Optional.empty();
    }

    /** The highest sequence applied from this issuer (0 when none): a writer's next record must be above it. */
    public long lastSequence(String issuer) {
        return lastSequence.getOrDefault(issuer, 0L);
    }

    /** Who wrote a record and its place in that writer's order, as the record itself says (signed with it). */
    record Origin(String issuer, Long sequence, String nonce) {
        static Origin of(SpecificRecord record) {
            if (record instanceof AdapterEvent e) {
                return new Origin(e.getIssuer(), e.getSequence(), e.getNonce());
            }
            if (record instanceof AdapterCommand c) {
                return new Origin(c.getIssuer(), c.getSequence(), c.getNonce());
            }
            return null;
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
                    hold = null;
                }
            }
            case UNPIN -> {
                pinned = null;
                hold = null;
            }
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
                hold = new Hold(versions.isEmpty() ? 0 : versions.lastKey(), c.getRequestedAt(), c.getRequestedBy());
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
            if (servable(v) && !rolledBack.contains(v) && !waiting(v)) {
                return OptionalLong.of(v);
            }
        }
        return OptionalLong.empty();
    }

    public OptionalLong pinned() {
        return pinned == null ? OptionalLong.empty() : OptionalLong.of(pinned);
    }

    /** The hold of the last rollback, until an UNPIN or PIN ends it. */
    public Optional<Hold> hold() {
        return Optional.ofNullable(hold);
    }

    /** The ACTIVE versions published since the hold began, oldest first: what an UNPIN would let serve. */
    public List<Long> waiting() {
        return versions.keySet().stream().filter(v -> servable(v) && !rolledBack.contains(v) && waiting(v)).toList();
    }

    private boolean waiting(long version) {
        return hold != null && version > hold.newestAtRollback();
    }

    /** The hold in a line, e.g. "held since the rollback at 2026-12-07T06:10:00Z by ops; waiting: v8, v9". */
    public Optional<String> describeHold() {
        if (hold == null) {
            return Optional.empty();
        }
        List<Long> waiting = waiting();
        return Optional.of("held since the rollback at " + hold.since().truncatedTo(ChronoUnit.SECONDS)
                + (hold.by() == null ? "" : " by " + hold.by()) + "; waiting: "
                + (waiting.isEmpty() ? "none yet" : String.join(", ", waiting.stream().map(v -> "v" + v).toList())));
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
            case ACTIVE -> rolledBack.contains(version) ? Status.ROLLED_BACK
                    : waiting(version) ? Status.WAITING : Status.ACTIVE;
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
