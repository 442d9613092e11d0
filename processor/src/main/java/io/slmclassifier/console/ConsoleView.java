package io.slmclassifier.console;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.avro.AdapterEvaluation;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * What the page reads, as JSON: one task's live state (its results, figures, review queue, dead letters, feedback
 * counts) with the task's context around it: which tasks there are, whether the console is writable, the task's
 * topics, its adapter versions and the evaluations the quality panel draws, and which version serves now.
 *
 * <p>{@code /api/state} and the first event of a stream are a snapshot; the updates that follow are the same object
 * with only the results that are new since the last update. Nothing here writes or waits on Kafka: the adapter
 * control answers from memory.
 */
final class ConsoleView {
    /** Classifications in one snapshot or update; the page keeps about this many. */
    static final int RECENT_PER_EVENT = 50;

    /** The names of the console's tasks, for the page's selector. */
    private final List<String> taskNames;

    ConsoleView(List<String> taskNames) {
        this.taskNames = List.copyOf(taskNames);
    }

    /** Everything the page shows of a task, with the newest {@link #RECENT_PER_EVENT} results. */
    ObjectNode snapshot(ConsoleServer.Task task, LiveState state, long nowMillis) {
        return update(task, state, 0, nowMillis);
    }

    /** The same, with only the results after sequence number {@code afterSeq}. */
    ObjectNode update(ConsoleServer.Task task, LiveState state, long afterSeq, long nowMillis) {
        ObjectNode view = state.view(afterSeq, RECENT_PER_EVENT, nowMillis, servingNow(task.control(), state));
        return withContext(task, view);
    }

    /**
     * The version that serves now for the review queue's order: the control topic's word where there is adapter
     * control, else the adapter of the newest result; null while neither is known (or the control cannot say).
     */
    static LiveState.Serving servingNow(AdapterControl control, LiveState state) {
        if (control == null) {
            return state.anyClassification() ? new LiveState.Serving(state.latestAdapterVersion()) : null;
        }
        try {
            OptionalLong serving = control.serving();
            return new LiveState.Serving(serving.isPresent() ? serving.getAsLong() : null);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** When the newest adapter version was first published: labels given since are those none has learnt from. */
    static Instant newestAdapterCreated(AdapterControl control) {
        if (control == null) {
            return null;
        }
        return control.versions().stream().map(AdapterRow::created).filter(Objects::nonNull)
                .max(Comparator.naturalOrder()).orElse(null);
    }

    private ObjectNode withContext(ConsoleServer.Task task, ObjectNode view) {
        ConsoleSettings settings = task.settings();
        AdapterControl control = task.control();
        view.put("task", task.name());
        ArrayNode names = view.putArray("tasks");
        taskNames.forEach(names::add);
        view.put("writable", settings.writable());
        ObjectNode topics = view.putObject("topics");
        topics.put("classified", settings.classifiedTopic());
        topics.put("deadLetters", settings.dlqTopic());
        topics.put("feedback", settings.feedbackTopic());
        ObjectNode adapters = view.putObject("adapters");
        adapters.put("available", control != null);
        Long serving = null;
        if (control != null) {
            try {
                serving = putAdapters(adapters, view, control);
            } catch (RuntimeException e) {
                adapters.put("error", String.valueOf(e.getMessage()));
            }
        }
        // Without adapter control the results themselves say which adapter made them.
        JsonNode latest = view.path("stats").get("latestAdapterVersion");
        if (serving != null) {
            view.put("servingVersion", serving);
            view.put("servingFrom", "adapter control");
        } else if (control == null && latest != null) {
            view.set("servingVersion", latest);
            view.put("servingFrom", "latest result");
        } else {
            view.putNull("servingVersion");
            view.put("servingFrom", control == null ? "no result yet" : "adapter control");
        }
        return view;
    }

    /**
     * The adapters panel (versions newest first, the serving and pinned ones, the hold), the quality panel's versions
     * and the version the feedback figures count from; returns the serving version, null while the base model serves.
     */
    private static Long putAdapters(ObjectNode adapters, ObjectNode view, AdapterControl control) {
        List<AdapterRow> rows = control.versions().stream()
                .sorted(Comparator.comparingLong(AdapterRow::version).reversed()).toList();
        OptionalLong servingNow = control.serving();
        OptionalLong pinned = control.pinned();
        Long serving = servingNow.isPresent() ? servingNow.getAsLong() : null;
        putLong(adapters, "serving", serving);
        putLong(adapters, "pinned", pinned.isPresent() ? pinned.getAsLong() : null);
        adapters.put("hold", control.hold().orElse(null));
        ArrayNode versions = adapters.putArray("versions");
        for (AdapterRow row : rows) {
            ObjectNode n = versions.addObject();
            n.put("version", row.version());
            n.put("status", row.status().name());
            n.put("serving", serving != null && serving == row.version());
            n.put("pinned", pinned.isPresent() && pinned.getAsLong() == row.version());
            ObjectNode metrics = n.putObject("metrics");
            row.metrics().forEach(metrics::put);
            putLong(n, "created", row.created() == null ? null : row.created().toEpochMilli());
            n.put("message", row.message());
            putEvaluation(n, row.evaluation());
        }
        putQuality(view.putObject("quality"), rows, serving);
        AdapterRow newest = rows.isEmpty() ? null : rows.get(0);
        ObjectNode feedback = (ObjectNode) view.get("feedback");
        putLong(feedback, "sinceVersion", newest == null ? null : newest.version());
        // The newest version need not be the one that serves (rejected, rolled back, held): the tile says.
        feedback.put("sinceStatus", newest == null ? null : newest.status().name());
        return serving;
    }

    private static void putEvaluation(ObjectNode version, AdapterEvaluation evaluation) {
        if (evaluation == null) {
            version.putNull("evaluation");
            return;
        }
        ObjectNode n = version.putObject("evaluation");
        n.put("examples", evaluation.getExamples());
        if (evaluation.getTemperature() == null) {
            n.putNull("temperature");
        } else {
            n.put("temperature", evaluation.getTemperature());
        }
    }

    /**
     * The versions whose evaluations the quality panel draws: the serving one, and the candidate, the newest version
     * trained after it (published, rejected or waiting), when there is one; each only when it has an evaluation.
     */
    private static void putQuality(ObjectNode quality, List<AdapterRow> newestFirst, Long serving) {
        AdapterRow served = serving == null ? null
                : newestFirst.stream().filter(r -> r.version() == serving).findFirst().orElse(null);
        AdapterRow candidate = newestFirst.stream()
                .filter(r -> serving == null || r.version() > serving).findFirst().orElse(null);
        putLong(quality, "serving", served == null || served.evaluation() == null ? null : served.version());
        putLong(quality, "candidate", candidate == null || candidate.evaluation() == null ? null : candidate.version());
    }

    static void putLong(ObjectNode node, String field, Long value) {
        if (value == null) {
            node.putNull(field);
        } else {
            node.put(field, value);
        }
    }
}
