package io.slmclassifier.devkit.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.slmclassifier.devkit.registry.SchemaLog.ConfigEntry;
import io.slmclassifier.devkit.registry.SchemaLog.SchemaEntry;
import io.slmclassifier.kafka.registry.CompatibilityChecker;
import io.slmclassifier.kafka.registry.CompatibilityLevel;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import io.slmclassifier.kafka.registry.SchemaRegistryException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;
import org.apache.kafka.clients.CommonClientConfigs;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A schema registry in the JVM: an HTTP server on the loopback interface speaking the subset of the Confluent
 * REST protocol that {@link SchemaRegistryClient} uses, with Confluent's error answers
 * ({@code {"error_code":40401,"message":"..."}}).
 *
 * <p>Ids are global: the same schema gets the same id under every subject, and registering it again under a
 * subject returns its existing id. State lives in a {@link SchemaLog}, in production the compacted Kafka topic
 * {@code _schemas}; on start the registry replays the log, so ids survive restarts. Several registries may share
 * one log: each catches up with the log before it writes, and the log order settles races.
 *
 * <p>Only AVRO schemas without references are accepted. Compatibility is checked with Avro's own
 * SchemaCompatibility at the subject's level (BACKWARD unless configured).
 */
public final class EmbeddedSchemaRegistry implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedSchemaRegistry.class);
    private static final ObjectMapper json = new ObjectMapper();

    /** A registration that keeps losing races for this many rounds is reported as an error. */
    private static final int MAX_REGISTRATION_ROUNDS = 10;

    private final SchemaLog schemaLog;
    private final RegistryState state = new RegistryState();
    private final HttpServer server;
    private final ExecutorService executor;
    private final String basePath;
    private final List<Route> routes = new ArrayList<>();

    private EmbeddedSchemaRegistry(SchemaLog schemaLog, int port, String basePath) throws IOException {
        this.schemaLog = schemaLog;
        this.basePath = basePath;
        catchUp();
        defineRoutes();
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
        AtomicInteger threads = new AtomicInteger();
        this.executor = Executors.newFixedThreadPool(4, runnable -> {
            Thread thread = new Thread(runnable, "schema-registry-http-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        server.createContext(basePath.isEmpty() ? "/" : basePath, this::handle);
        server.start();
        log.info("Schema registry listening on {} ({} subjects)", url(), state.subjects().size());
    }

    /** A registry that forgets everything when closed; for tests and throw-away demos. */
    public static EmbeddedSchemaRegistry startInMemory() {
        return builder().start();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The base URL to give clients, with the path prefix when one was configured. */
    public String url() {
        return "http://" + server.getAddress().getHostString() + ":" + server.getAddress().getPort() + basePath;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        synchronized (state) {
            schemaLog.close();
        }
        log.info("Schema registry on port {} stopped", port());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Operations; all under the state lock, since the log and the state are single-threaded.

    private void catchUp() {
        synchronized (state) {
            schemaLog.readNew().forEach(state::apply);
        }
    }

    private ObjectNode register(String subject, JsonNode body) {
        String schema = schemaOf(body);
        synchronized (state) {
            for (int round = 0; round < MAX_REGISTRATION_ROUNDS; round++) {
                catchUp();
                Integer version = state.versionOf(subject, schema);
                if (version != null) {
                    return json.createObjectNode().put("id", state.idOf(subject, version));
                }
                List<String> problems = incompatibilities(subject, schema, state.effectiveLevel(subject));
                if (!problems.isEmpty()) {
                    throw new RegistryError(409, SchemaRegistryException.INCOMPATIBLE_SCHEMA,
                            "Schema being registered is incompatible with an earlier schema for subject \""
                                    + subject + "\", details: " + problems);
                }
                int id = state.idFor(schema);
                int newVersion = state.nextVersion(subject);
                schemaLog.append(new SchemaEntry(subject, newVersion, id, schema));
                log.info("Registered schema id {} as version {} of {}", id, newVersion, subject);
                // Reading back applies our entry, or shows that another registry won the race; then go again.
            }
        }
        throw new RegistryError(500, SchemaRegistryException.INTERNAL_ERROR,
                "could not register under " + subject + ": other writers of the schema log kept winning");
    }

    private ObjectNode lookup(String subject, JsonNode body) {
        String schema = schemaOf(body);
        synchronized (state) {
            catchUp();
            requireSubject(subject);
            Integer version = state.versionOf(subject, schema);
            if (version == null) {
                throw new RegistryError(404, SchemaRegistryException.SCHEMA_NOT_FOUND,
                        "Schema not found under subject " + subject);
            }
            return versionJson(subject, version);
        }
    }

    private ObjectNode getVersion(String subject, String versionText) {
        synchronized (state) {
            catchUp();
            requireSubject(subject);
            return versionJson(subject, resolveVersion(subject, versionText));
        }
    }

    private ObjectNode schemaById(int id) {
        synchronized (state) {
            if (state.schema(id).isEmpty()) {
                catchUp(); // another registry sharing the log may have just registered it
            }
            String schema = state.schema(id).orElseThrow(() -> new RegistryError(404,
                    SchemaRegistryException.SCHEMA_NOT_FOUND, "Schema " + id + " not found"));
            return json.createObjectNode().put("schema", schema);
        }
    }

    private ObjectNode testCompatibility(String subject, String versionText, JsonNode body, boolean verbose) {
        String schema = schemaOf(body);
        synchronized (state) {
            catchUp();
            requireSubject(subject);
            int version = resolveVersion(subject, versionText);
            CompatibilityLevel level = state.effectiveLevel(subject);
            // Checking against one version: "transitive" has nothing more to look at.
            List<Schema> against = List.of(parse(state.schema(state.idOf(subject, version)).orElseThrow()));
            List<String> problems = CompatibilityChecker.check(level, parse(schema), against);
            ObjectNode answer = json.createObjectNode().put("is_compatible", problems.isEmpty());
            if (verbose) {
                ArrayNode messages = answer.putArray("messages");
                problems.forEach(messages::add);
            }
            return answer;
        }
    }

    private ObjectNode getConfig(String subject, boolean defaultToGlobal) {
        synchronized (state) {
            catchUp();
            CompatibilityLevel level;
            if (subject == null) {
                level = state.globalLevel();
            } else if (defaultToGlobal) {
                level = state.effectiveLevel(subject);
            } else {
                level = state.subjectLevel(subject).orElseThrow(() -> new RegistryError(404,
                        SchemaRegistryException.SUBJECT_COMPATIBILITY_NOT_CONFIGURED,
                        "Subject '" + subject + "' does not have subject-level compatibility configured"));
            }
            return json.createObjectNode().put("compatibilityLevel", level.name());
        }
    }

    private ObjectNode putConfig(String subject, JsonNode body) {
        CompatibilityLevel level;
        try {
            level = CompatibilityLevel.valueOf(body.path("compatibility").asText());
        } catch (IllegalArgumentException e) {
            throw new RegistryError(422, SchemaRegistryException.INVALID_COMPATIBILITY_LEVEL,
                    "Invalid compatibility level " + body.path("compatibility"));
        }
        synchronized (state) {
            schemaLog.append(new ConfigEntry(subject, level));
            catchUp();
        }
        log.info("Compatibility of {} set to {}", subject == null ? "the registry" : subject, level);
        return json.createObjectNode().put("compatibility", level.name());
    }

    private List<String> incompatibilities(String subject, String schema, CompatibilityLevel level) {
        List<Schema> earlier = new ArrayList<>();
        for (int version : state.versions(subject)) {
            earlier.add(parse(state.schema(state.idOf(subject, version)).orElseThrow()));
        }
        return CompatibilityChecker.check(level, parse(schema), earlier);
    }

    private void requireSubject(String subject) {
        if (!state.hasSubject(subject)) {
            throw new RegistryError(404, SchemaRegistryException.SUBJECT_NOT_FOUND,
                    "Subject '" + subject + "' not found.");
        }
    }

    private int resolveVersion(String subject, String versionText) {
        List<Integer> versions = state.versions(subject);
        if ("latest".equals(versionText) || "-1".equals(versionText)) {
            return versions.get(versions.size() - 1);
        }
        int version;
        try {
            version = Integer.parseInt(versionText);
        } catch (NumberFormatException e) {
            throw new RegistryError(422, SchemaRegistryException.INVALID_VERSION,
                    "The specified version '" + versionText + "' is not a valid version id.");
        }
        if (!versions.contains(version)) {
            throw new RegistryError(404, SchemaRegistryException.VERSION_NOT_FOUND,
                    "Version " + version + " not found.");
        }
        return version;
    }

    private ObjectNode versionJson(String subject, int version) {
        int id = state.idOf(subject, version);
        return json.createObjectNode()
                .put("subject", subject)
                .put("version", version)
                .put("id", id)
                .put("schema", state.schema(id).orElseThrow());
    }

    /** The normalized schema of a registration or lookup body, refusing what this registry cannot hold. */
    private static String schemaOf(JsonNode body) {
        String type = body.path("schemaType").asText("AVRO");
        if (!"AVRO".equals(type)) {
            throw new RegistryError(422, SchemaRegistryException.INVALID_SCHEMA,
                    "Schema type " + type + " is not supported by this registry; only AVRO is");
        }
        if (body.path("references").size() > 0) {
            throw new RegistryError(422, SchemaRegistryException.INVALID_SCHEMA,
                    "Schema references are not supported by this registry");
        }
        if (!body.path("schema").isTextual()) {
            throw new RegistryError(422, SchemaRegistryException.INVALID_SCHEMA, "Request has no \"schema\" text");
        }
        try {
            return RegistryState.normalize(body.get("schema").asText());
        } catch (SchemaParseException e) {
            throw new RegistryError(422, SchemaRegistryException.INVALID_SCHEMA,
                    "Invalid schema: " + e.getMessage());
        }
    }

    private static Schema parse(String schema) {
        return new Schema.Parser().parse(schema);
    }

    // ---------------------------------------------------------------------------------------------------------
    // HTTP

    /** An error to answer in Confluent's form. */
    private static final class RegistryError extends RuntimeException {
        final int status;
        final int errorCode;

        RegistryError(int status, int errorCode, String message) {
            super(message);
            this.status = status;
            this.errorCode = errorCode;
        }
    }

    /** What a route handler receives: the path's captured groups, query parameters and parsed body. */
    private record Call(Matcher path, Map<String, String> query, JsonNode body) {
        String segment(int group) {
            return decode(path.group(group));
        }
    }

    @FunctionalInterface
    private interface Handler {
        JsonNode handle(Call call);
    }

    private record Route(String method, Pattern path, Handler handler) {
    }

    private void route(String method, String pathRegex, Handler handler) {
        routes.add(new Route(method, Pattern.compile(pathRegex), handler));
    }

    private void defineRoutes() {
        route("GET", "/?", call -> json.createObjectNode());
        route("GET", "/schemas/types", call -> json.createArrayNode().add("AVRO"));
        route("GET", "/subjects", call -> {
            ArrayNode subjects = json.createArrayNode();
            synchronized (state) {
                catchUp();
                state.subjects().forEach(subjects::add);
            }
            return subjects;
        });
        route("GET", "/subjects/([^/]+)/versions", call -> {
            ArrayNode versions = json.createArrayNode();
            synchronized (state) {
                catchUp();
                requireSubject(call.segment(1));
                state.versions(call.segment(1)).forEach(versions::add);
            }
            return versions;
        });
        route("POST", "/subjects/([^/]+)/versions", call -> register(call.segment(1), call.body()));
        route("POST", "/subjects/([^/]+)", call -> lookup(call.segment(1), call.body()));
        route("GET", "/subjects/([^/]+)/versions/([^/]+)", call -> getVersion(call.segment(1), call.segment(2)));
        route("GET", "/schemas/ids/(\\d+)", call -> schemaById(Integer.parseInt(call.segment(1))));
        route("POST", "/compatibility/subjects/([^/]+)/versions/([^/]+)", call -> testCompatibility(
                call.segment(1), call.segment(2), call.body(), "true".equals(call.query().get("verbose"))));
        route("GET", "/config", call -> getConfig(null, false));
        route("PUT", "/config", call -> putConfig(null, call.body()));
        route("GET", "/config/([^/]+)", call -> getConfig(call.segment(1),
                "true".equals(call.query().get("defaultToGlobal"))));
        route("PUT", "/config/([^/]+)", call -> putConfig(call.segment(1), call.body()));
    }

    private void handle(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        String rawPath = exchange.getRequestURI().getRawPath().substring(basePath.length());
        int status = 200;
        JsonNode answer;
        try {
            answer = dispatch(method, rawPath, exchange);
        } catch (RegistryError e) {
            status = e.status;
            answer = errorJson(e.errorCode, e.getMessage());
        } catch (IOException | RuntimeException e) {
            log.warn("Schema registry failed on {} {}", method, rawPath, e);
            status = 500;
            answer = errorJson(SchemaRegistryException.INTERNAL_ERROR, "Internal error: " + e);
        }
        byte[] bytes = json.writeValueAsBytes(answer);
        exchange.getResponseHeaders().set("Content-Type", SchemaRegistryClient.CONTENT_TYPE);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private JsonNode dispatch(String method, String rawPath, HttpExchange exchange) throws IOException {
        boolean pathKnown = false;
        for (Route route : routes) {
            Matcher matcher = route.path().matcher(rawPath);
            if (!matcher.matches()) {
                continue;
            }
            pathKnown = true;
            if (route.method().equals(method)) {
                JsonNode body = readBody(exchange);
                return route.handler().handle(new Call(matcher, query(exchange), body));
            }
        }
        throw pathKnown
                ? new RegistryError(405, 405, "HTTP method " + method + " not allowed on " + rawPath)
                : new RegistryError(404, 404, "HTTP 404 Not Found: " + rawPath);
    }

    private static JsonNode readBody(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            byte[] bytes = in.readAllBytes();
            if (bytes.length == 0) {
                return json.createObjectNode();
            }
            try {
                return json.readTree(bytes);
            } catch (IOException e) {
                throw new RegistryError(400, 400, "Unparseable JSON body: " + e.getMessage());
            }
        }
    }

    private static Map<String, String> query(HttpExchange exchange) {
        Map<String, String> query = new HashMap<>();
        String raw = exchange.getRequestURI().getRawQuery();
        if (raw != null) {
            for (String pair : raw.split("&")) {
                int eq = pair.indexOf('=');
                query.put(decode(eq < 0 ? pair : pair.substring(0, eq)), eq < 0 ? "" : decode(pair.substring(eq + 1)));
            }
        }
        return query;
    }

    /** Decodes a path segment; a "+" in a path is a plus sign, not a space. */
    private static String decode(String segment) {
        return URLDecoder.decode(segment.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    private static ObjectNode errorJson(int errorCode, String message) {
        return json.createObjectNode().put("error_code", errorCode).put("message", message);
    }

    /** Settings of an embedded registry. */
    public static final class Builder {
        private Map<String, Object> kafkaConfig;
        private String topic = KafkaSchemaLog.DEFAULT_TOPIC;
        private int replicationFactor = -1;
        private SchemaLog schemaLog;
        private int port;
        private String basePath = "";

        private Builder() {
        }

        /** Keep schemas in the {@code _schemas} topic of this cluster. */
        public Builder kafka(String bootstrapServers) {
            return kafka(Map.of(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers));
        }

        /** Keep schemas in a topic of the cluster these client settings (security included) reach. */
        public Builder kafka(Map<String, Object> clientConfig) {
            this.kafkaConfig = new HashMap<>(clientConfig);
            return this;
        }

        public Builder topic(String topic) {
            this.topic = topic;
            return this;
        }

        /** Replication of the schema topic when it is created; by default min(3, brokers). */
        public Builder replicationFactor(int replicationFactor) {
            this.replicationFactor = replicationFactor;
            return this;
        }

        /** Keep schemas in this log instead of Kafka. */
        public Builder schemaLog(SchemaLog schemaLog) {
            this.schemaLog = schemaLog;
            return this;
        }

        /** Port on the loopback interface; 0 (the default) picks a free one. */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** Path prefix to serve under, as Apicurio does with {@code /apis/ccompat/v7}. */
        public Builder basePath(String basePath) {
            String trimmed = basePath.endsWith("/") ? basePath.substring(0, basePath.length() - 1) : basePath;
            this.basePath = trimmed.isEmpty() || trimmed.startsWith("/") ? trimmed : "/" + trimmed;
            return this;
        }

        public EmbeddedSchemaRegistry start() {
            SchemaLog logToUse = schemaLog != null ? schemaLog
                    : kafkaConfig != null ? new KafkaSchemaLog(kafkaConfig, topic, replicationFactor)
                    : SchemaLog.inMemory();
            try {
                return new EmbeddedSchemaRegistry(logToUse, port, basePath);
            } catch (IOException | RuntimeException e) {
                logToUse.close();
                throw new IllegalStateException("could not start the schema registry: " + e.getMessage(), e);
            }
        }
    }
}
