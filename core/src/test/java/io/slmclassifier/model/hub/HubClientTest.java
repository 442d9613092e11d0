package io.slmclassifier.model.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The hub client against a real HTTP server on loopback that answers as huggingface.co does. */
class HubClientTest {
    private static final String REPO = "test-org/tiny-model";
    private static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    private static final String CONFIG = "{\"architectures\": [\"Qwen3ForCausalLM\"]}\n";
    private static final String TOKENIZER_CONFIG = "{\"eos_token\": \"<|im_end|>\"}\n";
    private static final String GENERATION_CONFIG = "{\"do_sample\": true}\n";

    private final byte[] tokenizer = randomBytes(300_000, 1);
    private final byte[] weights = randomBytes(1_000_000, 2);
    private HubTestServer server;

    @TempDir
    Path home;

    @BeforeEach
    void startHub() throws IOException {
        server = new HubTestServer().repo(REPO, COMMIT)
                .file(REPO, "config.json", CONFIG)
                .file(REPO, "tokenizer.json", tokenizer, true)
                .file(REPO, "tokenizer_config.json", TOKENIZER_CONFIG)
                .file(REPO, "generation_config.json", GENERATION_CONFIG)
                .file(REPO, "model.safetensors", weights, true);
    }

    @AfterEach
    void stopHub() {
        server.close();
    }

    @Test
    void freshDownloadLaysOutTheCacheExactlyAsHuggingfaceHub() throws IOException {
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        Path snapshot = resolver(env(), new PrintStream(stderr, true, StandardCharsets.UTF_8)).resolve(REPO);

        Path repoDir = home.resolve("hub").resolve("models--test-org--tiny-model");
        assertEquals(repoDir.resolve("snapshots").resolve(COMMIT), snapshot);
        assertEquals(COMMIT, Files.readString(repoDir.resolve("refs").resolve("main")), "no newline, like Python");

        Map<String, byte[]> expected = Map.of("config.json", bytes(CONFIG), "tokenizer.json", tokenizer,
                "tokenizer_config.json", bytes(TOKENIZER_CONFIG), "generation_config.json", bytes(GENERATION_CONFIG),
                "model.safetensors", weights);
        Set<String> blobs = Set.of(HubTestServer.gitSha1(bytes(CONFIG)), HubTestServer.sha256(tokenizer),
                HubTestServer.gitSha1(bytes(TOKENIZER_CONFIG)), HubTestServer.gitSha1(bytes(GENERATION_CONFIG)),
                HubTestServer.sha256(weights));
        assertEquals(blobs, list(repoDir.resolve("blobs")), "one blob per ETag, nothing left .incomplete");
        assertEquals(expected.keySet(), list(snapshot));
        for (Map.Entry<String, byte[]> file : expected.entrySet()) {
            Path pointer = snapshot.resolve(file.getKey());
            assertTrue(Files.isSymbolicLink(pointer), file.getKey());
            String etag = lfs(file.getKey()) ? HubTestServer.sha256(file.getValue())
                    : HubTestServer.gitSha1(file.getValue());
            assertEquals(Path.of("..", "..", "blobs", etag), Files.readSymbolicLink(pointer), file.getKey());
            assertArrayEquals(file.getValue(), Files.readAllBytes(pointer), file.getKey());
        }
        assertTrue(Files.exists(repoDir.resolve(".no_exist").resolve(COMMIT).resolve("chat_template.jinja")),
                "absent optional files are remembered as huggingface_hub remembers them");
        assertTrue(Files.isDirectory(home.resolve("hub").resolve(".locks").resolve("models--test-org--tiny-model")));

        String progress = stderr.toString(StandardCharsets.UTF_8);
        assertTrue(progress.contains(REPO + "/model.safetensors") && progress.contains("100%"), progress);
        // The tests run without a terminal, as a service or a redirected command does: plain lines, no redraws.
        assertFalse(progress.contains("\r"), progress);
        // The branch is asked once; every other file is asked at the commit it named.
        List<HubTestServer.Request> heads = server.requests().stream().filter(r -> r.method().equals("HEAD")).toList();
        assertEquals("/" + REPO + "/resolve/main/config.json", heads.get(0).path());
        assertTrue(heads.stream().skip(1).allMatch(r -> r.path().startsWith("/" + REPO + "/resolve/" + COMMIT + "/")));
    }

