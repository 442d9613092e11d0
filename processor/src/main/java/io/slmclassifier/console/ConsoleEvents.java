package io.slmclassifier.console;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pages' event streams ({@code GET /api/events}) over the {@link EventHub}: a page's stream starts with a
 * {@code snapshot} event of its task, and twice a second every task whose pages are open gets an {@code update}
 * event with what is new since the last one (the results after the last sequence number broadcast; the figures as
 * they are now).
 */
final class ConsoleEvents implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ConsoleEvents.class);
    static final long UPDATE_PERIOD_MS = 500;

    /** One task's pages: the task, what the console holds of it, and how far its updates have gone. */
    static final class TaskPages {
        final ConsoleServer.Task task;
        final LiveState state;
        /** The last sequence number broadcast to this task's pages; touched by the update thread only. */
        private long broadcastSeq;

        TaskPages(ConsoleServer.Task task, LiveState state) {
            this.task = task;
            this.state = state;
        }
    }

    private final ConsoleView view;
    private final EventHub hub;
    private final List<TaskPages> tasks;
    private final ScheduledExecutorService updates;

    ConsoleEvents(ConsoleView view, EventHub hub, List<TaskPages> tasks) {
        this.view = view;
        this.hub = hub;
        this.tasks = List.copyOf(tasks);
        this.updates = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "console-updates");
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts the updates, every {@link #UPDATE_PERIOD_MS}. */
    void start() {
        updates.scheduleAtFixedRate(this::pushUpdates, UPDATE_PERIOD_MS, UPDATE_PERIOD_MS, TimeUnit.MILLISECONDS);
    }

    /**
     * A page's stream of {@code pages}' task: the snapshot now, the updates until the page or the console goes. The
     * exchange is the hub's from then on (it completes it); a snapshot that fails leaves it to be answered 500.
     */
    void open(ConsoleExchange ex, TaskPages pages) throws JsonProcessingException {
        String snapshot = ConsoleExchange.JSON.writeValueAsString(
                view.snapshot(pages.task, pages.state, System.currentTimeMillis()));
        ex.handOver();
        hub.open(ex.request, ex.response, ex.callback, pages.task.name(), "snapshot", snapshot);
    }

    /** One round of updates: to the pages of each task that has some open; the others only move on. */
    void pushUpdates() {
        for (TaskPages pages : tasks) {
            try {
                if (hub.clientCount(pages.task.name()) > 0) {
                    hub.broadcast(pages.task.name(), "update", nextUpdate(pages, System.currentTimeMillis()));
                } else {
                    pages.broadcastSeq = pages.state.lastSeq();
                }
            } catch (RuntimeException | JsonProcessingException e) {
                log.warn("Console update of task {} failed: {}", pages.task.name(), e.toString());
            }
        }
    }

    /**
     * The next update of a task: the results after the last one's. The sequence number is read before the view, so a
     * result that comes meanwhile is in this update or the next, never in neither; an update that fails is
     * sent again whole.
     */
    String nextUpdate(TaskPages pages, long nowMillis) throws JsonProcessingException {
        long last = pages.state.lastSeq();
        String update = ConsoleExchange.JSON.writeValueAsString(view.update(pages.task, pages.state,
                pages.broadcastSeq, nowMillis));
        pages.broadcastSeq = last;
        return update;
    }

    @Override
    public void close() {
        updates.shutdownNow();
        hub.close();
    }
}
