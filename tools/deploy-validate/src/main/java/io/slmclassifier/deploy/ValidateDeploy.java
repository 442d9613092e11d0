package io.slmclassifier.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import io.kubernetes.client.openapi.JSON;
import java.io.IOException;
import java.io.StringReader;
import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checks the deployment files of the repository; exits non-zero, listing every error, when anything is wrong.
 *
 * <ul>
 *   <li>Kubernetes: every {@code kustomization.yaml} under {@code k8s/} is rendered (resources, namespace, images
 *       and RFC 6902 patches: the subset of kustomize these files use; anything else is refused), and every
 *       object is validated against the Kubernetes OpenAPI schema through the models of Kubernetes' Java client
 *       (unknown fields, missing required fields, wrong types, quantities), plus the API server's name and label
 *       rules. Strimzi {@code KafkaTopic}s and {@code KafkaUser}s are validated against the {@code openAPIV3Schema}
 *       of Strimzi's generated CRDs ({@code strimzi/kafkatopic-crd.yaml}, {@code strimzi/kafkauser-crd.yaml}),
 *       strictly: no field the schema does not declare; a user's ACLs name only topics that are KafkaTopics.</li>
 *   <li>References: selectors against pod labels, the StatefulSet's headless Service, ConfigMap keys, claims,
 *       volume mounts, named ports, Prometheus ports, the task ConfigMap against {@code tasks/}, the topics the
 *       services use against the KafkaTopics, and every {@code SLM_*} variable and properties key against the
 *       keys the services know ({@code processor/processor.properties}, {@code trainer/trainer.properties}). A
 *       configuration of several tasks ({@code tasks}, {@code tasks.dir}) uses each task's topics, named after it.</li>
 *   <li>Compose: the configurations {@code docker compose config} resolved (given as arguments): environment
 *       keys, health-check ports, the topics the topic service creates, Dockerfiles and the FLAVOR argument. Each
 *       Dockerfile has a runtime stage per flavor and its service's stage last, its build sources exist and are not
 *       excluded from the build context by {@code .dockerignore}, and the two differ only in the service.</li>
 * </ul>
 *
 * Usage: {@code ValidateDeploy REPOSITORY_ROOT [RESOLVED_COMPOSE_FILE ...]}
 */
public final class ValidateDeploy {

    private static final Pattern DNS1123_SUBDOMAIN =
            Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    private static final Pattern DNS1123_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    private static final Pattern DNS1035_LABEL = Pattern.compile("[a-z]([-a-z0-9]*[a-z0-9])?");
    private static final Pattern LABEL_VALUE = Pattern.compile("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");
    private static final Pattern LABEL_NAME = Pattern.compile("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");
    private static final Pattern PORT_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");

    /** Built-in kinds these manifests may use, by apiVersion/kind, with the client model that validates them. */
    private static final Map<String, String> BUILTIN = Map.ofEntries(
            Map.entry("v1/ConfigMap", "V1ConfigMap"),
            Map.entry("v1/Secret", "V1Secret"),
            Map.entry("v1/Service", "V1Service"),
            Map.entry("v1/ServiceAccount", "V1ServiceAccount"),
            Map.entry("v1/Namespace", "V1Namespace"),
            Map.entry("v1/PersistentVolumeClaim", "V1PersistentVolumeClaim"),
            Map.entry("apps/v1/StatefulSet", "V1StatefulSet"),
            Map.entry("apps/v1/Deployment", "V1Deployment"),
            Map.entry("policy/v1/PodDisruptionBudget", "V1PodDisruptionBudget"),
            Map.entry("batch/v1/Job", "V1Job"),
            Map.entry("networking.k8s.io/v1/NetworkPolicy", "V1NetworkPolicy"));
    private static final Set<String> CLUSTER_SCOPED = Set.of("Namespace");
    /**
     * Custom resources of operators these manifests may use: Kubernetes' Java models do not know them, so they are
     * written out for {@code custom-resources/validate.mjs} (their published npm models), after the references
     * between them and the other objects are checked here.
     */
    private static final Set<String> CUSTOM = Set.of("monitoring.coreos.com/v1/ServiceMonitor",
            "monitoring.coreos.com/v1/PodMonitor", "keda.sh/v1alpha1/ScaledObject");
    private final ArrayNode customResources = JsonNodeFactory.instance.arrayNode();
    private static final Set<String> KUSTOMIZATION_KEYS = Set.of("apiVersion", "kind", "namespace", "resources", "images", "patches");

    private final Path root;
    private final ObjectMapper yaml = new YAMLMapper();
    private final ObjectMapper json = new ObjectMapper();
    private final Set<String> errors = new LinkedHashSet<>();
    private final Set<Path> covered = new TreeSet<>();
    private final Map<String, Set<String>> knownKeys = new LinkedHashMap<>();
    /** Strimzi's CustomResourceDefinitions (tools/deploy-validate/strimzi/*-crd.yaml) by kind, and their schemas. */
    private final Map<String, ObjectNode> strimziCrds = new LinkedHashMap<>();
    private final Map<String, JsonSchema> strimziSchemas = new LinkedHashMap<>();
    private int checkedObjects;

