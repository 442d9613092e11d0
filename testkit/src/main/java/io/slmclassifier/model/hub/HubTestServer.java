package io.slmclassifier.model.hub;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A Hugging Face hub on loopback with the hub's URL layout and headers: {@code /{repo}/resolve/{revision}/{file}}
 * answers regular files itself (ETag = git blob sha1) and redirects LFS files (302, relative Location to
 * {@code /lfs/{sha256}}, X-Linked-Etag, X-Linked-Size), with X-Repo-Commit on both; {@code /lfs/...} serves
 * byte ranges. Errors carry the hub's X-Error-Code. Every request is recorded.
 */
final class HubTestServer implements AutoCloseable {

    record Request(String method, String path, String range, String authorization) {}

    private static final String RESOLVE_CACHE = "/api/resolve-cache/models/";

    private record StoredFile(byte[] content, boolean lfs) {}

    private static final class Repo {
        final String commit;
        final Map<String, StoredFile> files = new LinkedHashMap<>();
        String requiredToken;

        Repo(String commit) {
            this.commit = commit;
        }
    }

    private final HttpServer server;
    private final Map<String, Repo> repos = new ConcurrentHashMap<>();
    private final Map<String, byte[]> lfsObjects = new ConcurrentHashMap<>();
    private final Set<String> corrupted = ConcurrentHashMap.newKeySet();
    private final Map<String, Integer> dropAfter = new ConcurrentHashMap<>();
    private final Map<String, Integer> stallAfter = new ConcurrentHashMap<>();
    /** Holds stalled responses until the server closes. */
    private final CountDownLatch closed = new CountDownLatch(1);
    private final ExecutorService handlers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "hub-test-server");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean smallFilesViaResolveCache;
    /** Header values that replace the true ones on resolve answers (of LFS files only): a hostile or broken hub. */
    private final Map<String, String> forged = new ConcurrentHashMap<>();
    private final Map<String, String> forgedLfs = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    HubTestServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        // A thread per exchange: a stalled response must not hold up the client's next request.
        server.setExecutor(handlers);
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** A repository at one commit; add files with {@link #file}. */
    HubTestServer repo(String repoId, String commit) {
        repos.put(repoId, new Repo(commit));
        return this;
    }

    HubTestServer file(String repoId, String name, byte[] content, boolean lfs) {
        repos.get(repoId).files.put(name, new StoredFile(content, lfs));
        if (lfs) {
            lfsObjects.put(sha256(content), content);
        }
        return this;
    }

    HubTestServer file(String repoId, String name, String content) {
        return file(repoId, name, content.getBytes(StandardCharsets.UTF_8), false);
    }

    /** Only requests with this bearer token get in; others get the hub's gated-repository answer. */
    HubTestServer gated(String repoId, String token) {
        repos.get(repoId).requiredToken = token;
        return this;
    }

    /** The LFS object with this content is served with one byte changed. */
    void corrupt(byte[] content) {
        corrupted.add(sha256(content));
    }

    /**
     * Answers resolve requests for regular files as huggingface.co does today: a 307 with a relative Location to
     * {@code /api/resolve-cache/models/{repo}/{commit}/{file}}, which serves the file (and no commit header).
     */
    void redirectSmallFilesToResolveCache() {
        smallFilesViaResolveCache = true;
    }

    /** Resolve answers carry this value of {@code header} instead of the true one. */
    void forge(String header, String value) {
        forged.put(header, value);
    }

    /** Resolve answers of LFS files carry this value of {@code header} instead of the true one. */
    void forgeLfs(String header, String value) {
        forgedLfs.put(header, value);
    }

    void clearForged() {
        forged.clear();
        forgedLfs.clear();
    }

    /** The next GET of this LFS object stops after {@code bytes} bytes, as a dropped connection does. */
    void dropConnectionOnce(byte[] content, int bytes) {
        dropAfter.put(sha256(content), bytes);
    }

    /** The next GET of this LFS object sends {@code bytes} bytes and then nothing, with the connection kept open. */
    void stallOnce(byte[] content, int bytes) {
        stallAfter.put(sha256(content), bytes);
    }

    List<Request> requests() {
        return new ArrayList<>(requests);
    }

    void clearRequests() {
        requests.clear();
    }

    long count(String method) {
        return requests.stream().filter(r -> r.method().equals(method)).count();
    }

    static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String gitSha1(byte[] content) {
        try {
            MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
            sha1.update(("blob " + content.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(sha1.digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The git LFS pointer file that the repository itself stores for an LFS file; the hub's ETag hashes it. */
    private static byte[] lfsPointer(byte[] content) {
        return ("version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256(content) + "\nsize "
                + content.length + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getRawPath();
            Headers in = exchange.getRequestHeaders();
            requests.add(new Request(exchange.getRequestMethod(), path, in.getFirst("Range"),
                    in.getFirst("Authorization")));
            if (path.startsWith("/lfs/")) {
                serveLfs(exchange, path.substring("/lfs/".length()));
                return;
            }
            if (path.startsWith(RESOLVE_CACHE)) {
                serveResolveCache(exchange, path.substring(RESOLVE_CACHE.length()));
                return;
            }
            // /{owner}/{name}/resolve/{revision}/{file...}
            String[] parts = path.substring(1).split("/", 5);
            if (parts.length < 5 || !parts[2].equals("resolve")) {
                error(exchange, 404, null, "no such route");
                return;
            }
            String repoId = parts[0] + "/" + parts[1];
            String revision = java.net.URLDecoder.decode(parts[3], StandardCharsets.UTF_8);
            String fileName = java.net.URLDecoder.decode(parts[4], StandardCharsets.UTF_8);
            Repo repo = repos.get(repoId);
            if (repo == null) {
                error(exchange, 404, "RepoNotFound", "Repository not found");
                return;
            }
            if (repo.requiredToken != null && !("Bearer " + repo.requiredToken).equals(in.getFirst("Authorization"))) {
                error(exchange, 401, "GatedRepo", "Access to model " + repoId + " is restricted. You must have access "
                        + "to it and be authenticated to access it. Please log in.");
                return;
            }
            if (!revision.equals("main") && !revision.equals(repo.commit)) {
                error(exchange, 404, "RevisionNotFound", "Invalid rev id: " + revision);
                return;
            }
            Headers out = exchange.getResponseHeaders();
            out.set("X-Repo-Commit", repo.commit);
            StoredFile file = repo.files.get(fileName);
            if (file == null) {
                error(exchange, 404, "EntryNotFound", "Entry not found");
                return;
            }
            if (file.lfs()) {
                out.set("ETag", "\"" + gitSha1(lfsPointer(file.content())) + "\"");
                out.set("X-Linked-Etag", "\"" + sha256(file.content()) + "\"");
                out.set("X-Linked-Size", Long.toString(file.content().length));
                out.set("Location", "/lfs/" + sha256(file.content()));
                forged.forEach(out::set);
                forgedLfs.forEach(out::set);
                exchange.sendResponseHeaders(302, -1);
                return;
            }
            out.set("ETag", "\"" + gitSha1(file.content()) + "\"");
            forged.forEach(out::set);
            if (smallFilesViaResolveCache) {
                out.set("Location", RESOLVE_CACHE + repoId + "/" + repo.commit + "/" + parts[4]);
                exchange.sendResponseHeaders(307, -1);
                return;
            }
            send(exchange, 200, file.content(), 0);
        }
    }

    private void serveResolveCache(HttpExchange exchange, String rest) throws IOException {
        // {owner}/{name}/{commit}/{file...}
        String[] parts = rest.split("/", 4);
        Repo repo = repos.get(parts[0] + "/" + parts[1]);
        StoredFile file = repo == null || !parts[2].equals(repo.commit) ? null
                : repo.files.get(java.net.URLDecoder.decode(parts[3], StandardCharsets.UTF_8));
        if (file == null) {
            error(exchange, 404, "EntryNotFound", "Entry not found");
            return;
        }
        exchange.getResponseHeaders().set("ETag", "\"" + gitSha1(file.content()) + "\"");
        send(exchange, 200, file.content(), 0);
    }

    private void serveLfs(HttpExchange exchange, String sha) throws IOException {
        byte[] content = lfsObjects.get(sha);
        if (content == null) {
            error(exchange, 404, null, "no such object");
            return;
        }
        if (corrupted.contains(sha)) {
            content = content.clone();
            content[content.length / 2] ^= 0x5a;
        }
        exchange.getResponseHeaders().set("ETag", "\"" + sha + "\"");
        exchange.getResponseHeaders().set("Accept-Ranges", "bytes");
        String range = exchange.getRequestHeaders().getFirst("Range");
        if (range != null && range.startsWith("bytes=") && range.endsWith("-")) {
            int from = Integer.parseInt(range.substring("bytes=".length(), range.length() - 1));
            if (from >= content.length) {
                exchange.getResponseHeaders().set("Content-Range", "bytes */" + content.length);
                exchange.sendResponseHeaders(416, -1);
                return;
            }
            exchange.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/"
                    + content.length);
            send(exchange, 206, content, from);
            return;
        }
        boolean get = exchange.getRequestMethod().equals("GET");
        Integer drop = get ? dropAfter.remove(sha) : null;
        if (drop != null) {
            // Closing short of the announced length makes the server drop the connection.
            sendStart(exchange, content, drop);
            return;
        }
        Integer stall = get ? stallAfter.remove(sha) : null;
        if (stall != null) {
            sendStart(exchange, content, stall);
            try {
                closed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        send(exchange, 200, content, 0);
    }

    /** Announces the whole content and sends its first {@code bytes} bytes, leaving the response unfinished. */
    private static void sendStart(HttpExchange exchange, byte[] content, int bytes) throws IOException {
        exchange.sendResponseHeaders(200, content.length);
        OutputStream body = exchange.getResponseBody();
        body.write(content, 0, bytes);
        body.flush();
    }

    private static void send(HttpExchange exchange, int status, byte[] content, int from) throws IOException {
        int length = content.length - from;
        if (exchange.getRequestMethod().equals("HEAD")) {
            exchange.getResponseHeaders().set("Content-Length", Integer.toString(length));
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        exchange.sendResponseHeaders(status, length);
        try (OutputStream body = exchange.getResponseBody()) {
            body.write(content, from, length);
        }
    }

    private static void error(HttpExchange exchange, int status, String code, String message) throws IOException {
        if (code != null) {
            exchange.getResponseHeaders().set("X-Error-Code", code);
        }
        exchange.getResponseHeaders().set("X-Error-Message", message);
        exchange.sendResponseHeaders(status, -1);
    }

    @Override
    public void close() {
        closed.countDown();
        server.stop(0);
        handlers.shutdownNow();
    }
}