    @Test
    void metadataComesFromTheResolveAnswerWithoutFollowingTheLfsRedirect() throws IOException {
        HubClient client = new HubClient(HubSettings.fromEnvironment(env()), null);
        HubClient.FileMetadata config = client.metadata(REPO, "main", "config.json");
        assertEquals(new HubClient.FileMetadata(COMMIT, HubTestServer.gitSha1(bytes(CONFIG)), bytes(CONFIG).length,
                client.resolveUrl(REPO, "main", "config.json")), config);
        HubClient.FileMetadata lfs = client.metadata(REPO, "main", "model.safetensors");
        assertEquals(new HubClient.FileMetadata(COMMIT, HubTestServer.sha256(weights), weights.length,
                java.net.URI.create(server.endpoint() + "/lfs/" + HubTestServer.sha256(weights))), lfs);
        assertEquals(null, client.metadata(REPO, "main", "chat_template.jinja"));
        assertTrue(server.requests().stream().allMatch(r -> r.method().equals("HEAD")
                && r.path().contains("/resolve/")), server.requests().toString());
    }

    @Test
    void relativeRedirectsOfSmallFilesAreFollowedLikeHuggingfaceHubFollowsThem() throws IOException {
        server.redirectSmallFilesToResolveCache();
        Path snapshot = resolver(env()).resolve(REPO);

        assertEquals(CONFIG, Files.readString(snapshot.resolve("config.json")));
        assertEquals(Path.of("..", "..", "blobs", HubTestServer.gitSha1(bytes(CONFIG))),
                Files.readSymbolicLink(snapshot.resolve("config.json")));
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertTrue(server.requests().stream().anyMatch(r -> r.method().equals("GET")
                && r.path().startsWith("/api/resolve-cache/models/" + REPO + "/" + COMMIT + "/")));
    }

    @Test
    void secondResolveDownloadsNothing() throws IOException {
        Path first = resolver(env()).resolve(REPO);
        long gets = server.count("GET");
        assertEquals(5, gets, "one GET per file");
        server.clearRequests();

        Path second = resolver(env()).resolve(REPO);
        assertEquals(first, second);
        assertEquals(0, server.count("GET"));
        assertEquals(1, server.count("HEAD"), "only the branch is asked where it points now");

        server.clearRequests();
        assertEquals(first, resolver(env()).resolve(REPO + "@" + COMMIT));
        assertEquals(List.of(), server.requests(), "a cached commit needs no request at all");
    }

    @Test
    void offlineUsesTheCacheAndSaysWhatIsMissingWhenNotCached() throws IOException {
        Map<String, String> offline = env();
        offline.put("HF_HUB_OFFLINE", "1");
        HubException notCached = assertThrows(HubException.class, () -> resolver(offline).resolve(REPO));
        assertEquals(HubException.Reason.NOT_CACHED, notCached.reason());
        assertTrue(notCached.getMessage().contains("HF_HUB_OFFLINE is set and " + REPO + " is not in the cache at "
                + home.resolve("hub")), notCached.getMessage());
        assertEquals(List.of(), server.requests(), "offline means no request");

        Path online = resolver(env()).resolve(REPO);
        server.clearRequests();
        assertEquals(online, resolver(offline).resolve(REPO));
        assertEquals(List.of(), server.requests());

        Files.delete(online.resolve("tokenizer.json"));
        HubException incomplete = assertThrows(HubException.class, () -> resolver(offline).resolve(REPO));
        assertTrue(incomplete.getMessage().contains("lacks tokenizer.json"), incomplete.getMessage());
    }