    private ValidateDeploy(Path root) {
        this.root = root;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: ValidateDeploy REPOSITORY_ROOT [RESOLVED_COMPOSE_FILE ...]");
            System.exit(2);
        }
        ValidateDeploy v = new ValidateDeploy(Path.of(args[0]).toAbsolutePath().normalize());
        List<Path> compose = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            compose.add(Path.of(args[i]));
        }
        v.run(compose);
        Path custom = v.root.resolve("tools/deploy-validate/target/custom-resources.json");
        Files.createDirectories(custom.getParent());
        v.json.writerWithDefaultPrettyPrinter().writeValue(custom.toFile(), v.customResources);
        if (!v.errors.isEmpty()) {
            System.err.println("Deployment files: " + v.errors.size() + " error(s)");
            v.errors.forEach(e -> System.err.println("  " + e));
            System.exit(1);
        }
        System.out.println("Deployment files: " + v.checkedObjects + " Kubernetes objects and " + compose.size()
                + " compose configuration(s) valid");
    }

    private void run(List<Path> composeFiles) throws IOException {
        knownKeys.put("processor", keysOf("processor/processor.properties", "io.slmclassifier.stream.ProcessorConfig"));
        knownKeys.put("trainer", keysOf("trainer/trainer.properties", "io.slmclassifier.train.TrainerConfig"));
        loadStrimziCrds();

        // Kubernetes: render every kustomization, validate every object, then the references between them.
        Path k8s = root.resolve("k8s");
        List<Path> kustomizations;
        try (Stream<Path> s = Files.walk(k8s)) {
            kustomizations = s.filter(p -> p.getFileName().toString().equals("kustomization.yaml")).sorted().toList();
        }
        if (kustomizations.isEmpty()) {
            error("k8s/", "no kustomization.yaml");
        }
        List<Node> topics = new ArrayList<>();
        List<Node> users = new ArrayList<>();
        List<Node> configMaps = new ArrayList<>();
        for (Path k : kustomizations) {
            covered.add(k);
            List<Node> objects;
            try {
                objects = render(k.getParent(), new LinkedHashSet<>());
            } catch (InvalidFile e) {
                error(rel(k), e.getMessage());
                continue;
            }
            Set<String> ids = new LinkedHashSet<>();
            for (Node o : objects) {
                checkedObjects++;
                validateObject(o);
                if (!ids.add(o.kind() + " " + o.namespace() + "/" + o.name())) {
                    error(o.where(), "defined twice in " + rel(k));
                }
                if (o.kind().equals("KafkaTopic")) {
                    topics.add(o);
                } else if (o.kind().equals("KafkaUser")) {
                    users.add(o);
                } else if (o.kind().equals("ConfigMap")) {
                    configMaps.add(o);
                }
            }
            checkReferences(objects);
        }
        try (Stream<Path> s = Files.walk(k8s)) {
            s.filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".yml"))
                    .filter(p -> !covered.contains(p))
                    .forEach(p -> error(rel(p), "not part of any kustomization, so never applied or checked"));
        }
        checkKubernetesTopics(topics, configMaps);
        checkUserAcls(users, topics);

        for (Path c : composeFiles) {
            checkCompose(c);
        }
        for (String service : List.of("processor", "trainer")) {
            checkDockerfile(service);
        }
        checkDockerfilesAlike();
    }

    // ------------------------------------------------------------------------------------------------ kustomize

    private record Node(ObjectNode body, String where) {
        String apiVersion() {
            return body.path("apiVersion").asText();
        }

        String kind() {
            return body.path("kind").asText();
        }

        String name() {
            return body.path("metadata").path("name").asText();
        }

        String namespace() {
            return body.path("metadata").path("namespace").asText();
        }

        String id() {
            return kind() + " " + name();
        }
    }

    private static final class InvalidFile extends Exception {
        private static final long serialVersionUID = 1L;

        InvalidFile(String message) {
            super(message);
        }
    }

    private List<Node> render(Path dir, Set<Path> visiting) throws InvalidFile, IOException {
        Path file = dir.resolve("kustomization.yaml");
        if (!visiting.add(dir)) {
            throw new InvalidFile("kustomization cycle through " + rel(dir));
        }
        if (!Files.isRegularFile(file)) {
            throw new InvalidFile(rel(dir) + " has no kustomization.yaml");
        }
        covered.add(file);
        JsonNode k = readOne(file);
        for (Iterator<String> it = k.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!KUSTOMIZATION_KEYS.contains(key)) {
                throw new InvalidFile(rel(file) + ": '" + key + "' is not supported here (supported: " + KUSTOMIZATION_KEYS + ")");
            }
        }
        if (!"kustomize.config.k8s.io/v1beta1".equals(k.path("apiVersion").asText())
                || !"Kustomization".equals(k.path("kind").asText())) {
            throw new InvalidFile(rel(file) + ": apiVersion kustomize.config.k8s.io/v1beta1 and kind Kustomization expected");
        }
        List<Node> out = new ArrayList<>();
        for (JsonNode r : k.path("resources")) {
            Path p = dir.resolve(r.asText()).normalize();
            if (Files.isDirectory(p)) {
                out.addAll(render(p, visiting));
            } else if (Files.isRegularFile(p)) {
                covered.add(p);
                int i = 0;
                for (JsonNode doc : readAll(p)) {
                    i++;
                    if (!doc.isObject()) {
                        throw new InvalidFile(rel(p) + " document " + i + " is not a mapping");
                    }
                    out.add(new Node(((ObjectNode) doc).deepCopy(), rel(p) + " #" + i));
                }
            } else {
                throw new InvalidFile(rel(file) + ": resource " + r.asText() + " not found");
            }
        }
        for (JsonNode patch : k.path("patches")) {
            applyPatch(dir, file, patch, out);
        }
        for (JsonNode image : k.path("images")) {
            applyImage(file, image, out);
        }
        if (k.has("namespace")) {
            for (Node o : out) {
                if (!CLUSTER_SCOPED.contains(o.kind())) {
                    o.body().withObjectProperty("metadata").put("namespace", k.get("namespace").asText());
                }
            }
        }
        visiting.remove(dir);
        return out;
    }

    private void applyPatch(Path dir, Path file, JsonNode patch, List<Node> objects) throws InvalidFile, IOException {
        Set<String> allowed = Set.of("path", "target");
        for (Iterator<String> it = patch.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!allowed.contains(key)) {
                throw new InvalidFile(rel(file) + ": patch field '" + key + "' is not supported here (path and target only)");
            }
        }
        Path p = dir.resolve(patch.path("path").asText()).normalize();
        if (!Files.isRegularFile(p)) {
            throw new InvalidFile(rel(file) + ": patch " + patch.path("path").asText() + " not found");
        }
        covered.add(p);
        JsonNode ops = readOne(p);
        if (!ops.isArray()) {
            throw new InvalidFile(rel(p) + ": a JSON patch (a list of operations) is expected");
        }
        JsonNode target = patch.path("target");
        int matched = 0;
        for (Node o : objects) {
            String group = o.apiVersion().contains("/") ? o.apiVersion().substring(0, o.apiVersion().indexOf('/')) : "";
            String version = o.apiVersion().substring(o.apiVersion().indexOf('/') + 1);
            if (target.has("group") && !target.get("group").asText().equals(group)
                    || target.has("version") && !target.get("version").asText().equals(version)
                    || target.has("kind") && !target.get("kind").asText().equals(o.kind())
                    || target.has("name") && !target.get("name").asText().equals(o.name())) {
                continue;
            }
            matched++;
            for (JsonNode op : ops) {
                try {
                    JsonPatch.apply(o.body(), op);
                } catch (IllegalArgumentException e) {
                    throw new InvalidFile(rel(p) + ": " + e.getMessage() + " (on " + o.id() + ")");
                }
            }
        }
        if (matched == 0) {
            throw new InvalidFile(rel(file) + ": patch " + patch.path("path").asText() + " matches no resource");
        }
    }

    private void applyImage(Path file, JsonNode image, List<Node> objects) throws InvalidFile {
        String name = image.path("name").asText();
        int matched = 0;
        for (Node o : objects) {
            for (JsonNode c : containers(o)) {
                String ref = c.path("image").asText();
                int slash = ref.lastIndexOf('/');
                int colon = ref.lastIndexOf(':');
                int at = ref.indexOf('@');
                int end = at >= 0 ? at : colon > slash ? colon : ref.length();
                if (!ref.substring(0, end).equals(name)) {
                    continue;
                }
                matched++;
                String newName = image.has("newName") ? image.get("newName").asText() : name;
                String tag = image.has("digest") ? "@" + image.get("digest").asText()
                        : image.has("newTag") ? ":" + image.get("newTag").asText() : ref.substring(end);
                ((ObjectNode) c).put("image", newName + tag);
            }
        }
        if (matched == 0) {
            throw new InvalidFile(rel(file) + ": image " + name + " is used by no container");
        }
    }

    // ------------------------------------------------------------------------------------------------ objects

    private void validateObject(Node o) {
        String where = o.where() + " (" + o.id() + ")";
        if (o.name().isEmpty()) {
            error(o.where(), "metadata.name missing");
            return;
        }
        checkMetadata(where, o.kind(), o.body().path("metadata"));
        String key = o.apiVersion() + "/" + o.kind();
        if (o.apiVersion().startsWith("kafka.strimzi.io/")) {
            validateStrimzi(o, where);
            return;
        }
        if (CUSTOM.contains(key)) {
            customResources.addObject().put("where", where).set("object", o.body());
            return;
        }
        String model = BUILTIN.get(key);
        if (model == null) {
            error(where, "no schema here for apiVersion " + o.apiVersion() + " kind " + o.kind());
            return;
        }
        validateModel(where, model, o.body());
        JsonNode spec = o.body().path("spec");
        if (o.kind().equals("StatefulSet") || o.kind().equals("Deployment")) {
            JsonNode pod = spec.path("template").path("spec");
            for (String list : List.of("containers", "initContainers")) {
                for (JsonNode c : pod.path(list)) {
                    checkName(where, "container name", c.path("name").asText(), DNS1123_LABEL, 63);
                    for (JsonNode port : c.path("ports")) {
                        if (port.has("name")) {
                            checkPortName(where, port.get("name").asText());
                        }
                    }
                }
            }
            checkMetadata(where, "pod template", spec.path("template").path("metadata"));
        }
        if (o.kind().equals("Service")) {
            for (JsonNode port : spec.path("ports")) {
                if (port.has("name")) {
                    checkPortName(where, port.get("name").asText());
                }
            }
        }
    }

    private void validateModel(String where, String model, JsonNode body) {
        try {
            Class<?> cls = Class.forName("io.kubernetes.client.openapi.models." + model);
            String text = json.writeValueAsString(body);
            JsonElement element = JsonParser.parseString(text);
            cls.getMethod("validateJsonElement", JsonElement.class).invoke(null, element);
            // Typed reading on top: numbers, quantities, int-or-string, dates.
            JSON.deserialize(text, cls);
        } catch (InvocationTargetException e) {
            error(where, brief(e.getCause().getMessage()));
        } catch (RuntimeException e) {
            error(where, brief(String.valueOf(e.getMessage())));
        } catch (ReflectiveOperationException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void checkMetadata(String where, String kind, JsonNode metadata) {
        if (metadata.has("name")) {
            String name = metadata.get("name").asText();
            switch (kind) {
                case "Service" -> checkName(where, "Service name", name, DNS1035_LABEL, 63);
                case "Namespace" -> checkName(where, "Namespace name", name, DNS1123_LABEL, 63);
                case "StatefulSet" -> checkName(where, "StatefulSet name (pod host names)", name, DNS1123_LABEL, 52);
                default -> checkName(where, "name", name, DNS1123_SUBDOMAIN, 253);
            }
        }
        if (metadata.has("namespace")) {
            checkName(where, "namespace", metadata.get("namespace").asText(), DNS1123_LABEL, 63);
        }
        metadata.path("labels").properties().forEach(e -> {
            checkQualifiedName(where, "label", e.getKey());
            if (!e.getValue().isTextual()) {
                error(where, "label " + e.getKey() + " must be a string (quote it)");
            } else if (e.getValue().asText().length() > 63 || !LABEL_VALUE.matcher(e.getValue().asText()).matches()) {
                error(where, "label " + e.getKey() + ": invalid value '" + e.getValue().asText() + "'");
            }
        });
        metadata.path("annotations").properties().forEach(e -> {
            checkQualifiedName(where, "annotation", e.getKey());
            if (!e.getValue().isTextual()) {
                error(where, "annotation " + e.getKey() + " must be a string (quote it)");
            }
        });
    }

    private void checkQualifiedName(String where, String what, String key) {
        String name = key.contains("/") ? key.substring(key.indexOf('/') + 1) : key;
        String prefix = key.contains("/") ? key.substring(0, key.indexOf('/')) : null;
        if (name.length() > 63 || !LABEL_NAME.matcher(name).matches()
                || prefix != null && (prefix.length() > 253 || !DNS1123_SUBDOMAIN.matcher(prefix).matches())) {
            error(where, what + " key '" + key + "' is not a valid qualified name");
        }
    }

    private void checkName(String where, String what, String name, Pattern pattern, int max) {
        if (name.length() > max || !pattern.matcher(name).matches()) {
            error(where, what + " '" + name + "' is invalid (" + pattern.pattern() + ", at most " + max + " characters)");
        }
    }

    private void checkPortName(String where, String name) {
        if (name.length() > 15 || !PORT_NAME.matcher(name).matches() || !name.matches(".*[a-z].*") || name.contains("--")) {
            error(where, "port name '" + name + "' is not a valid IANA service name");
        }
    }

    // ------------------------------------------------------------------------------------------------ Strimzi

    private void loadStrimziCrds() throws IOException {
        for (String file : List.of("kafkatopic-crd.yaml", "kafkauser-crd.yaml")) {
            ObjectNode crd = (ObjectNode) readOne(root.resolve("tools/deploy-validate/strimzi/" + file));
            strimziCrds.put(crd.path("spec").path("names").path("kind").asText(), crd);
        }
    }

    private void validateStrimzi(Node o, String where) {
        ObjectNode crd = strimziCrds.get(o.kind());
        if (crd == null) {
            error(where, "no schema here for apiVersion " + o.apiVersion() + " kind " + o.kind());
            return;
        }
        String group = crd.path("spec").path("group").asText();
        String kind = o.kind();
        JsonNode version = null;
        for (JsonNode v : crd.path("spec").path("versions")) {
            if (o.apiVersion().equals(group + "/" + v.path("name").asText()) && v.path("served").asBoolean()) {
                version = v;
            }
        }
        if (version == null) {
            error(where, o.apiVersion() + " is not a served version of " + kind + " (Strimzi CRD in tools/deploy-validate/strimzi)");
            return;
        }
        JsonNode openApi = version.path("schema").path("openAPIV3Schema");
        JsonSchema schema = strimziSchemas.computeIfAbsent(kind, k -> {
            ObjectNode strict = strictSchema(openApi);
            strict.put("$schema", "http://json-schema.org/draft-07/schema#");
            return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V7).getSchema(strict);
        });
        for (ValidationMessage m : schema.validate(o.body())) {
            error(where, m.getMessage());
        }
        validateModel(where, "V1ObjectMeta", o.body().path("metadata"));
        if (!o.body().path("metadata").path("labels").has("strimzi.io/cluster")) {
            error(where, "label strimzi.io/cluster (the Kafka cluster of the " + kind + ") missing");
        }
    }

    /** Every topic a user's ACLs name literally is one of the KafkaTopics, on the same Kafka cluster. */
    private void checkUserAcls(List<Node> users, List<Node> topics) {
        Set<String> known = new LinkedHashSet<>();
        topics.forEach(t -> known.add(t.body().path("metadata").path("labels").path("strimzi.io/cluster").asText() + "/" + t.name()));
        for (Node user : users) {
            String cluster = user.body().path("metadata").path("labels").path("strimzi.io/cluster").asText();
            for (JsonNode acl : user.body().path("spec").path("authorization").path("acls")) {
                JsonNode resource = acl.path("resource");
                if (resource.path("type").asText().equals("topic") && resource.path("patternType").asText("literal").equals("literal")
                        && !known.contains(cluster + "/" + resource.path("name").asText())) {
                    error(user.where(), "ACL on topic " + resource.path("name").asText() + ", which is no KafkaTopic of "
                            + cluster + " (k8s/topics)");
                }
            }
        }
    }

    /**
     * A CRD's structural schema as a JSON Schema that, like the API server with strict field validation, refuses
     * fields it does not declare (unless x-kubernetes-preserve-unknown-fields). Metadata is checked separately.
     */
    private ObjectNode strictSchema(JsonNode s) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        s.properties().forEach(e -> {
            String k = e.getKey();
            if (k.startsWith("x-kubernetes-") || k.equals("description")) {
                return;
            }
            switch (k) {
                case "properties" -> {
                    ObjectNode props = out.putObject("properties");
                    e.getValue().properties().forEach(p -> props.set(p.getKey(), strictSchema(p.getValue())));
                }
                case "items" -> out.set("items", strictSchema(e.getValue()));
                case "additionalProperties" -> out.set(k, e.getValue().isObject() ? strictSchema(e.getValue()) : e.getValue());
                case "nullable" -> { }
                default -> out.set(k, e.getValue().deepCopy());
            }
        });
        if (s.path("nullable").asBoolean() && out.has("type")) {
            ArrayNode types = out.putArray("type");
            types.add(s.get("type").asText()).add("null");
        }
        boolean open = s.path("x-kubernetes-preserve-unknown-fields").asBoolean();
        if ("object".equals(s.path("type").asText()) && s.has("properties") && !open && !s.has("additionalProperties")) {
            out.put("additionalProperties", false);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ references

    private List<JsonNode> containers(Node o) {
        List<JsonNode> out = new ArrayList<>();
        JsonNode pod = o.body().path("spec").path("template").path("spec");
        pod.path("initContainers").forEach(out::add);
        pod.path("containers").forEach(out::add);
        return out;
    }

    private static boolean selects(JsonNode matchLabels, JsonNode labels) {
        if (!matchLabels.isObject() || matchLabels.isEmpty()) {
            return false;
        }
        for (Map.Entry<String, JsonNode> e : matchLabels.properties()) {
            if (!e.getValue().asText().equals(labels.path(e.getKey()).asText(null))) {
                return false;
            }
        }
        return true;
    }

    private void checkReferences(List<Node> objects) {
        List<Node> workloads = objects.stream().filter(o -> o.kind().equals("StatefulSet") || o.kind().equals("Deployment")).toList();
        Map<String, Node> configMaps = new LinkedHashMap<>();
        Set<String> claims = new LinkedHashSet<>();
        for (Node o : objects) {
            if (o.kind().equals("ConfigMap")) {
                configMaps.put(o.namespace() + "/" + o.name(), o);
            } else if (o.kind().equals("PersistentVolumeClaim")) {
                claims.add(o.namespace() + "/" + o.name());
            } else if (o.kind().equals("Service") && o.body().path("spec").has("selector")) {
                JsonNode selector = o.body().path("spec").path("selector");
                List<Node> targets = workloads.stream().filter(w -> w.namespace().equals(o.namespace())
                        && selects(selector, w.body().path("spec").path("template").path("metadata").path("labels"))).toList();
                if (targets.isEmpty()) {
                    error(o.where(), "Service " + o.name() + " selects no pods of these manifests");
                }
                for (JsonNode port : o.body().path("spec").path("ports")) {
                    JsonNode target = port.path("targetPort");
                    if (target.isTextual() && targets.stream().noneMatch(w -> containerPorts(w).contains(target.asText()))) {
                        error(o.where(), "Service " + o.name() + " targets port '" + target.asText() + "' that its pods do not name");
                    }
                }
            } else if (o.kind().equals("ServiceMonitor") || o.kind().equals("PodMonitor")) {
                checkMonitor(o, objects, workloads);
            } else if (o.kind().equals("ScaledObject")) {
                checkScaledObject(o, objects, workloads);
            } else if (o.kind().equals("PodDisruptionBudget")) {
                JsonNode selector = o.body().path("spec").path("selector").path("matchLabels");
                if (workloads.stream().noneMatch(w -> w.namespace().equals(o.namespace())
                        && selects(selector, w.body().path("spec").path("template").path("metadata").path("labels")))) {
                    error(o.where(), "PodDisruptionBudget " + o.name() + " selects no pods of these manifests");
                }
            }
        }
        for (Node w : workloads) {
            String where = w.where() + " (" + w.id() + ")";
            JsonNode spec = w.body().path("spec");
            JsonNode labels = spec.path("template").path("metadata").path("labels");
            if (!selects(spec.path("selector").path("matchLabels"), labels)) {
                error(where, "spec.selector.matchLabels do not select the pod template's labels");
            }
            if (w.kind().equals("StatefulSet")) {
                String service = spec.path("serviceName").asText();
                boolean headless = objects.stream().anyMatch(o -> o.kind().equals("Service") && o.name().equals(service)
                        && o.namespace().equals(w.namespace()) && "None".equals(o.body().path("spec").path("clusterIP").asText()));
                if (!headless) {
                    error(where, "serviceName '" + service + "' is not a headless Service (clusterIP: None) of these manifests");
                }
            }
            JsonNode pod = spec.path("template").path("spec");
            Set<String> volumes = new LinkedHashSet<>();
            for (JsonNode v : pod.path("volumes")) {
                volumes.add(v.path("name").asText());
                List<JsonNode> refs = new ArrayList<>();
                if (v.has("configMap")) {
                    refs.add(v.get("configMap"));
                }
                for (JsonNode source : v.path("projected").path("sources")) {
                    if (source.has("configMap")) {
                        refs.add(source.get("configMap"));
                    }
                }
                for (JsonNode ref : refs) {
                    checkConfigMapRef(where, configMaps, w.namespace(), ref.path("name").asText(), ref.path("items"),
                            ref.path("optional").asBoolean());
                }
                if (v.has("persistentVolumeClaim")
                        && !claims.contains(w.namespace() + "/" + v.get("persistentVolumeClaim").path("claimName").asText())) {
                    error(where, "volume " + v.path("name").asText() + ": claim "
                            + v.get("persistentVolumeClaim").path("claimName").asText() + " is not in these manifests");
                }
            }
            for (JsonNode t : spec.path("volumeClaimTemplates")) {
                volumes.add(t.path("metadata").path("name").asText());
            }
            Set<String> ports = containerPorts(w);
            String promPort = spec.path("template").path("metadata").path("annotations").path("prometheus.io/port").asText(null);
            if (promPort != null && containers(w).stream().noneMatch(c -> {
                for (JsonNode p : c.path("ports")) {
                    if (p.path("containerPort").asText().equals(promPort)) {
                        return true;
                    }
                }
                return false;
            })) {
                error(where, "prometheus.io/port " + promPort + " is no container port");
            }
            for (JsonNode c : containers(w)) {
                String cw = where + " container " + c.path("name").asText();
                for (JsonNode m : c.path("volumeMounts")) {
                    if (!volumes.contains(m.path("name").asText())) {
                        error(cw, "mounts volume '" + m.path("name").asText() + "' that the pod does not define");
                    }
                }
                for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
                    JsonNode port = c.path(probe).path("httpGet").path("port");
                    if (port.isTextual() && !ports.contains(port.asText())) {
                        error(cw, probe + " uses port '" + port.asText() + "' that no container names");
                    }
                }
                for (JsonNode e : c.path("env")) {
                    JsonNode ref = e.path("valueFrom").path("configMapKeyRef");
                    if (!ref.isMissingNode()) {
                        checkConfigMapRef(cw, configMaps, w.namespace(), ref.path("name").asText(),
                                JsonNodeFactory.instance.arrayNode().add(JsonNodeFactory.instance.objectNode().put("key", ref.path("key").asText())),
                                ref.path("optional").asBoolean());
                    }
                }
                String service = serviceOf(c.path("args"), c.path("command"));
                if (service != null) {
                    for (JsonNode e : c.path("env")) {
                        checkSetting(cw, service, e.path("name").asText());
                    }
                    checkMountedProperties(cw, service, c, pod, configMaps, w.namespace());
                }
            }
        }
        for (Node cm : configMaps.values()) {
            if (cm.name().equals("slm-task")) {
                checkTasks(cm);
            }
        }
    }

    /**
     * A Prometheus Operator monitor selects targets of these manifests in its namespace and scrapes only ports they
     * name: a ServiceMonitor, Services by their labels, at the names of their ports; a PodMonitor, the pods of the
     * workloads by their template's labels, at the names of their containers' ports.
     */
    private void checkMonitor(Node monitor, List<Node> objects, List<Node> workloads) {
        boolean ofPods = monitor.kind().equals("PodMonitor");
        JsonNode spec = monitor.body().path("spec");
        JsonNode selector = spec.path("selector").path("matchLabels");
        List<Node> candidates = ofPods ? workloads : objects.stream().filter(s -> s.kind().equals("Service")).toList();
        List<Set<String>> selectedPorts = candidates.stream().filter(t -> t.namespace().equals(monitor.namespace())
                && selects(selector, ofPods ? t.body().path("spec").path("template").path("metadata").path("labels")
                        : t.body().path("metadata").path("labels")))
                .map(t -> ofPods ? containerPorts(t) : servicePorts(t)).toList();
        String monitorName = monitor.kind() + " " + monitor.name();
        if (selectedPorts.isEmpty()) {
            error(monitor.where(), monitorName + " selects no " + (ofPods ? "pods" : "Service") + " of these manifests");
            return;
        }
        for (JsonNode endpoint : spec.path(ofPods ? "podMetricsEndpoints" : "endpoints")) {
            String port = endpoint.path("port").asText();
            if (selectedPorts.stream().noneMatch(names -> names.contains(port))) {
                error(monitor.where(), monitorName + " scrapes port '" + port + "' that "
                        + (ofPods ? "its pods do not name" : "the Services it selects do not name"));
            }
        }
    }

    /** The names of a Service's ports. */
    private static Set<String> servicePorts(Node service) {
        Set<String> out = new LinkedHashSet<>();
        for (JsonNode p : service.body().path("spec").path("ports")) {
            out.add(p.path("name").asText());
        }
        return out;
    }

    /**
     * A ScaledObject scales a workload of these manifests, and each of its kafka triggers watches what a processor
     * consumes: the input topic under the Streams application id, or with several tasks a task's {@code <name>.in}
     * under {@code <application.id>-<name>} (the processor's per-task defaults).
     */
    private void checkScaledObject(Node scaled, List<Node> objects, List<Node> workloads) {
        JsonNode target = scaled.body().path("spec").path("scaleTargetRef");
        String kind = target.path("kind").asText("Deployment");
        Node workload = workloads.stream().filter(w -> w.kind().equals(kind) && w.namespace().equals(scaled.namespace())
                && w.name().equals(target.path("name").asText())).findFirst().orElse(null);
        if (workload == null) {
            error(scaled.where(), "ScaledObject " + scaled.name() + " scales " + kind + " " + target.path("name").asText()
                    + ", which is not in these manifests");
            return;
        }
        Properties processor = new Properties();
        objects.stream().filter(o -> o.kind().equals("ConfigMap") && o.body().path("data").has("processor.properties"))
                .findFirst().ifPresent(cm -> {
                    try {
                        processor.load(new StringReader(cm.body().path("data").path("processor.properties").asText()));
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                });
        String application = processor.getProperty("application.id", "slm-classifier").trim();
        String input = processor.getProperty("input.topic", "intents.in").trim();
        for (JsonNode trigger : scaled.body().path("spec").path("triggers")) {
            if (!"kafka".equals(trigger.path("type").asText())) {
                continue;
            }
            String group = trigger.path("metadata").path("consumerGroup").asText();
            String topic = trigger.path("metadata").path("topic").asText();
            boolean several = !processor.getProperty("tasks", "").isBlank() || !processor.getProperty("tasks.dir", "").isBlank();
            boolean single = !several && group.equals(application) && topic.equals(input);
            boolean perTask = several && topic.endsWith(".in")
                    && group.equals(application + "-" + topic.substring(0, topic.length() - ".in".length()));
            if (!single && !perTask) {
                error(scaled.where(), "ScaledObject " + scaled.name() + ": kafka trigger on topic '" + topic + "' and group '"
                        + group + "' is not what the processor consumes (" + input + " as " + application
                        + ", or <task>.in as " + application + "-<task>)");
            }
        }
    }

    private Set<String> containerPorts(Node w) {
        Set<String> out = new LinkedHashSet<>();
        for (JsonNode c : containers(w)) {
            for (JsonNode p : c.path("ports")) {
                if (p.has("name")) {
                    out.add(p.get("name").asText());
                }
            }
        }
        return out;
    }

    private void checkConfigMapRef(String where, Map<String, Node> configMaps, String namespace, String name,
            JsonNode items, boolean optional) {
        Node cm = configMaps.get(namespace + "/" + name);
        if (cm == null) {
            if (!optional) {
                error(where, "ConfigMap " + name + " is not in these manifests");
            }
            return;
        }
        for (JsonNode item : items) {
            String key = item.path("key").asText();
            if (!cm.body().path("data").has(key) && !cm.body().path("binaryData").has(key)) {
                error(where, "ConfigMap " + name + " has no key '" + key + "'");
            }
        }
    }

    /** processor or trainer, from the command line the container runs; null for anything else. */
    private String serviceOf(JsonNode args, JsonNode command) {
        List<String> words = new ArrayList<>();
        command.forEach(n -> words.add(n.asText()));
        args.forEach(n -> words.add(n.asText()));
        for (String w : words) {
            if (knownKeys.containsKey(w)) {
                return w;
            }
        }
        return null;
    }

    /** An environment variable is a setting when it starts with SLM_; it must name a key the service knows. */
    private void checkSetting(String where, String service, String variable) {
        if (!variable.startsWith("SLM_")) {
            return;
        }
        String key = variable.substring(4).toLowerCase().replace('_', '.');
        if (!isKey(service, key)) {
            error(where, variable + " sets '" + key + "', which is no " + service + " key");
        }
    }

    /** A key of the service, a Kafka pass-through, or {@code <key>.file}: the key's value read from that file. */
    /**
     * {@code task.<name>.<key>}: a key set for one task of several (TaskCatalog.view). Task names may hold dots, so
     * any split that leaves a known key after the name counts.
     */
    private static boolean perTaskKey(String key, Set<String> known) {
        if (!key.startsWith("task.")) {
            return false;
        }
        for (int dot = key.indexOf('.', "task.".length() + 1); dot > 0; dot = key.indexOf('.', dot + 1)) {
            if (known.contains(key.substring(dot + 1))) {
                return true;
            }
        }
        return false;
    }

    private boolean isKey(String service, String key) {
        Set<String> known = knownKeys.get(service);
        return key.startsWith("kafka.") || known.contains(key) || perTaskKey(key, known)
                || key.endsWith(".file") && known.contains(key.substring(0, key.length() - ".file".length()));
    }

    private void checkMountedProperties(String where, String service, JsonNode container, JsonNode pod,
            Map<String, Node> configMaps, String namespace) {
        String file = service + ".properties";
        for (JsonNode v : pod.path("volumes")) {
            List<JsonNode> refs = new ArrayList<>();
            if (v.has("configMap")) {
                refs.add(v.get("configMap"));
            }
            v.path("projected").path("sources").forEach(s -> {
                if (s.has("configMap")) {
                    refs.add(s.get("configMap"));
                }
            });
            for (JsonNode ref : refs) {
                Node cm = configMaps.get(namespace + "/" + ref.path("name").asText());
                if (cm == null || !cm.body().path("data").has(file)) {
                    continue;
                }
                Properties p = new Properties();
                try {
                    p.load(new StringReader(cm.body().path("data").path(file).asText()));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
                for (String key : p.stringPropertyNames()) {
                    if (!isKey(service, key)) {
                        error(cm.where(), file + ": '" + key + "' is no " + service + " key");
                    }
                }
            }
        }
    }

    private void checkTasks(Node cm) {
        cm.body().path("data").properties().forEach(e -> {
            Path task = root.resolve("tasks").resolve(e.getKey());
            try {
                if (!Files.isRegularFile(task)) {
                    error(cm.where(), "key " + e.getKey() + " is no file in tasks/");
                } else if (!Files.readString(task, StandardCharsets.UTF_8).equals(e.getValue().asText())) {
                    error(cm.where(), "key " + e.getKey() + " differs from tasks/" + e.getKey() + " (copy it byte for byte)");
                }
            } catch (IOException ex) {
                throw new IllegalStateException(ex);
            }
        });
    }

    /** Every topic the processor and trainer configurations name is a KafkaTopic, with the cleanup the design needs. */
    private void checkKubernetesTopics(List<Node> topics, List<Node> configMaps) {
        Map<String, JsonNode> byName = new LinkedHashMap<>();
        for (Node t : topics) {
            String name = t.body().path("spec").path("topicName").asText(t.name());
            byName.put(name, t.body().path("spec"));
        }
        for (Node cm : configMaps) {
            for (String service : knownKeys.keySet()) {
                JsonNode text = cm.body().path("data").path(service + ".properties");
                if (text.isMissingNode()) {
                    continue;
                }
                Properties p = new Properties();
                try {
                    p.load(new StringReader(text.asText()));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
                Map<String, String> config = new LinkedHashMap<>(defaults(service));
                p.stringPropertyNames().forEach(k -> config.put(k, p.getProperty(k).trim()));
                checkTopics(cm.where(), service, config, name -> {
                    JsonNode spec = byName.get(name);
                    return spec == null ? null
                            : new TopicSpec(spec.path("partitions").asInt(-1), spec.path("config").path("cleanup.policy").asText("delete"));
                }, "KafkaTopic (k8s/topics)");
            }
        }
    }

    private record TopicSpec(int partitions, String cleanupPolicy) { }

    /**
     * The topics of each task the configuration serves: the configuration's own in single-task mode; with
     * {@code tasks} or {@code tasks.dir}, each task's view of it (its topics named after it, as the service's
     * TASK_DEFAULTS say, and its {@code task.<name>.<key>} settings), the task's name read from its file in tasks/.
     */
    private void checkTopics(String where, String service, Map<String, String> config,
            java.util.function.Function<String, TopicSpec> topics, String what) {
        for (Map.Entry<String, Map<String, String>> view : taskViews(where, service, config).entrySet()) {
            checkTopicsOf(view.getKey().isEmpty() ? where : where + " task " + view.getKey(), view.getValue(), topics, what);
        }
    }

    /** Task name -> the configuration it sees; one entry named "" in single-task mode. */
    private Map<String, Map<String, String>> taskViews(String where, String service, Map<String, String> config) {
        Map<String, Map<String, String>> views = new LinkedHashMap<>();
        List<String> files = new ArrayList<>();
        for (String f : config.getOrDefault("tasks", "").split(",")) {
            if (!f.isBlank()) {
                files.add(f.strip());
            }
        }
        if (!config.getOrDefault("tasks.dir", "").isBlank()) {
            try (Stream<Path> listed = Files.list(root.resolve("tasks"))) {
                listed.map(p -> p.getFileName().toString()).filter(n -> n.matches(".*\\.(ya?ml|json)")).sorted()
                        .forEach(files::add);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        if (files.isEmpty()) {
            views.put("", config);
            return views;
        }
        Map<String, String> taskDefaults = taskDefaults(service);
        for (String file : files) {
            Path task = root.resolve("tasks").resolve(Path.of(file).getFileName().toString());
            String name;
            try {
                name = Files.isRegularFile(task) ? yaml.readTree(task.toFile()).path("name").asText("") : "";
            } catch (IOException e) {
                name = "";
            }
            if (name.isEmpty()) {
                error(where, "task " + file + " is no task file in tasks/ with a name");
                continue;
            }
            Map<String, String> view = new LinkedHashMap<>(config);
            for (Map.Entry<String, String> d : taskDefaults.entrySet()) {
                String global = config.getOrDefault(d.getKey(), "");
                boolean blankValue = d.getValue().contains("{value}") && global.isBlank();
                view.put(d.getKey(), blankValue ? "" : d.getValue().replace("{task}", name).replace("{value}", global));
            }
            String prefix = "task." + name + ".";
            config.forEach((key, value) -> {
                if (key.startsWith(prefix)) {
                    view.put(key.substring(prefix.length()), value);
                }
            });
            views.put(name, view);
        }
        return views;
    }

    /** The service's TASK_DEFAULTS from its build classes; without them, the topics' templates they hold. */
    @SuppressWarnings("unchecked")
    private Map<String, String> taskDefaults(String service) {
        Object field = codeField(service.equals("processor") ? "io.slmclassifier.stream.ProcessorConfig"
                : "io.slmclassifier.train.TrainerConfig", "TASK_DEFAULTS");
        if (field instanceof Map<?, ?> map) {
            return (Map<String, String>) map;
        }
        return service.equals("processor")
                ? Map.of("input.topic", "{task}.in", "output.topic", "{task}.classified", "review.topic", "{task}.review",
                        "dlq.topic", "{task}.dlq", "feedback.topic", "{task}.feedback", "control.topic", "{task}.control",
                        "adapters.topic", "{task}.adapters")
                : Map.of("feedback.topics", "{task}.feedback", "dataset.topic", "{task}.dataset",
                        "control.topic", "{task}.control", "adapters.topic", "{task}.adapters", "dlq.topic", "{task}.dlq");
    }

    private void checkTopicsOf(String where, Map<String, String> config,
            java.util.function.Function<String, TopicSpec> topics, String what) {
        for (Map.Entry<String, String> e : config.entrySet()) {
            if (!e.getKey().endsWith(".topic") && !e.getKey().equals("feedback.topics")) {
                continue;
            }
            for (String topic : e.getValue().split(",")) {
                topic = topic.trim();
                if (topic.isEmpty()) {
                    continue;
                }
                TopicSpec spec = topics.apply(topic);
                if (spec == null) {
                    error(where, e.getKey() + "=" + topic + " has no " + what);
                    continue;
                }
                boolean single = e.getKey().equals("control.topic") || e.getKey().equals("adapters.topic");
                boolean compact = single || e.getKey().equals("dataset.topic");
                if (single && spec.partitions() != 1) {
                    error(where, e.getKey() + "=" + topic + " must have 1 partition (has " + spec.partitions() + ")");
                }
                if (compact != spec.cleanupPolicy().contains("compact")) {
                    error(where, e.getKey() + "=" + topic + " must " + (compact ? "" : "not ") + "be compacted (cleanup.policy "
                            + spec.cleanupPolicy() + ")");
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ compose

    private static final Pattern CREATE_TOPIC = Pattern.compile("(?m)^\\s*create\\s+(\\S+)\\s+(\\d+)\\s+(\\S+)\\s*$");

    private void checkCompose(Path file) throws IOException {
        String where = file.getFileName().toString();
        JsonNode compose = readOne(file);
        JsonNode services = compose.path("services");
        Map<String, TopicSpec> created = new LinkedHashMap<>();
        services.properties().forEach(s -> {
            for (JsonNode part : s.getValue().path("command")) {
                Matcher m = CREATE_TOPIC.matcher(part.asText());
                while (m.find()) {
                    created.put(m.group(1), new TopicSpec(Integer.parseInt(m.group(2)), m.group(3)));
                }
            }
        });
        services.properties().forEach(s -> {
            String name = s.getKey();
            JsonNode svc = s.getValue();
            for (JsonNode d : svc.path("deploy").path("resources").path("reservations").path("devices")) {
                JsonNode count = d.path("count");
                if (!count.isMissingNode() && !count.canConvertToInt() && !"all".equals(count.asText())) {
                    error(where + " service " + name, "device count must be a number or all, not '" + count.asText() + "'");
                }
                if ("nvidia".equals(d.path("driver").asText()) && !iterable(d.path("capabilities")).contains("gpu")) {
                    error(where + " service " + name, "an nvidia device reservation needs capabilities [gpu]");
                }
            }
            if (!svc.has("build")) {
                return;
            }
            JsonNode build = svc.path("build");
            String dockerfile = build.path("dockerfile").asText("");
            String service = knownKeys.keySet().stream().filter(k -> dockerfile.equals(k + "/Dockerfile")).findFirst().orElse(null);
            if (service == null) {
                error(where, "service " + name + ": build.dockerfile " + dockerfile + " is neither processor/Dockerfile nor trainer/Dockerfile");
                return;
            }
            String target = build.path("target").asText(service);
            if (!target.equals(service)) {
                error(where, "service " + name + ": build.target " + target + " is not the " + service + " stage");
            }
            String flavor = build.path("args").path("FLAVOR").asText("cpu");
            if (!flavor.equals("cpu") && !flavor.equals("gpu")) {
                error(where, "service " + name + ": build arg FLAVOR " + flavor + " is neither cpu nor gpu");
            }
            String sw = where + " service " + name;
            Map<String, String> config = new LinkedHashMap<>(defaults(service));
            JsonNode env = svc.path("environment");
            for (Map.Entry<String, JsonNode> e : env.properties()) {
                checkSetting(sw, service, e.getKey());
                if (e.getKey().startsWith("SLM_") && !e.getValue().isNull()) {
                    config.put(e.getKey().substring(4).toLowerCase().replace('_', '.'), e.getValue().asText());
                }
            }
            String port = config.get("metrics.port");
            String test = String.join(" ", iterable(svc.path("healthcheck").path("test")));
            if (!test.contains("localhost:" + port + "/health/")) {
                error(sw, "healthcheck does not ask /health/ on metrics.port " + port + ": " + test);
            }
            if (!created.isEmpty()) {
                checkTopics(sw, service, config, created::get, "topic created by the compose topic service");
            }
        });
    }

    private Map<String, String> defaults(String service) {
        Map<String, String> out = new LinkedHashMap<>();
        Properties p = new Properties();
        try (var r = Files.newBufferedReader(root.resolve(service + "/" + service + ".properties"), StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        p.stringPropertyNames().forEach(k -> out.put(k, p.getProperty(k).trim()));
        return out;
    }

    private static List<String> iterable(JsonNode n) {
        List<String> out = new ArrayList<>();
        if (n.isArray()) {
            n.forEach(x -> out.add(x.asText()));
        } else if (!n.isMissingNode()) {
            out.add(n.asText());
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ Dockerfiles

    private static final Pattern COPY = Pattern.compile("(?m)^\\s*(COPY|ADD)\\s+(.*)$");
    private static final Pattern STAGE = Pattern.compile("(?im)^\\s*FROM\\s+\\S+\\s+AS\\s+(\\S+)\\s*$");
    private static final List<String> RUNTIME_STAGES = List.of("runtime-cpu", "runtime-gpu");

    /** A service's Dockerfile: its runtime stages, its own stage last (the default target), its build sources. */
    private void checkDockerfile(String service) throws IOException {
        String path = service + "/Dockerfile";
        Path file = root.resolve(path);
        if (!Files.isRegularFile(file)) {
            error(path, "missing");
            return;
        }
        List<String> stages = new ArrayList<>();
        Matcher stage = STAGE.matcher(Files.readString(file, StandardCharsets.UTF_8));
        while (stage.find()) {
            stages.add(stage.group(1));
        }
        for (String needed : RUNTIME_STAGES) {
            if (!stages.contains(needed)) {
                error(path, "no stage " + needed + " (stages: " + stages + ")");
            }
        }
        if (stages.isEmpty() || !stages.get(stages.size() - 1).equals(service)) {
            error(path, "the last stage (the default target) is not named " + service + " (stages: " + stages + ")");
        }
        List<String> include = new ArrayList<>();
        Path ignore = root.resolve(".dockerignore");
        if (Files.isRegularFile(ignore)) {
            for (String line : Files.readAllLines(ignore, StandardCharsets.UTF_8)) {
                line = line.trim();
                if (line.startsWith("!")) {
                    include.add(line.substring(1).replaceAll("/+$", ""));
                } else if (!line.isEmpty() && !line.startsWith("#") && !line.equals("*")) {
                    error(".dockerignore", "only '*' and '!path' lines are expected, not '" + line + "'");
                }
            }
        }
        Matcher m = COPY.matcher(Files.readString(file, StandardCharsets.UTF_8).replace("\\\n", " "));
        while (m.find()) {
            List<String> words = new ArrayList<>(List.of(m.group(2).trim().split("\\s+")));
            if (words.stream().anyMatch(w -> w.startsWith("--from="))) {
                continue;
            }
            words.removeIf(w -> w.startsWith("--"));
            for (String src : words.subList(0, Math.max(0, words.size() - 1))) {
                if (src.equals(".")) {
                    continue; // the build context itself: what .dockerignore lets in
                }
                if (!Files.exists(root.resolve(src))) {
                    error(path, m.group(1) + " source " + src + " does not exist in the repository");
                } else if (Files.isRegularFile(ignore)
                        && include.stream().noneMatch(i -> src.equals(i) || src.startsWith(i + "/"))) {
                    error(path, m.group(1) + " source " + src + " is excluded from the build context by .dockerignore");
                }
            }
        }
    }

    /**
     * The two Dockerfiles are one recipe (a Dockerfile cannot include another): apart from comments, the service's
     * name and its port, they must be the same line for line, so a fix to one cannot miss the other.
     */
    private void checkDockerfilesAlike() throws IOException {
        List<List<String>> recipes = new ArrayList<>();
        for (String service : List.of("processor", "trainer")) {
            Path file = root.resolve(service + "/Dockerfile");
            if (!Files.isRegularFile(file)) {
                return;
            }
            String port = defaults(service).get("metrics.port");
            List<String> recipe = new ArrayList<>();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.isBlank() && !line.trim().startsWith("#")) {
                    String generic = line.replace(service, "SERVICE");
                    recipe.add(port == null || port.isEmpty() ? generic : generic.replace(port, "PORT"));
                }
            }
            recipes.add(recipe);
        }
        List<String> processor = recipes.get(0);
        List<String> trainer = recipes.get(1);
        for (int i = 0; i < Math.max(processor.size(), trainer.size()); i++) {
            String p = i < processor.size() ? processor.get(i) : "(end)";
            String t = i < trainer.size() ? trainer.get(i) : "(end)";
            if (!p.equals(t)) {
                error("processor/Dockerfile, trainer/Dockerfile", "differ in more than the service, at instruction line "
                        + (i + 1) + ": '" + p + "' vs '" + t + "'");
                return;
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static final Pattern COMMENTED_KEY = Pattern.compile("^#\\s*([a-z][a-z0-9.]*)=");

    /**
     * The keys a service knows: its configuration class's DEFINITIONS when the build's classes are there (then each key
     * of the default properties file must be one of them), and the keys, set or commented out, of that file.
     */
    private Set<String> keysOf(String properties, String configClass) throws IOException {
        Set<String> fileKeys = new TreeSet<>(defaults(properties.substring(0, properties.indexOf('/'))).keySet());
        if (fileKeys.isEmpty()) {
            error(properties, "lists no keys");
        }
        Set<String> keys = new TreeSet<>(fileKeys);
        for (String line : Files.readAllLines(root.resolve(properties), StandardCharsets.UTF_8)) {
            Matcher m = COMMENTED_KEY.matcher(line.trim());
            if (m.find()) {
                keys.add(m.group(1));
            }
        }
        Set<String> code = codeKeys(configClass);
        if (code != null) {
            for (String k : keys) {
                if (!k.startsWith("kafka.") && !code.contains(k) && !perTaskKey(k, code)) {
                    error(properties, "key '" + k + "' is not in " + configClass + ".DEFINITIONS");
                }
            }
            keys.addAll(code);
        }
        return keys;
    }

    /** Keys of a configuration class's DEFINITIONS, read from the modules' build classes; null when not built. */
    @SuppressWarnings("unchecked")
    private Set<String> codeKeys(String className) {
        Object definitions = codeField(className, "DEFINITIONS");
        if (definitions == null) {
            return null;
        }
        try {
            return new TreeSet<>((Set<String>) definitions.getClass().getMethod("names").invoke(definitions));
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }

    /** A static field of one of the modules' classes, from their build classes; null when they are not built. */
    private Object codeField(String className, String field) {
        List<URL> classes = new ArrayList<>();
        for (String module : List.of("core", "kafka", "processor", "trainer")) {
            Path dir = root.resolve(module + "/target/classes");
            if (!Files.isDirectory(dir)) {
                return null;
            }
            try {
                classes.add(dir.toUri().toURL());
            } catch (IOException e) {
                return null;
            }
        }
        try (URLClassLoader loader = new URLClassLoader(classes.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
            return Class.forName(className, true, loader).getField(field).get(null);
        } catch (ReflectiveOperationException | LinkageError | IOException e) {
            return null;
        }
    }

    private JsonNode readOne(Path file) throws IOException {
        List<JsonNode> docs = readAll(file);
        if (docs.size() != 1) {
            throw new IOException(rel(file) + ": one YAML document expected, found " + docs.size());
        }
        return docs.get(0);
    }

    private List<JsonNode> readAll(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        try (var parser = new YAMLFactory().createParser(file.toFile())) {
            var it = yaml.readValues(parser, JsonNode.class);
            while (it.hasNext()) {
                JsonNode doc = it.next();
                if (doc != null && !doc.isNull() && !doc.isMissingNode()) {
                    out.add(doc);
                }
            }
        }
        return out;
    }

    private String rel(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        return abs.startsWith(root) ? root.relativize(abs).toString() : abs.toString();
    }

    private static String brief(String message) {
        if (message == null) {
            return "invalid";
        }
        int cut = message.indexOf(" JSON: ");
        if (cut < 0) {
            cut = message.indexOf(" in the JSON string: ");
        }
        return cut < 0 ? message : message.substring(0, cut);
    }

    private void error(String where, String message) {
        errors.add(where + ": " + message);
    }

    /** RFC 6902 operations add, replace, remove and test on a Jackson tree (what kustomize's JSON patches use). */
    static final class JsonPatch {
        private JsonPatch() {}

        static void apply(ObjectNode doc, JsonNode op) {
            String kind = op.path("op").asText();
            String path = op.path("path").asText(null);
            if (path == null || !path.startsWith("/")) {
                throw new IllegalArgumentException("operation without a valid path: " + op);
            }
            List<String> tokens = new ArrayList<>();
            for (String t : path.substring(1).split("/", -1)) {
                tokens.add(t.replace("~1", "/").replace("~0", "~"));
            }
            JsonNode parent = doc;
            for (String t : tokens.subList(0, tokens.size() - 1)) {
                parent = parent.isArray() ? parent.path(index(t, parent.size())) : parent.path(t);
                if (parent.isMissingNode()) {
                    throw new IllegalArgumentException(kind + " " + path + ": parent does not exist");
                }
            }
            String last = tokens.get(tokens.size() - 1);
            switch (kind) {
                case "add" -> {
                    if (parent instanceof ObjectNode o) {
                        o.set(last, op.get("value").deepCopy());
                    } else if (parent instanceof ArrayNode a) {
                        if (last.equals("-")) {
                            a.add(op.get("value").deepCopy());
                        } else {
                            a.insert(index(last, a.size() + 1), op.get("value").deepCopy());
                        }
                    } else {
                        throw new IllegalArgumentException(kind + " " + path + ": parent is not a container");
                    }
                }
                case "replace", "remove", "test" -> {
                    JsonNode current = parent.isArray() ? parent.path(index(last, parent.size())) : parent.path(last);
                    if (current.isMissingNode()) {
                        throw new IllegalArgumentException(kind + " " + path + ": no such value");
                    }
                    if (kind.equals("test")) {
                        if (!current.equals(op.get("value"))) {
                            throw new IllegalArgumentException("test " + path + " failed");
                        }
                    } else if (parent instanceof ObjectNode o) {
                        if (kind.equals("remove")) {
                            o.remove(last);
                        } else {
                            o.set(last, op.get("value").deepCopy());
                        }
                    } else if (parent instanceof ArrayNode a) {
                        if (kind.equals("remove")) {
                            a.remove(index(last, a.size()));
                        } else {
                            a.set(index(last, a.size()), op.get("value").deepCopy());
                        }
                    }
                }
                default -> throw new IllegalArgumentException("operation '" + kind + "' is not supported here");
            }
        }

        private static int index(String token, int limit) {
            try {
                int i = Integer.parseInt(token);
                if (i < 0 || i >= limit) {
                    throw new IllegalArgumentException("index " + token + " out of range");
                }
                return i;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + token + "' is not an array index");
            }
        }
    }
}
