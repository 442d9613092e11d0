package io.slmclassifier.console;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.AdapterEvaluation;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.Topics;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
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
 */
public final class ConsoleServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ConsoleServer.class);
    private static final ObjectMapper json = new ObjectMapper();
    private static final long UPDATE_PERIOD_MS = 500;
    /** Classifications in one snapshot or update; the page keeps about this many. */
    private static final int RECENT_PER_EVENT = 50;
    private static final int MAX_BODY_BYTES = 16 * 1024;
    private static final int HTTP_THREADS = 32;
    /** How long a new connection may take to send its first request's line and headers. */
    static final Duration HEADER_DEADLINE = Duration.ofSeconds(10);
    /** How long a connection may send nothing (between requests, or in the middle of one) and take nothing. */
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(30);
    private static final String REQUESTED_BY = "console";
    private static final String SOURCE = "console";
    private static final Map<String, String> STATIC = Map.of(
            "/", "index.html",
            "/index.html", "index.html",
            "/console.js", "console.js",
            "/console.css", "console.css",
            "/favicon.svg", "favicon.svg",
            "/favicon.ico", "favicon.svg");
    private static final Set<AdapterCommandType> CONSOLE_COMMANDS =
            Set.of(AdapterCommandType.ROLLBACK, AdapterCommandType.PIN, AdapterCommandType.UNPIN);
    private static final Pattern PLOT_PATH = Pattern.compile("/api/plots/(\\d{1,18})/([a-z]+)\\.svg");
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
    private static final class TaskView implements AutoCloseable {
        final String name;
        final ConsoleSettings settings;
        final AdapterControl control;
        final LiveState state = new LiveState();
        final FeedbackWriter feedback;
        final LiveFeed feed;
        /** The last sequence number broadcast to this task's pages; touched by the update thread only. */
        long broadcastSeq;

        TaskView(Task task, SchemaRegistryClient registry) {
            this.name = task.name();
            this.settings = task.settings();
            this.control = task.control();
            this.feedback = new FeedbackWriter(settings, registry);
            this.feed = new LiveFeed(settings, state, AvroSerde.forType(Classification.class, registry),
                    () -> newestAdapterCreated(control));
        }

        @Override
        public void close() {
            feed.close();
            feedback.close();
        }
    }

    /** Where the console listens, its token and its limits: the first task's settings. */
    private final ConsoleSettings settings;
    private final Map<String, TaskView> tasks = new LinkedHashMap<>();
    private final TaskView firstTask;
    private final EventHub hub;
    private final TokenAttempts tokenAttempts = new TokenAttempts();
    private final EvaluationPlots plots = new EvaluationPlots();
    private final Server server;
    private final ServerConnector connector;
    private final ScheduledExecutorService updates;
    private final byte[] tokenDigest;

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
        this.tokenDigest = sha256(settings.token());
        for (Task task : shown) {
            tasks.put(task.name(), new TaskView(task, registry));
        }
        this.firstTask = tasks.values().iterator().next();
        this.hub = new EventHub(settings.maxStreams(), settings.maxStreamsPerAddress());
        this.updates = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "console-updates"));
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
        server.setHandler(new Routes());
        server.setErrorHandler(ConsoleServer::jettyError);
        try {
            server.start();
        } catch (Exception e) {
            stopQuietly(server);
            tasks.values().forEach(TaskView::close);
            updates.shutdownNow();
            throw new IOException("console: cannot listen on " + host + ":" + settings.port() + ": " + rootMessage(e), e);
        }
        tasks.values().forEach(task -> task.feed.start());
        updates.scheduleAtFixedRate(this::pushUpdate, UPDATE_PERIOD_MS, UPDATE_PERIOD_MS, TimeUnit.MILLISECONDS);
        log.info("Console at {} ({}; adapter control {}{})", url(), settings.writable() ? "labels and commands need the token"
                : "read-only: no console.token", firstTask.control == null ? "absent" : "present",
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
    // What the page shows

    private ObjectNode snapshot(TaskView task) {
        return withContext(task, task.state.view(0, RECENT_PER_EVENT, System.currentTimeMillis(), servingNow(task)));
    }

    private void pushUpdate() {
        for (TaskView task : tasks.values()) {
            try {
                long last = task.state.lastSeq();
                if (hub.clientCount(task.name) > 0) {
                    hub.broadcast(task.name, "update", json.writeValueAsString(withContext(task,
                            task.state.view(task.broadcastSeq, RECENT_PER_EVENT, System.currentTimeMillis(),
                                    servingNow(task)))));
                }
                task.broadcastSeq = last;
            } catch (RuntimeException | IOException e) {
                log.warn("Console update of task {} failed: {}", task.name, e.toString());
            }
        }
    }

    /**
     * The version that serves now for the review queue's order: the control topic's word where there is adapter
     * control, else the adapter of the newest result; null while neither is known (or the control cannot say).
     */
    private static LiveState.Serving servingNow(TaskView task) {
        if (task.control == null) {
            return task.state.anyClassification() ? new LiveState.Serving(task.state.latestAdapterVersion()) : null;
        }
        try {
            OptionalLong serving = task.control.serving();
            return new LiveState.Serving(serving.isPresent() ? serving.getAsLong() : null);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private ObjectNode withContext(TaskView task, ObjectNode view) {
        ConsoleSettings settings = task.settings;
        AdapterControl control = task.control;
        view.put("task", task.name);
        ArrayNode names = view.putArray("tasks");
        tasks.keySet().forEach(names::add);
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
                List<AdapterRow> rows = control.versions().stream()
                        .sorted(Comparator.comparingLong(AdapterRow::version).reversed()).toList();
                OptionalLong servingNow = control.serving();
                OptionalLong pinned = control.pinned();
                serving = servingNow.isPresent() ? servingNow.getAsLong() : null;
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

    private static Instant newestAdapterCreated(AdapterControl control) {
        if (control == null) {
            return null;
        }
        return control.versions().stream().map(AdapterRow::created).filter(java.util.Objects::nonNull)
                .max(Comparator.naturalOrder()).orElse(null);
    }

    // ---------------------------------------------------------------------------------------------------------
    // What the page does

    private void label(Exchange ex, TaskView task) throws IOException {
        if (!authorized(ex)) {
            return;
        }
        JsonNode body = body(ex);
        if (body == null) {
            return;
        }
        String id = body.path("id").asText("");
        String label = body.path("label").asText("");
        LiveState.Seen seen = task.state.find(id).orElse(null);
        if (seen == null) {
            sendError(ex, 404, "no recent classification with id '" + id + "' (the console keeps the latest "
                    + LiveState.RECENT_CAPACITY + ")");
            return;
        }
        if (!seen.labels().contains(label)) {
            sendError(ex, 400, "'" + label + "' is not one of the task's labels " + seen.labels());
            return;
        }
        Classification c = seen.record;
        LabeledExample example = LabeledExample.newBuilder()
                .setId(c.getId())
                .setText(c.getText())
                .setLabel(label)
                .setSource(SOURCE)
                .setLabeledAt(Instant.now())
                .setPredictedLabel(c.getLabel())
                .setAdapterVersion(c.getAdapterVersion())
                .build();
        RecordMetadata written;
        try {
            written = task.feedback.send(example);
        } catch (Exception e) {
            log.warn("Label for {} not written to {}: {}", id, task.feedback.topic(), e.toString());
            sendError(ex, 502, "could not write to " + task.feedback.topic() + ": " + rootMessage(e));
            return;
        }
        task.state.labeled(seen, label);
        ObjectNode answer = json.createObjectNode();
        answer.put("id", id);
        answer.put("label", label);
        answer.put("topic", written.topic());
        answer.put("partition", written.partition());
        answer.put("offset", written.offset());
        sendJson(ex, 200, answer);
    }

    private void plot(Exchange ex, TaskView task) throws IOException {
        AdapterControl control = task.control;
        Matcher path = PLOT_PATH.matcher(ex.path());
        if (!path.matches() || !EvaluationPlots.KINDS.contains(path.group(2))) {
            sendError(ex, 404, "no such plot: /api/plots/<version>/reliability.svg, coverage.svg or confusion.svg");
            return;
        }
        long version = Long.parseLong(path.group(1));
        AdapterEvaluation evaluation = control == null ? null : control.versions().stream()
                .filter(r -> r.version() == version && r.evaluation() != null)
                .map(AdapterRow::evaluation).findFirst().orElse(null);
        if (evaluation == null) {
            sendError(ex, 404, "version " + version + " has no published evaluation");
            return;
        }
        byte[] svg;
        try {
            svg = plots.svg(version, path.group(2), evaluation);
        } catch (IllegalArgumentException e) {
            sendError(ex, 422, "version " + version + ": " + e.getMessage());
            return;
        }
        ex.setHeader("Content-Security-Policy", PLOT_SECURITY_POLICY);
        send(ex, 200, "image/svg+xml", svg);
    }

    private void adapterCommand(Exchange ex, TaskView task) throws IOException {
        if (!authorized(ex)) {
            return;
        }
        AdapterControl control = task.control;
        if (control == null) {
            sendError(ex, 503, "no adapter control: this console cannot see or command adapter versions");
            return;
        }
        JsonNode body = body(ex);
        if (body == null) {
            return;
        }
        AdapterCommandType type;
        try {
            type = AdapterCommandType.valueOf(body.path("command").asText(""));
        } catch (IllegalArgumentException e) {
            type = null;
        }
        if (type == null || !CONSOLE_COMMANDS.contains(type)) {
            sendError(ex, 400, "command must be one of " + CONSOLE_COMMANDS.stream().map(Enum::name).sorted().toList());
            return;
        }
        JsonNode v = body.get("version");
        Long version = v == null || v.isNull() ? null : v.canConvertToLong() ? v.asLong() : Long.MIN_VALUE;
        if (version != null && version == Long.MIN_VALUE) {
            sendError(ex, 400, "version must be a whole number or null");
            return;
        }
        if (type == AdapterCommandType.PIN && version == null) {
            sendError(ex, 400, "PIN needs the version to pin");
            return;
        }
        if (type == AdapterCommandType.UNPIN) {
            version = null;
        }
        if (version != null) {
            long wanted = version;
            if (control.versions().stream().noneMatch(r -> r.version() == wanted)) {
                sendError(ex, 404, "no adapter version " + wanted);
                return;
            }
        }
        try {
            control.send(type, version, REQUESTED_BY);
        } catch (Exception e) {
            log.warn("Adapter command {} {} not sent: {}", type, version, e.toString());
            sendError(ex, 502, "could not send " + type + ": " + rootMessage(e));
            return;
        }
        ObjectNode answer = json.createObjectNode();
        answer.put("command", type.name());
        putLong(answer, "version", version);
        answer.put("requestedBy", REQUESTED_BY);
        sendJson(ex, 202, answer);
    }

    /**
     * Refuses the request (and answers it) unless the console has a token and the request carries it. An address
     * that gave too many wrong tokens lately is answered 429 without a look at the one it gives now.
     */
    private boolean authorized(Exchange ex) throws IOException {
        if (!settings.writable()) {
            sendError(ex, 403, "read-only console: no console.token is configured, so nothing can be written");
            return false;
        }
        String address = ex.clientAddress();
        long retryAfter = tokenAttempts.retryAfterSeconds(address, System.currentTimeMillis());
        if (retryAfter > 0) {
            ex.setHeader("Retry-After", Long.toString(retryAfter));
            sendError(ex, 429, "too many wrong console tokens from " + address + "; try again in " + retryAfter + " s");
            return false;
        }
        String header = ex.header("Authorization");
        String given = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : "";
        // Compare digests: equal length, and a comparison that takes the same time wherever they differ.
        if (given.isEmpty() || !MessageDigest.isEqual(sha256(given), tokenDigest)) {
            if (!given.isEmpty()) {
                tokenAttempts.failed(address, System.currentTimeMillis());
            }
            ex.setHeader("WWW-Authenticate", "Bearer realm=\"slm-console\"");
            sendError(ex, 401, given.isEmpty() ? "this needs the console token" : "wrong console token");
            return false;
        }
        return true;
    }

    // ---------------------------------------------------------------------------------------------------------
    // HTTP plumbing

    /** Every request, by path: the API, else the page's files. */
    private final class Routes extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            Exchange ex = new Exchange(request, response, callback);
            common(ex);
            if (!settings.hostAllowed(ex.header("Host"))) {
                // A page of another origin whose DNS name points at this address (DNS rebinding).
                send(ex, 421, "text/plain; charset=utf-8", ("this console does not answer to the host name used; "
                        + "allow it with console.allowed.hosts\n").getBytes(StandardCharsets.UTF_8));
                return true;
            }
            String path = ex.path();
            if (!path.startsWith("/api/")) {
                serve(ex, null, () -> page(ex));
                return true;
            }
            String named = ex.queryParameter("task");
            TaskView task = named == null ? firstTask : tasks.get(named);
            if (task == null) {
                serve(ex, null, () -> sendError(ex, 404, "no task '" + named + "' in this console: " + tasks.keySet()));
                return true;
            }
            switch (path) {
                case "/api/state" -> serve(ex, "GET", () -> sendJson(ex, 200, snapshot(task)));
                case "/api/events" -> serve(ex, "GET", () -> {
                    String first = json.writeValueAsString(snapshot(task));
                    ex.handedOver = true;
                    hub.open(request, response, callback, task.name, "snapshot", first);
                });
                case "/api/labels" -> serve(ex, "POST", () -> label(ex, task));
                case "/api/adapters" -> serve(ex, "POST", () -> adapterCommand(ex, task));
                default -> {
                    if (path.startsWith("/api/plots/")) {
                        serve(ex, "GET", () -> plot(ex, task));
                    } else {
                        serve(ex, null, () -> page(ex));
                    }
                }
            }
            return true;
        }
    }

    /**
     * What Jetty answers itself (a path above the root, headers too large, a malformed request) in the console's
     * JSON, with its headers, instead of Jetty's HTML page.
     */
    private static boolean jettyError(Request request, Response response, Callback callback) throws IOException {
        Exchange ex = new Exchange(request, response, callback);
        common(ex);
        Object message = request.getAttribute(ErrorHandler.ERROR_MESSAGE);
        sendError(ex, response.getStatus(), message != null ? message.toString() : HttpStatus.getMessage(response.getStatus()));
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

    /** One request and its answer, which is sent once: what the handlers below read and write. */
    private static final class Exchange {
        final Request request;
        final Response response;
        final Callback callback;
        boolean answered;
        /** The response is the event hub's to complete. */
        boolean handedOver;

        Exchange(Request request, Response response, Callback callback) {
            this.request = request;
            this.response = response;
            this.callback = callback;
        }

        String method() {
            return request.getMethod();
        }

        /** The path, decoded and with dot segments resolved. */
        String path() {
            return Request.getPathInContext(request);
        }

        String header(String name) {
            return request.getHeaders().get(name);
        }

        /** A parameter of the query string; null when it has none of that name. */
        String queryParameter(String name) {
            return Request.extractQueryParameters(request).getValue(name);
        }

        String clientAddress() {
            return Request.getRemoteAddr(request);
        }

        void setHeader(String name, String value) {
            response.getHeaders().put(name, value);
        }

        InputStream body() {
            return Content.Source.asInputStream(request);
        }
    }

    private interface Work {
        void run() throws IOException;
    }

    /** Runs {@code work} for a request with the right method ({@code null}: any); a failure is answered 500. */
    private void serve(Exchange ex, String method, Work work) {
        try {
            if (method != null && !method.equals(ex.method())) {
                ex.setHeader("Allow", method);
                sendError(ex, 405, "use " + method);
                return;
            }
            work.run();
            if (!ex.answered && !ex.handedOver) {
                throw new IllegalStateException("no answer to " + ex.method() + " " + ex.path());
            }
        } catch (IOException | RuntimeException e) {
            if (ex.handedOver) {
                return;
            }
            if (e instanceof RuntimeException) {
                log.error("Console request {} {} failed", ex.method(), ex.path(), e);
            }
            if (ex.answered || ex.response.isCommitted()) {
                ex.callback.failed(e);
                return;
            }
            try {
                sendError(ex, 500, "internal error: " + e);
            } catch (IOException | RuntimeException ignored) {
                ex.callback.failed(e);
            }
        }
    }

    private void page(Exchange ex) throws IOException {
        String resource = STATIC.get(ex.path());
        if (resource == null) {
            send(ex, 404, "text/plain; charset=utf-8", "not found\n".getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (!"GET".equals(ex.method()) && !"HEAD".equals(ex.method())) {
            ex.setHeader("Allow", "GET");
            send(ex, 405, "text/plain; charset=utf-8", "use GET\n".getBytes(StandardCharsets.UTF_8));
            return;
        }
        byte[] bytes;
        try (InputStream in = ConsoleServer.class.getResourceAsStream("/console/" + resource)) {
            if (in == null) {
                throw new IOException("console resource missing from the classpath: " + resource);
            }
            bytes = in.readAllBytes();
        }
        String type = resource.endsWith(".html") ? "text/html; charset=utf-8"
                : resource.endsWith(".js") ? "text/javascript; charset=utf-8"
                : resource.endsWith(".svg") ? "image/svg+xml" : "text/css; charset=utf-8";
        ex.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
        send(ex, 200, type, bytes);
    }

    private static void common(Exchange ex) {
        ex.setHeader("X-Content-Type-Options", "nosniff");
        ex.setHeader("Referrer-Policy", "no-referrer");
        ex.setHeader("X-Frame-Options", "DENY");
        ex.setHeader("Cache-Control", "no-store");
    }

    /** The request's JSON object, or null after answering 400/413. */
    private static JsonNode body(Exchange ex) throws IOException {
        byte[] bytes;
        try (InputStream in = ex.body()) {
            bytes = in.readNBytes(MAX_BODY_BYTES + 1);
        }
        if (bytes.length > MAX_BODY_BYTES) {
            sendError(ex, 413, "request body over " + MAX_BODY_BYTES + " bytes");
            return null;
        }
        try {
            JsonNode node = json.readTree(bytes);
            if (node != null && node.isObject()) {
                return node;
            }
        } catch (IOException e) {
            // answered below
        }
        sendError(ex, 400, "the body must be a JSON object");
        return null;
    }

    private static void sendError(Exchange ex, int status, String message) throws IOException {
        ObjectNode error = json.createObjectNode();
        error.put("error", message);
        sendJson(ex, status, error);
    }

    private static void sendJson(Exchange ex, int status, JsonNode body) throws IOException {
        send(ex, status, "application/json; charset=utf-8", json.writeValueAsBytes(body));
    }

    /** The whole answer; Jetty leaves the body out for HEAD. */
    private static void send(Exchange ex, int status, String type, byte[] body) {
        ex.answered = true;
        ex.response.setStatus(status);
        ex.setHeader("Content-Type", type);
        ex.response.getHeaders().put("Content-Length", Integer.toString(body.length));
        ex.response.write(true, ByteBuffer.wrap(body), ex.callback);
    }

    private static void putLong(ObjectNode node, String field, Long value) {
        if (value == null) {
            node.putNull(field);
        } else {
            node.put(field, value);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void stopQuietly(Server server) {
        try {
            server.stop();
        } catch (Exception e) {
            log.warn("Console server did not stop cleanly: {}", e.toString());
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    @Override
    public void close() {
        updates.shutdownNow();
        hub.close();
        stopQuietly(server);
        tasks.values().forEach(TaskView::close);
    }
}
