package io.slmclassifier.kafka.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import org.apache.avro.Schema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client of the Confluent schema-registry REST protocol, the subset this project needs.
 *
 * <p>Speaks to Confluent Schema Registry, Apicurio (base URL {@code http://host/apis/ccompat/v7}), Karapace,
 * Redpanda and {@code EmbeddedSchemaRegistry} (devkit). Schemas by id and ids by (subject, schema) are cached forever:
 * both are immutable once registered, and the serializers ask for them on every record.
 *
 * <p>Server errors (5xx, 429) and I/O failures are retried with exponential backoff, trying the next URL when
 * several are configured; client errors (4xx) are not, they will not go away. Errors surface as
 * {@link SchemaRegistryException} subclasses carrying the registry's own message.
 */
public final class SchemaRegistryClient {

    public static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";

    // Configuration keys, named as the Confluent serializers name them so existing configuration carries over.
    public static final String URL_CONFIG = "schema.registry.url";
    public static final String BASIC_AUTH_USER_INFO_CONFIG = "basic.auth.user.info";
    public static final String BEARER_AUTH_TOKEN_CONFIG = "bearer.auth.token";
    public static final String MAX_RETRIES_CONFIG = "schema.registry.max.retries";
    public static final String RETRY_BACKOFF_MS_CONFIG = "schema.registry.retry.backoff.ms";
    public static final String RETRY_BACKOFF_MAX_MS_CONFIG = "schema.registry.retry.backoff.max.ms";
    public static final String REQUEST_TIMEOUT_MS_CONFIG = "schema.registry.request.timeout.ms";

    private static final Logger log = LoggerFactory.getLogger(SchemaRegistryClient.class);
    private static final ObjectMapper json = new ObjectMapper();

    private final List<String> baseUrls;
    private final Supplier<String> authorizationHeader;
    private final int maxRetries;
    private final Duration initialBackoff;
    private final Duration maxBackoff;
    private final Duration requestTimeout;
    private final HttpClient http;

    private final Map<Integer, Schema> schemaById = new ConcurrentHashMap<>();
    private final Map<String, Map<Schema, Integer>> idBySubjectAndSchema = new ConcurrentHashMap<>();

    private SchemaRegistryClient(Builder builder) {
        this.baseUrls = builder.baseUrls;
        this.authorizationHeader = builder.authorizationHeader;
        this.maxRetries = builder.maxRetries;
        this.initialBackoff = builder.initialBackoff;
        this.maxBackoff = builder.maxBackoff;
        this.requestTimeout = builder.requestTimeout;
        // HTTP/1.1: the default HTTP/2 client sends an h2c upgrade that some registries and proxies mishandle.
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(builder.requestTimeout)
                .build();
    }

    /** A builder for one URL or a comma-separated list of URLs (tried in turn when one fails). */
    public static Builder builder(String urls) {
        return new Builder(urls);
    }

    /**
     * A client from serializer-style configuration: {@value #URL_CONFIG} (required), {@value
     * #BASIC_AUTH_USER_INFO_CONFIG} ("user:password"), {@value #BEARER_AUTH_TOKEN_CONFIG}, and the retry and
     * timeout settings above.
     */
    public static SchemaRegistryClient fromConfig(Map<String, ?> config) {
        Object url = config.get(URL_CONFIG);
        if (url == null || url.toString().isBlank()) {
            throw new IllegalArgumentException(URL_CONFIG + " is not set");
        }
        Builder builder = builder(url.toString());
        String userInfo = stringOrNull(config.get(BASIC_AUTH_USER_INFO_CONFIG));
        if (userInfo != null) {
            int colon = userInfo.indexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException(BASIC_AUTH_USER_INFO_CONFIG + " must be user:password");
            }
            builder.basicAuth(userInfo.substring(0, colon), userInfo.substring(colon + 1));
        }
        String token = stringOrNull(config.get(BEARER_AUTH_TOKEN_CONFIG));
        if (token != null) {
            builder.bearerToken(token);
        }
        if (config.get(MAX_RETRIES_CONFIG) != null) {
            builder.maxRetries(Integer.parseInt(config.get(MAX_RETRIES_CONFIG).toString()));
        }
        if (config.get(RETRY_BACKOFF_MS_CONFIG) != null || config.get(RETRY_BACKOFF_MAX_MS_CONFIG) != null) {
            long initial = longOr(config.get(RETRY_BACKOFF_MS_CONFIG), builder.initialBackoff.toMillis());
            long max = longOr(config.get(RETRY_BACKOFF_MAX_MS_CONFIG), Math.max(initial, builder.maxBackoff.toMillis()));
            builder.backoff(Duration.ofMillis(initial), Duration.ofMillis(max));
        }
        if (config.get(REQUEST_TIMEOUT_MS_CONFIG) != null) {
            builder.requestTimeout(Duration.ofMillis(Long.parseLong(config.get(REQUEST_TIMEOUT_MS_CONFIG).toString())));
        }
        return builder.build();
    }

    /** The registry's URLs, without any credentials they were given with: fit for messages. */
    public String urls() {
        return String.join(",", baseUrls);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Subjects and versions

    /**
     * Registers the schema under the subject and returns its global id. Registering a schema that is already
     * there returns the existing id and creates no version.
     *
     * @throws SchemaRegistryException.IncompatibleSchemaException when it breaks the subject's compatibility rule
     */
    public int register(String subject, Schema schema) {
        Integer cached = cachedId(subject, schema);
        if (cached != null) {
            return cached;
        }
        JsonNode answer = send("POST", "/subjects/" + encode(subject) + "/versions", schemaBody(schema));
        int id = answer.path("id").asInt(-1);
        if (id < 0) {
            throw new SchemaRegistryException(200, -1, "registry answered a registration without an id: " + answer);
        }
        remember(subject, schema, id);
        return id;
    }

    /**
     * Finds the schema under the subject without registering it.
     *
     * @throws SchemaRegistryException.SubjectNotFoundException when the subject does not exist (40401)
     * @throws SchemaRegistryException.SchemaNotFoundException when the schema is not registered under it (40403)
     */
    public RegisteredSchema lookup(String subject, Schema schema) {
        JsonNode answer = send("POST", "/subjects/" + encode(subject), schemaBody(schema));
        RegisteredSchema found = new RegisteredSchema(
                answer.path("subject").asText(subject), answer.path("version").asInt(), answer.path("id").asInt(),
                schema);
        remember(subject, schema, found.id());
        return found;
    }

    /**
     * The id of the schema under the subject, from the cache when possible; registers it when {@code register}
     * is true, otherwise only looks it up. This is what a serializer calls for every record.
     */
    public int idFor(String subject, Schema schema, boolean register) {
        Integer cached = cachedId(subject, schema);
        if (cached != null) {
            return cached;
        }
        return register ? register(subject, schema) : lookup(subject, schema).id();
    }

    /** The latest version of a subject; never cached since it changes. */
    public RegisteredSchema latest(String subject) {
        return version(subject, "latest");
    }

    /** A given version of a subject. */
    public RegisteredSchema version(String subject, int version) {
        return version(subject, Integer.toString(version));
    }

    private RegisteredSchema version(String subject, String version) {
        JsonNode answer = send("GET", "/subjects/" + encode(subject) + "/versions/" + version, null);
        Schema schema = parse(answer.path("schema").asText());
        RegisteredSchema found = new RegisteredSchema(
                answer.path("subject").asText(subject), answer.path("version").asInt(), answer.path("id").asInt(),
                schema);
        schemaById.putIfAbsent(found.id(), schema);
        return found;
    }

    /** All subjects. */
    public List<String> subjects() {
        JsonNode answer = send("GET", "/subjects", null);
        List<String> subjects = new ArrayList<>();
        answer.forEach(node -> subjects.add(node.asText()));
        return subjects;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Schemas by id

    /**
     * The schema with this global id, from the cache when possible.
     *
     * @throws SchemaRegistryException.SchemaNotFoundException when the registry knows no such id (40403)
     */
    public Schema schemaById(int id) {
        Schema cached = schemaById.get(id);
        if (cached != null) {
            return cached;
        }
        JsonNode answer = send("GET", "/schemas/ids/" + id, null);
        String type = answer.path("schemaType").asText("AVRO");
        if (!"AVRO".equals(type)) {
            throw new SchemaRegistryException(200, -1, "schema " + id + " is of type " + type + ", not AVRO");
        }
        Schema schema = parse(answer.path("schema").asText());
        Schema previous = schemaById.putIfAbsent(id, schema);
        return previous != null ? previous : schema;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Compatibility

    /** The result of a compatibility check; {@code messages} explains an incompatibility when the registry says. */
    public record CompatibilityCheck(boolean compatible, List<String> messages) {
    }

    /** Checks the schema against the latest version of the subject, as its compatibility rule says. */
    public CompatibilityCheck testCompatibility(String subject, Schema schema) {
        JsonNode answer = send("POST", "/compatibility/subjects/" + encode(subject) + "/versions/latest?verbose=true",
                schemaBody(schema));
        List<String> messages = new ArrayList<>();
        answer.path("messages").forEach(node -> messages.add(node.asText()));
        return new CompatibilityCheck(answer.path("is_compatible").asBoolean(false), messages);
    }

    /** The registry-wide compatibility level. */
    public CompatibilityLevel compatibility() {
        return levelOf(send("GET", "/config", null));
    }

    /** The subject's compatibility level, falling back to the registry-wide level when the subject has none. */
    public CompatibilityLevel compatibility(String subject) {
        return levelOf(send("GET", "/config/" + encode(subject) + "?defaultToGlobal=true", null));
    }

    /** Sets the registry-wide compatibility level. */
    public void setCompatibility(CompatibilityLevel level) {
        send("PUT", "/config", compatibilityBody(level));
    }

    /** Sets the subject's compatibility level. */
    public void setCompatibility(String subject, CompatibilityLevel level) {
        send("PUT", "/config/" + encode(subject), compatibilityBody(level));
    }

    private static CompatibilityLevel levelOf(JsonNode answer) {
        // GET answers "compatibilityLevel"; some registries answer "compatibility" as PUT does.
        String level = answer.has("compatibilityLevel")
                ? answer.get("compatibilityLevel").asText()
                : answer.path("compatibility").asText();
        return CompatibilityLevel.valueOf(level);
    }

    private static String compatibilityBody(CompatibilityLevel level) {
        return json.createObjectNode().put("compatibility", level.name()).toString();
    }

    // ---------------------------------------------------------------------------------------------------------
    // HTTP

    private JsonNode send(String method, String path, String body) {
        String request = method + " " + path;
        int attempts = maxRetries + 1;
        Duration backoff = initialBackoff;
        for (int attempt = 1; ; attempt++) {
            String baseUrl = baseUrls.get((attempt - 1) % baseUrls.size());
            String failure;
            Throwable cause = null;
            try {
                HttpResponse<String> response = http.send(buildRequest(baseUrl, method, path, body),
                        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                int status = response.statusCode();
                if (status >= 200 && status < 300) {
                    return response.body() == null || response.body().isBlank()
                            ? json.createObjectNode()
                            : json.readTree(response.body());
                }
                SchemaRegistryException error = errorOf(status, response.body(), request);
                if (!isRetryable(status)) {
                    throw error;
                }
                failure = error.getMessage();
                if (attempt >= attempts) {
                    throw error;
                }
            } catch (IOException e) {
                failure = e.toString();
                cause = e;
                if (attempt >= attempts) {
                    throw new SchemaRegistryException("schema registry at " + baseUrl + " failed for " + request
                            + " after " + attempts + " attempts: " + failure, e);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SchemaRegistryException("interrupted during " + request, e);
            }
            log.warn("Schema registry request {} to {} failed (attempt {} of {}), retrying in {} ms: {}",
                    request, baseUrl, attempt, attempts, backoff.toMillis(), failure);
            log.debug("Cause of the failed attempt", cause);
            sleep(jittered(backoff));
            backoff = backoff.multipliedBy(2).compareTo(maxBackoff) > 0 ? maxBackoff : backoff.multipliedBy(2);
        }
    }

    private HttpRequest buildRequest(String baseUrl, String method, String path, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(requestTimeout)
                .header("Accept", CONTENT_TYPE + ", application/json")
                .method(method, body == null
                        ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (body != null) {
            request.header("Content-Type", CONTENT_TYPE);
        }
        if (authorizationHeader != null) {
            request.header("Authorization", authorizationHeader.get());
        }
        return request.build();
    }

    private static boolean isRetryable(int status) {
        return status >= 500 || status == 429;
    }

    private static SchemaRegistryException errorOf(int status, String body, String request) {
        int errorCode = status;
        String message = body == null || body.isBlank() ? "HTTP " + status : body.strip();
        try {
            JsonNode error = json.readTree(body);
            if (error != null && error.has("error_code")) {
                errorCode = error.get("error_code").asInt(status);
                message = error.path("message").asText(message);
            }
        } catch (IOException | RuntimeException notJson) {
            // A proxy's HTML error page, say: keep the raw body as the message.
        }
        return SchemaRegistryException.fromResponse(status, errorCode, message, request);
    }

    private static Duration jittered(Duration backoff) {
        // Up to 20% jitter so that many clients failing together do not retry together.
        long millis = backoff.toMillis();
        return Duration.ofMillis(millis + ThreadLocalRandom.current().nextLong(millis / 5 + 1));
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaRegistryException("interrupted while waiting to retry", e);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers

    private Integer cachedId(String subject, Schema schema) {
        Map<Schema, Integer> ids = idBySubjectAndSchema.get(subject);
        return ids == null ? null : ids.get(schema);
    }

    private void remember(String subject, Schema schema, int id) {
        idBySubjectAndSchema.computeIfAbsent(subject, s -> new ConcurrentHashMap<>()).put(schema, id);
        schemaById.putIfAbsent(id, schema);
    }

    private static String schemaBody(Schema schema) {
        // No "schemaType": AVRO is the default, and older registries reject the field.
        ObjectNode body = json.createObjectNode();
        body.put("schema", schema.toString());
        return body.toString();
    }

    private static Schema parse(String schemaText) {
        return new Schema.Parser().parse(schemaText);
    }

    /** Encodes a subject as one path segment ("+" is a literal plus in a path, so spaces become %20). */
    static String encode(String subject) {
        return URLEncoder.encode(subject, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String stringOrNull(Object value) {
        return value == null || value.toString().isBlank() ? null : value.toString();
    }

    private static long longOr(Object value, long fallback) {
        return value == null ? fallback : Long.parseLong(value.toString());
    }

    /** Settings of a client. */
    public static final class Builder {
        private final List<String> baseUrls;
        private Supplier<String> authorizationHeader;
        private int maxRetries = 3;
        private Duration initialBackoff = Duration.ofMillis(100);
        private Duration maxBackoff = Duration.ofSeconds(2);
        private Duration requestTimeout = Duration.ofSeconds(10);

        private Builder(String urls) {
            Objects.requireNonNull(urls, "urls");
            List<String> parsed = new ArrayList<>();
            for (String url : Arrays.asList(urls.split(","))) {
                String trimmed = url.strip();
                if (trimmed.isEmpty()) {
                    continue;
                }
                URI uri;
                try {
                    uri = new URI(trimmed);
                } catch (URISyntaxException e) {
                    throw new IllegalArgumentException("not a URL: " + redact(trimmed));
                }
                if (uri.getScheme() == null || uri.getHost() == null) {
                    throw new IllegalArgumentException("not an http(s) URL: " + redact(trimmed));
                }
                if (uri.getRawUserInfo() != null) {
                    // http://user:password@host is how some deployments pass credentials; move them to a header
                    // (decoded: p%40ss is p@ss), and out of the URL, which reaches logs and error messages.
                    String userInfo = uri.getUserInfo();
                    int colon = userInfo.indexOf(':');
                    basicAuth(colon < 0 ? userInfo : userInfo.substring(0, colon),
                            colon < 0 ? "" : userInfo.substring(colon + 1));
                    trimmed = trimmed.replace(uri.getRawUserInfo() + "@", "");
                }
                // Keep any path prefix (Apicurio: /apis/ccompat/v7), drop the trailing slash.
                parsed.add(trimmed.endsWith("/") ? trimmed.substring(0, trimmed.length() - 1) : trimmed);
            }
            if (parsed.isEmpty()) {
                throw new IllegalArgumentException("no schema registry URL given");
            }
            this.baseUrls = List.copyOf(parsed);
        }

        /** The URL without the user and password it may carry, for messages. */
        static String redact(String url) {
            return url.replaceAll("(?<=//)[^/@]*@", "***@");
        }

        /** HTTP basic authentication. */
        public Builder basicAuth(String user, String password) {
            String token = Base64.getEncoder()
                    .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
            this.authorizationHeader = () -> "Basic " + token;
            return this;
        }

        /** A static bearer token. */
        public Builder bearerToken(String token) {
            return bearerToken(() -> token);
        }

        /** A bearer token asked for on every request, so that an OAuth token source can refresh it. */
        public Builder bearerToken(Supplier<String> tokens) {
            this.authorizationHeader = () -> "Bearer " + tokens.get();
            return this;
        }

        /** How many times a request is retried after a server error or I/O failure (0: never). */
        public Builder maxRetries(int maxRetries) {
            if (maxRetries < 0) {
                throw new IllegalArgumentException("maxRetries must be >= 0");
            }
            this.maxRetries = maxRetries;
            return this;
        }

        /** First wait before a retry; it doubles on every retry up to {@code max}. */
        public Builder backoff(Duration initial, Duration max) {
            this.initialBackoff = initial;
            this.maxBackoff = max.compareTo(initial) < 0 ? initial : max;
            return this;
        }

        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = timeout;
            return this;
        }

        public SchemaRegistryClient build() {
            return new SchemaRegistryClient(this);
        }
    }
}