    @Test
    void unreachableHubFallsBackToTheCacheOrSaysItCannotReachIt() throws IOException {
        Map<String, String> nowhere = env();
        nowhere.put("HF_ENDPOINT", "http://127.0.0.1:" + closedPort());
        HubException unreachable = assertThrows(HubException.class, () -> resolver(nowhere).resolve(REPO));
        assertEquals(HubException.Reason.UNREACHABLE, unreachable.reason());
        assertTrue(unreachable.getMessage().startsWith("cannot reach http://127.0.0.1:"), unreachable.getMessage());
        assertTrue(unreachable.getMessage().contains("is not in the cache"), unreachable.getMessage());

        Path cached = resolver(env()).resolve(REPO);
        ByteArrayOutputStream messages = new ByteArrayOutputStream();
        assertEquals(cached, resolver(nowhere, new PrintStream(messages, true, StandardCharsets.UTF_8)).resolve(REPO));
        assertTrue(messages.toString(StandardCharsets.UTF_8).contains("using the cached " + REPO));
    }

    @Test
    void resumesAnIncompleteBlobWithARangeRequest() throws IOException {
        String sha = HubTestServer.sha256(weights);
        Path blobs = home.resolve("hub").resolve("models--test-org--tiny-model").resolve("blobs");
        Files.createDirectories(blobs);
        int kept = 400_000;
        Files.write(blobs.resolve(sha + ".incomplete"), java.util.Arrays.copyOf(weights, kept));

        Path snapshot = resolver(env()).resolve(REPO);

        List<HubTestServer.Request> lfsGets = server.requests().stream()
                .filter(r -> r.method().equals("GET") && r.path().equals("/lfs/" + sha)).toList();
        assertEquals(1, lfsGets.size());
        assertEquals("bytes=" + kept + "-", lfsGets.get(0).range());
        assertEquals(sha, HubClient.digest(snapshot.resolve("model.safetensors"), "SHA-256", null));
        assertFalse(Files.exists(blobs.resolve(sha + ".incomplete")));
    }

    @Test
    void aDroppedConnectionIsResumedWhereItStopped() throws IOException {
        server.dropConnectionOnce(weights, 250_000);
        Path snapshot = resolver(env()).resolve(REPO);

        List<String> ranges = weightRequestRanges();
        assertTrue(ranges.get(1).startsWith("bytes=") && !ranges.get(1).equals("bytes=0-"), ranges.toString());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
    }

    @Test
    // Without a read timeout the download would wait for the stalled connection forever.
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aStalledDownloadIsGivenUpAfterTheDownloadTimeoutAndResumed() throws IOException {
        server.stallOnce(weights, 300_000);
        Map<String, String> env = env();
        env.put("HF_HUB_DOWNLOAD_TIMEOUT", "0.5");
        Path snapshot = resolver(env).resolve(REPO);

        assertEquals("bytes=300000-", weightRequestRanges().get(1), "resumed after every byte that arrived");
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
    }

    /** The Range headers of the GETs of the weights: two, the first without one. */
    private List<String> weightRequestRanges() {
        String sha = HubTestServer.sha256(weights);
        List<String> ranges = server.requests().stream()
                .filter(r -> r.method().equals("GET") && r.path().equals("/lfs/" + sha)).map(r -> r.range()).toList();
        assertEquals(2, ranges.size(), ranges.toString());
        assertEquals(null, ranges.get(0));
        return ranges;
    }

    @Test
    void corruptedContentIsRefusedAndNotKept() throws IOException {
        server.corrupt(weights);
        HubException corrupt = assertThrows(HubException.class, () -> resolver(env()).resolve(REPO));
        assertEquals(HubException.Reason.CORRUPT, corrupt.reason());
        String sha = HubTestServer.sha256(weights);
        assertTrue(corrupt.getMessage().contains("the hub announced " + sha), corrupt.getMessage());

        Path repoDir = home.resolve("hub").resolve("models--test-org--tiny-model");
        assertFalse(Files.exists(repoDir.resolve("blobs").resolve(sha)));
        assertFalse(Files.exists(repoDir.resolve("blobs").resolve(sha + ".incomplete")), "wrong bytes are not resumed");
        assertFalse(Files.exists(repoDir.resolve("snapshots").resolve(COMMIT).resolve("model.safetensors")));
    }

