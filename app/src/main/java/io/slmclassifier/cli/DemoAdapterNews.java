package io.slmclassifier.cli;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.rollout.ControlState;
import java.io.PrintStream;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * What the demo tells of a task's adapter lineage: what an earlier run left, in one line at the start
 * ({@link #history}), then a line when the trainer publishes or rejects a version, or a processor refuses one,
 * followed by the prompt again, as it is now.
 */
final class DemoAdapterNews implements Consumer<ControlState> {
    private final PrintStream out;
    /** "emotion: " before each line with several tasks; empty with one. */
    private final String task;
    private final Supplier<String> prompt;
    private final Set<String> told = new HashSet<>();

    /**
     * The control log of an earlier run in one line, e.g. "history: versions 1-24 (20 published, 4 rejected),
     * serving v7"; empty on a first start. A restarted demo says this instead of replaying each old event as news.
     */
    static Optional<String> history(ControlState state) {
        List<AdapterEvent> events = state.events();
        if (events.isEmpty()) {
            return Optional.empty();
        }
        long first = events.get(0).getVersion();
        long last = events.get(events.size() - 1).getVersion();
        Map<String, Long> byStatus = new TreeMap<>();
        for (AdapterEvent e : events) {
            String status = e.getStatus() == AdapterStatus.ACTIVE ? "published"
                    : e.getStatus().name().toLowerCase().replace('_', ' ');
            byStatus.merge(status, 1L, Long::sum);
        }
        List<String> counts = byStatus.entrySet().stream().map(c -> c.getValue() + " " + c.getKey()).toList();
        OptionalLong serving = state.serving();
        return Optional.of("history: " + (first == last ? "version " + first : "versions " + first + "-" + last)
                + " (" + String.join(", ", counts) + "), serving " + (serving.isPresent() ? "v" + serving.getAsLong()
                : "the base model") + state.describeHold().map(hold -> "; " + hold).orElse(""));
    }

    /**
     * @param history what the log held at the start, told already (by {@link #history})
     * @param task the task whose lineage this is, named in each line; null with one task
     */
    DemoAdapterNews(PrintStream out, ControlState history, String task, Supplier<String> prompt) {
        this.out = out;
        this.task = task == null ? "" : task + ": ";
        this.prompt = prompt;
        for (AdapterEvent e : history.events()) {
            told.add(e.getVersion() + "/" + e.getStatus());
            history.errors(e.getVersion()).keySet()
                    .forEach(instance -> told.add(e.getVersion() + "/error/" + instance));
        }
    }

    @Override
    public void accept(ControlState state) {
        for (AdapterEvent e : state.events()) {
            if (told.add(e.getVersion() + "/" + e.getStatus())) {
                boolean waits = state.status(e.getVersion()) == ControlState.Status.WAITING;
                out.printf("%n[trainer] %sversion %d %s: %s%s%n%s", task, e.getVersion(),
                        e.getStatus() == AdapterStatus.ACTIVE ? "published" : e.getStatus().name().toLowerCase(),
                        e.getMessage(), waits ? "; it waits: a rollback holds new versions until /resume or /pin "
                                + e.getVersion() : "", prompt.get());
            }
            state.errors(e.getVersion()).forEach((instance, reason) -> {
                if (told.add(e.getVersion() + "/error/" + instance)) {
                    out.printf("%n[processor] %s%s%n%s", task, reason, prompt.get());
                }
            });
        }
        out.flush();
    }
}
