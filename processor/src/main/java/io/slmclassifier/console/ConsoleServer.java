package io.slmclassifier.console;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.avro.AdapterEvaluation;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.console.ConsoleEvents.TaskPages;
import io.slmclassifier.console.ConsoleExchange.Refused;
import io.slmclassifier.console.ConsoleRoutes.PageFile;
import io.slmclassifier.console.ConsoleRoutes.PlotRequest;
import io.slmclassifier.console.ConsoleRoutes.Route;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The web console: a page for people, and its JSON and server-sent-events API.
 *
 * <p>One console shows the tasks of one processor, each on its own topics with its own adapters: every {@code /api/}
 * request may name its task ({@code ?task=<name>}; without one, the first task's), and the page has a selector
 * where there are several.
 *
 * <ul>
 *   <li>{@code GET /} the page ({@code /console.js}, {@code /console.css}), from the classpath.
 *   <li>{@code GET /api/state} everything the page shows, as JSON; {@code GET /api/events} the same as a first
 *       {@code snapshot} event, then an {@code update} event twice a second with what is new.
 *   <li>{@code GET /api/plots/<version>/reliability.svg} (also {@code coverage.svg}, {@code confusion.svg}): the
 *       pictures of a version's published evaluation, drawn by the same code as {@code evaluate --plot}.
 *   <li>{@code POST /api/labels} {@code {"id": ..., "label": ...}}: a person's label for a recent
 *       classification, written to the feedback topic as a {@code LabeledExample}.
 *   <li>{@code POST /api/adapters} {@code {"command": "ROLLBACK"|"PIN"|"UNPIN", "version": n}}: an
 *       {@code AdapterCommand} through the {@link AdapterControl}.
 * </ul>
 *
 * <p>Reading is open to whoever reaches the port, like the metrics. Every request that writes to Kafka needs
 * {@code Authorization: Bearer <console.token>}; without a configured token the console is read-only and
 * answers 403 to them all; an address that gives a wrong token {@link TokenAttempts#MAX_FAILURES} times a minute is
 * answered 429 until its minute is over.
 *
 * <p>The server is Jetty's, because it reads requests and writes event streams without holding a thread while a
 * client is slow: an open event stream, or a client that sends its headers a byte at a time, costs a connection, not
 * one of the {@value #HTTP_THREADS} request threads, and {@code /api/state} answers at once however many there are.
 * Streams are capped in all and per client address ({@code console.streams.max}, {@code
 * console.streams.max.per.address}); a connection that has not sent a whole request within
 * {@link #HEADER_DEADLINE} is closed, and one that sends nothing for {@link #IDLE_TIMEOUT} too.
 *
 * <p>The server itself only listens and dispatches; each job is a part of its own: {@link ConsoleRoutes} says what a
 * request asks for, {@link ConsoleAuthenticator} who may write, {@link ConsoleRequests} what a write asks for,
 * {@link ConsoleView} what the page reads and {@link ConsoleEvents} what its event streams carry.
 */
public final class ConsoleServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ConsoleServer.class);
    private static final int HTTP_THREADS = 32;
    /** How long a new connection may take to send its first request's line and headers. */
    static final Duration HEADER_DEADLINE = Duration.ofSeconds(10);
    /** How long a connection may send nothing (between requests, or in the middle of one) and take nothing. */
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(30);
    /** A chart is an image: nothing in it may run or load anything, even when it is opened on its own. */
    private static final String PLOT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'";
    /** Scripts, styles and data only from this server; nothing inline, no frames, no forms elsewhere. */
    private static final String CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self';"
            + " img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /**
     * One task the console shows.
     *
     * @param name the task's name, as requests name it
     * @param settings its topics; the first task's also say where the console listens, its token and its limits
     * @param control the task's adapter versions and commands; null when there is none (the panel says so and the
     *     adapter requests answer 503)
     */
    public record Task(String name, ConsoleSettings settings, AdapterControl control) {}

    /** What the console reads and writes for one task: its results and review queue, its feedback, its adapters. */
    private static final class ShownTask implements AutoCloseable {
        final Task task;
        final TaskPages pages;
        final FeedbackWriter feedback;
        final LiveFeed feed;

        ShownTask(Task task, SchemaRegistryClient registry) {
            this.task = task;
            this.pages = new TaskPages(task, new LiveState());
            this.feedback = new FeedbackWriter(task.settings(), registry);
            this.feed = new LiveFeed(task.settings(), pages.state, AvroSerde.forType(Classification.class, registry),
                    () -> ConsoleView.newestAdapterCreated(task.control()));
        }

        @Override
        public void close() {
            feed.close();
            feedback.close();
        }
    }

    /** Where the console listens, its token and its limits: the first task's settings. */
    private final ConsoleSettings settings;
    private final Map<String, ShownTask> tasks = new LinkedHashMap<>();
    private final ShownTask firstTask;
    private final ConsoleAuthenticator authenticator;
    private final ConsoleView view;
    private final ConsoleEvents events;
    private final EvaluationPlots plots = new EvaluationPlots();
    private final Server server;
    private final ServerConnector connector;

    /** A console of one task (no selector on the page). */
    public ConsoleServer(ConsoleSettings settings, SchemaRegistryClient registry, AdapterControl control)
            throws IOException {
        this(List.of(new Task("", settings, control)), registry);
    }

    /**
     * Starts the console: per task its reader of the results and dead letters and its feedback producer, then the
     * HTTP server.
     */
    public ConsoleServer(List<Task> shown, SchemaRegistryClient registry) throws IOException {
        if (shown.isEmpty()) {
            throw new IllegalArgumentException("a console shows at least one task");
        }
        this.settings = shown.get(0).settings();
        this.authenticator = new ConsoleAuthenticator(settings.token());
        for (Task task : shown) {
            tasks.put(task.name(), new ShownTask(task, registry));
        }
        this.firstTask = tasks.values().iterator().next();
        this.view = new ConsoleView(List.copyOf(tasks.keySet()));
        this.events = new ConsoleEvents(view, new EventHub(settings.maxStreams(), settings.maxStreamsPerAddress()),
                tasks.values().stream().map(task -> task.pages).toList());
        QueuedThreadPool threads = new QueuedThreadPool(HTTP_THREADS, 2);
        threads.setName("console-http");
        threads.setDaemon(true);
        this.server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        this.connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        String host = settings.host() == null || settings.host().isBlank() ? "127.0.0.1" : settings.host();
        connector.setHost(host);
        connector.setPort(settings.port());
        connector.setIdleTimeout(IDLE_TIMEOUT.toMillis());
        connector.addBean(new HeaderDeadline(connector.getScheduler()));
        server.addConnector(connector);
        server.setHandler(new Dispatch());
        server.setErrorHandler(ConsoleServer::jettyError);
        try {
            server.start();
        } catch (Exception e) {
            stopQuietly(server);
            tasks.values().forEach(ShownTask::close);
            events.close();
            throw new IOException("console: cannot listen on " + host + ":" + settings.port() + ": " + rootMessage(e), e);
        }
        tasks.values().forEach(task -> task.feed.start());
        events.start();
        log.info("Console at {} ({}; adapter control {}{})", url(), settings.writable() ? "labels and commands need the token"
                : "read-only: no console.token", firstTask.task.control() == null ? "absent" : "present",
                tasks.size() > 1 ? "; tasks " + tasks.keySet() : "");
    }

    /**
     * The console as the processor configures it, over the tasks it serves (each task's settings from its view of
     * the configuration): null when it is not {@linkplain ConsoleStartup#enabled enabled}. Missing feedback topics are
     * created where {@link ConsoleStartup#createTopics} says so, as the processor creates its own.
     */
    public static ConsoleServer startIfEnabled(ConsoleStartup startup, List<Task> shown) throws Exception {
        if (!startup.enabled()) {
            return null;
        }
        if (startup.createTopics()) {
            Topics.ensure(startup.kafkaClient(), shown.stream().map(task -> Topics.plain(task.settings().feedbackTopic(),
                    startup.partitions(), startup.replication())).toList());
        }
        return new ConsoleServer(shown, SchemaRegistryClient.fromConfig(startup.registryClient()));
    }

    public int port() {
        return connector.getLocalPort();
    }

    /** The page's address; on every interface, the loopback one. */
    public String url() {
        String host = connector.getHost();
        if (host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]")) {
            host = "127.0.0.1";
        }
        return "http://" + (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port() + "/";
    }

    // ---------------------------------------------------------------------------------------------------------
    // Every request, by route

    /** Every request: refused unless it names this console; then its route, for its task. */
    private final class Dispatch extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            ConsoleExchange ex = new ConsoleExchange(request, response, callback);
            if (!settings.hostAllowed(ex.header("Host"))) {
                // A page of another origin whose DNS name points at this address (DNS rebinding).
                ex.send(421, "text/plain; charset=utf-8", ("this console does not answer to the host name used; "
                        + "allow it with console.allowed.hosts\n").getBytes(StandardCharsets.UTF_8));
                return true;
            }
            String path = ex.path();
            if (!ConsoleRoutes.isApi(path)) {
                serve(ex, Route.PAGE, () -> page(ex));
                return true;
            }
            String named = ex.queryParameter("task");
            ShownTask task = named == null ? firstTask : tasks.get(named);
            if (task == null) {
                serve(ex, Route.PAGE, () -> {
                    throw new Refused(404, "no task '" + named + "' in this console: " + tasks.keySet());
                });
                return true;
            }
            Route route = ConsoleRoutes.route(path);
            serve(ex, route, switch (route) {
                case STATE -> () -> ex.sendJson(200, view.snapshot(task.task, task.pages.state,
                        System.currentTimeMillis()));
                case EVENTS -> () -> events.open(ex, task.pages);
                case LABEL -> () -> label(ex, task);
                case ADAPTER_COMMAND -> () -> adapterCommand(ex, task.task.control());
                case PLOT -> () -> plot(ex, task.task.control());
                case PAGE -> () -> page(ex);
            });
            return true;
        }
    }

    private void label(ConsoleExchange ex, ShownTask task) throws IOException, Refused {
        authenticator.authorize(ex.header("Authorization"), ex.clientAddress(), System.currentTimeMillis());
        ConsoleRequests.Label label = ConsoleRequests.Label.of(ex.jsonBody(), task.pages.state);
        RecordMetadata written;
        try {
            written = task.feedback.send(label.example(Instant.now()));
        } catch (Exception e) {
            log.warn("Label for {} not written to {}: {}", label.id(), task.feedback.topic(), e.toString());
            throw new Refused(502, "could not write to " + task.feedback.topic() + ": " + rootMessage(e));
        }
        task.pages.state.labeled(label.seen(), label.label());
        ObjectNode answer = ConsoleExchange.JSON.createObjectNode();
        answer.put("id", label.id());
        answer.put("label", label.label());
        answer.put("topic", written.topic());
        answer.put("partition", written.partition());
        answer.put("offset", written.offset());
        ex.sendJson(200, answer);
    }

    private void adapterCommand(ConsoleExchange ex, AdapterControl control) throws IOException, Refused {
        authenticator.authorize(ex.header("Authorization"), ex.clientAddress(), System.currentTimeMillis());
        if (control == null) {
            throw new Refused(503, "no adapter control: this console cannot see or command adapter versions");
        }
        ConsoleRequests.AdapterCommand command = ConsoleRequests.AdapterCommand.of(ex.jsonBody(), control::versions);
        try {
            control.send(command.type(), command.version(), ConsoleRequests.CONSOLE);
        } catch (Exception e) {
            log.warn("Adapter command {} {} not sent: {}", command.type(), command.version(), e.toString());
            throw new Refused(502, "could not send " + command.type() + ": " + rootMessage(e));
        }
        ObjectNode answer = ConsoleExchange.JSON.createObjectNode();
        answer.put("command", command.type().name());
        ConsoleView.putLong(answer, "version", command.version());
        answer.put("requestedBy", ConsoleRequests.CONSOLE);
        ex.sendJson(202, answer);
    }

    private void plot(ConsoleExchange ex, AdapterControl control) throws IOException, Refused {
        PlotRequest plot = ConsoleRoutes.plot(ex.path()).orElseThrow(() -> new Refused(404,
                "no such plot: /api/plots/<version>/reliability.svg, coverage.svg or confusion.svg"));
        AdapterEvaluation evaluation = control == null ? null : control.versions().stream()
                .filter(r -> r.version() == plot.version() && r.evaluation() != null)
                .map(AdapterRow::evaluation).findFirst().orElse(null);
        if (evaluation == null) {
            throw new Refused(404, "version " + plot.version() + " has no published evaluation");
        }
        byte[] svg;
        try {
            svg = plots.svg(plot.version(), plot.kind(), evaluation);
        } catch (IllegalArgumentException e) {
            throw new Refused(422, "version " + plot.version() + ": " + e.getMessage());
        }
        ex.setHeader("Content-Security-Policy", PLOT_SECURITY_POLICY);
        ex.send(200, "image/svg+xml", svg);
    }

    /** The page's files: plain-text answers, not the API's JSON errors. */
    private static void page(ConsoleExchange ex) throws IOException {
        PageFile file = ConsoleRoutes.pageFile(ex.path()).orElse(null);
        if (file == null) {
            ex.send(404, "text/plain; charset=utf-8", "not found\n".getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (!"GET".equals(ex.method()) && !"HEAD".equals(ex.method())) {
            ex.setHeader("Allow", "GET");
            ex.send(405, "text/plain; charset=utf-8", "use GET\n".getBytes(StandardCharsets.UTF_8));
            return;
        }
        byte[] bytes;
        try (InputStream in = ConsoleServer.class.getResourceAsStream("/console/" + file.resource())) {
            if (in == null) {
                throw new IOException("console resource missing from the classpath: " + file.resource());
            }
            bytes = in.readAllBytes();
        }
        ex.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
        ex.send(200, file.contentType(), bytes);
    }

    // ---------------------------------------------------------------------------------------------------------
    // HTTP plumbing

    private interface Work {
        void run() throws IOException, Refused;
    }

    /**
     * Runs {@code work} for a request with its route's method (any for the page's files); a refusal is answered with
     * its reason, a failure with 500.
     */
    private static void serve(ConsoleExchange ex, Route route, Work work) {
        try {
            if (route.method != null && !route.method.equals(ex.method())) {
                throw new Refused(405, "use " + route.method, Map.of("Allow", route.method));
            }
            work.run();
            if (!ex.answered() && !ex.handedOver()) {
                throw new IllegalStateException("no answer to " + ex.method() + " " + ex.path());
            }
        } catch (Refused refusal) {
            try {
                ex.refuse(refusal);
            } catch (IOException | RuntimeException e) {
                ex.callback.failed(e);
            }
        } catch (IOException | RuntimeException e) {
            if (ex.handedOver()) {
                return;
            }
            if (e instanceof RuntimeException) {
                log.error("Console request {} {} failed", ex.method(), ex.path(), e);
            }
            if (ex.answered() || ex.response.isCommitted()) {
                ex.callback.failed(e);
                return;
            }
            try {
                ex.sendError(500, "internal error: " + e);
            } catch (IOException | RuntimeException ignored) {
                ex.callback.failed(e);
            }
        }
    }

    /**
     * What Jetty answers itself (a path above the root, headers too large, a malformed request) in the console's
     * JSON, with its headers, instead of Jetty's HTML page.
     */
    private static boolean jettyError(Request request, Response response, Callback callback) throws IOException {
        ConsoleExchange ex = new ConsoleExchange(request, response, callback);
        Object message = request.getAttribute(ErrorHandler.ERROR_MESSAGE);
        ex.sendError(response.getStatus(), message != null ? message.toString() : HttpStatus.getMessage(response.getStatus()));
        return true;
    }

    /**
     * A connection that has not sent a whole request by {@link #HEADER_DEADLINE} after it opened is closed. It
     * holds no thread meanwhile (Jetty reads what has come and waits for more without one), but each still takes a
     * connection; and it may not keep one by sending a byte now and then, as the idle timeout would let it.
     */
    private static final class HeaderDeadline implements Connection.Listener {
        private final Scheduler scheduler;

        HeaderDeadline(Scheduler scheduler) {
            this.scheduler = scheduler;
        }

        @Override
        public void onOpened(Connection connection) {
            scheduler.schedule(() -> {
                if (connection.getMessagesIn() == 0 && connection.getEndPoint().isOpen()) {
                    connection.getEndPoint().close();
                }
            }, HEADER_DEADLINE);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    private static void stopQuietly(Server server) {
        try {
            server.stop();
        } catch (Exception e) {
            log.warn("Console server did not stop cleanly: {}", e.toString());
        }
    }

    @Override
    public void close() {
        events.close();
        stopQuietly(server);
        tasks.values().forEach(ShownTask::close);
    }
}