    /** ETags and commits become file names in the cache: one holding "../" once wrote outside it. */
    @Test
    void etagsAndCommitsThatAreNotHexAreRefusedAndNothingIsWrittenOutsideTheCache() throws IOException {
        server.forge("ETag", "\"../../../escaped\"");
        server.forge("X-Linked-Etag", "\"../../../escaped\"");
        HubException etag = assertThrows(HubException.class, () -> resolver(env()).resolve(REPO));
        assertEquals(HubException.Reason.PROTOCOL, etag.reason());
        assertTrue(etag.getMessage().contains("neither a sha256 nor a git sha1"), etag.getMessage());

        server.forge("ETag", "\"" + HubTestServer.sha256(weights) + "\"");
        server.forge("X-Linked-Etag", "\"" + HubTestServer.sha256(weights) + "\"");
        server.forge("X-Repo-Commit", "../../../escaped-commit");
        HubException commit = assertThrows(HubException.class, () -> resolver(env()).resolve(REPO));
        assertTrue(commit.getMessage().contains("not 40 hex digits"), commit.getMessage());

        for (String name : List.of("escaped", "escaped.lock", "escaped-commit")) {
            assertFalse(Files.exists(home.resolve(name)), name);
            assertFalse(Files.exists(home.resolve("hub").resolve(name)), name);
        }
    }

    /** A file announced as 100 bytes was once read to 1.5 GB before its size was checked. */
    @Test
    void readingStopsAtTheAnnouncedSizeAndAtTheCeiling() throws IOException {
        server.forgeLfs("X-Linked-Size", "100");
        HubException more = assertThrows(HubException.class, () -> resolver(env()).resolve(REPO));
        assertEquals(HubException.Reason.PROTOCOL, more.reason());
        assertTrue(more.getMessage().contains("sent more than the 100 bytes it announced"), more.getMessage());
        try (var blobs = Files.walk(home.resolve("hub"))) {
            assertTrue(blobs.noneMatch(f -> f.toString().endsWith(".incomplete")), "nothing half-read is kept");
        }

        server.clearForged();
        Map<String, String> env = env();
        env.put("SLM_HUB_MAX_FILE_BYTES", "1000");
        HubException ceiling = assertThrows(HubException.class, () -> resolver(env).resolve(REPO));
        assertTrue(ceiling.getMessage().contains("SLM_HUB_MAX_FILE_BYTES"), ceiling.getMessage());
    }

    @Test
    void shardedCheckpointsFetchTheIndexAndEveryShard() throws IOException {
        String repo = "test-org/sharded";
        byte[] shard1 = randomBytes(200_000, 3);
        byte[] shard2 = randomBytes(150_000, 4);
        String index = """
                {"metadata": {"total_size": 350000}, "weight_map": {
                  "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                  "model.layers.0.mlp.up_proj.weight": "model-00001-of-00002.safetensors",
                  "model.norm.weight": "model-00002-of-00002.safetensors"}}
                """;
        server.repo(repo, COMMIT.replace('0', 'f')).file(repo, "config.json", CONFIG)
                .file(repo, "tokenizer.json", tokenizer, true).file(repo, "tokenizer_config.json", TOKENIZER_CONFIG)
                .file(repo, "chat_template.jinja", "{{ messages }}")
                .file(repo, "model.safetensors.index.json", index)
                .file(repo, "model-00001-of-00002.safetensors", shard1, true)
                .file(repo, "model-00002-of-00002.safetensors", shard2, true);

        Path snapshot = resolver(env()).resolve(repo);

        assertArrayEquals(shard1, Files.readAllBytes(snapshot.resolve("model-00001-of-00002.safetensors")));
        assertArrayEquals(shard2, Files.readAllBytes(snapshot.resolve("model-00002-of-00002.safetensors")));
        assertEquals(Set.of("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"),
                list(snapshot));
        Path noExist = home.resolve("hub/models--test-org--sharded/.no_exist");
        assertTrue(Files.exists(noExist.resolve(COMMIT.replace('0', 'f')).resolve("model.safetensors")));
    }

    @Test
    void gatedRepositoryTellsToAcceptTheLicenseAndSetHfToken() {
        server.gated(REPO, "hf_secret");
        HubException denied = assertThrows(HubException.class, () -> resolver(env()).resolve(REPO));
        assertEquals(HubException.Reason.ACCESS_DENIED, denied.reason());
        String message = denied.getMessage();
        assertTrue(message.contains("HTTP 401") && message.contains("accept its license")
                && message.contains("set HF_TOKEN") && message.contains(server.endpoint() + "/" + REPO), message);
        assertTrue(message.contains("no token was sent"), message);

        Map<String, String> wrongToken = env();
        wrongToken.put("HF_TOKEN", "hf_wrong");
        HubException refused = assertThrows(HubException.class, () -> resolver(wrongToken).resolve(REPO));
        assertTrue(refused.getMessage().contains("the configured token was refused"), refused.getMessage());
    }

    @Test
    void hfTokenIsSentAsBearerAndOpensAGatedRepository() throws IOException {
        server.gated(REPO, "hf_secret");
        Map<String, String> withToken = env();
        withToken.put("HF_TOKEN", "hf_secret");
        Path snapshot = resolver(withToken).resolve(REPO);

        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        List<HubTestServer.Request> resolves = server.requests().stream()
                .filter(r -> r.path().contains("/resolve/")).toList();
        assertFalse(resolves.isEmpty());
        assertTrue(resolves.stream().allMatch(r -> "Bearer hf_secret".equals(r.authorization())), resolves.toString());
    }

    @Test
    void tokenFileOfAHuggingfaceLoginIsUsedWithoutHfToken() throws IOException {
        Files.writeString(home.resolve("token"), "hf_saved\n");
        server.gated(REPO, "hf_saved");
        resolver(env()).resolve(REPO);
        assertTrue(server.requests().stream().allMatch(r -> !r.path().contains("/resolve/")
                || "Bearer hf_saved".equals(r.authorization())));
    }

    @Test
    void missingRepositoryOrRevisionIsNotFound() {
        HubException repo = assertThrows(HubException.class, () -> resolver(env()).resolve("test-org/no-such-model"));
        assertEquals(HubException.Reason.NOT_FOUND, repo.reason());
        assertTrue(repo.getMessage().startsWith("model test-org/no-such-model not found on " + server.endpoint()),
                repo.getMessage());
        assertTrue(repo.getMessage().contains("there is no directory test-org/no-such-model either"));

        HubException revision = assertThrows(HubException.class, () -> resolver(env()).resolve(REPO + "@v9"));
        assertTrue(revision.getMessage().startsWith("revision v9 of " + REPO + " not found"), revision.getMessage());

        server.repo("test-org/no-weights", COMMIT).file("test-org/no-weights", "config.json", CONFIG)
                .file("test-org/no-weights", "tokenizer.json", "{}")
                .file("test-org/no-weights", "tokenizer_config.json", "{}");
        HubException weightsMissing = assertThrows(HubException.class,
                () -> resolver(env()).resolve("test-org/no-weights"));
        assertTrue(weightsMissing.getMessage().contains("has neither model.safetensors nor "
                + "model.safetensors.index.json"), weightsMissing.getMessage());
    }

    @Test
    void settingsFollowHuggingfaceHubEnvironmentVariables() {
        HubSettings defaults = HubSettings.fromEnvironment(Map.of("HOME", "/home/ada"));
        assertEquals("https://huggingface.co", defaults.endpoint());
        assertEquals(Path.of("/home/ada/.cache/huggingface/hub"), defaults.cacheDir());
        assertFalse(defaults.offline());

        assertEquals(Path.of("/x/cache/huggingface/hub"),
                HubSettings.fromEnvironment(Map.of("HOME", "/home/ada", "XDG_CACHE_HOME", "/x/cache")).cacheDir());
        assertEquals(Path.of("/data/hf/hub"), HubSettings.fromEnvironment(Map.of("HF_HOME", "/data/hf")).cacheDir());
        assertEquals(Path.of("/home/ada/hub-cache"), HubSettings.fromEnvironment(Map.of("HOME", "/home/ada",
                "HF_HOME", "/data/hf", "HF_HUB_CACHE", "~/hub-cache")).cacheDir());
        HubSettings mirror = HubSettings.fromEnvironment(Map.of("HF_HOME", "/data/hf", "HF_ENDPOINT",
                "https://mirror.example/", "HF_TOKEN", "hf_abc", "HF_HUB_OFFLINE", "true"));
        assertEquals("https://mirror.example", mirror.endpoint());
        assertEquals("hf_abc", mirror.token());
        assertFalse(mirror.toString().contains("hf_abc"), mirror.toString());
        assertTrue(mirror.offline());
        assertFalse(HubSettings.fromEnvironment(Map.of("HF_HOME", "/data/hf", "HF_HUB_OFFLINE", "0")).offline());

        assertEquals(Duration.ofSeconds(10), defaults.etagTimeout());
        assertEquals(Duration.ofSeconds(10), defaults.downloadTimeout());
        HubSettings slow = HubSettings.fromEnvironment(Map.of("HF_HOME", "/data/hf", "HF_HUB_ETAG_TIMEOUT", "30",
                "HF_HUB_DOWNLOAD_TIMEOUT", "2.5"));
        assertEquals(Duration.ofSeconds(30), slow.etagTimeout());
        assertEquals(Duration.ofMillis(2500), slow.downloadTimeout());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> HubSettings.fromEnvironment(Map.of("HF_HOME", "/data/hf", "HF_HUB_DOWNLOAD_TIMEOUT", "soon")));
        assertTrue(bad.getMessage().contains("HF_HUB_DOWNLOAD_TIMEOUT"), bad.getMessage());
    }

    @Test
    void specsAreDirectoriesDemoTinyOrHubIds() {
        assertTrue(ModelResolver.isHubId("Qwen/Qwen3-0.6B"));
        assertTrue(ModelResolver.isHubId("HuggingFaceTB/SmolLM2-135M-Instruct@main"));
        assertFalse(ModelResolver.isHubId("Qwen3-0.6B"));
        assertFalse(ModelResolver.isHubId("a/b/c"));
        assertFalse(ModelResolver.isHubId("../models"));
        assertFalse(ModelResolver.isHubId("a--b/c"));
        IllegalArgumentException neither = assertThrows(IllegalArgumentException.class,
                () -> resolver(env()).resolve("no-such-dir/really/not"));
        assertTrue(neither.getMessage().contains("no such directory, and not a Hugging Face id"));
        assertEquals("revision%2Fwith%20space", HubClient.encode("revision/with space", false));
        assertEquals(java.util.Optional.of("Qwen/Qwen3-0.6B"), HubCache.repoIdOf(
                Path.of("/c/hub/models--Qwen--Qwen3-0.6B/snapshots/0123456789abcdef0123456789abcdef01234567")));
    }

    private Map<String, String> env() {
        Map<String, String> env = new HashMap<>();
        env.put("HF_HOME", home.toString());
        env.put("HF_ENDPOINT", server.endpoint());
        return env;
    }

    private static ModelResolver resolver(Map<String, String> env) {
        return resolver(env, null);
    }

    private static ModelResolver resolver(Map<String, String> env, PrintStream messages) {
        return new ModelResolver(env, messages);
    }

    private static boolean lfs(String file) {
        return file.equals("tokenizer.json") || file.endsWith(".safetensors");
    }

    private static Set<String> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static int closedPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
