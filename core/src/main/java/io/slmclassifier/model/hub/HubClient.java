package io.slmclassifier.model.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * Files of a Hugging Face model repository, fetched into the shared cache ({@link HubCache}) the way
 * huggingface_hub fetches them: a HEAD on {@code {endpoint}/{repo}/resolve/{revision}/{file}} without following
 * the redirect gives the commit ({@code X-Repo-Commit}), the content's ETag ({@code X-Linked-Etag} for LFS files,
 * their sha256; else {@code ETag}, the git sha1), its size ({@code X-Linked-Size} or {@code Content-Length}) and
 * where the bytes are ({@code Location}); a GET there, resumed with a Range from any {@code .incomplete} file,
 * writes the blob, which is verified before it is linked into the snapshot.
 */
public final class HubClient {
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern GIT_SHA1 = Pattern.compile("[0-9a-f]{40}");
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final int MAX_REDIRECTS = 10;
    private static final int TRANSFER_ATTEMPTS = 3;
    private static final String USER_AGENT = "slm-classifier/0.1.0; java/" + Runtime.version().feature();

    private final HubSettings settings;
    private final PrintStream progress;
    private final boolean progressTerminal;
    private final HttpClient http;

    /**
     * @param progress where download progress is drawn (stderr for a person), null for none: redrawn in place when
     *     the process has a terminal, plain lines when its output goes to a file or a pipe
     */
    public HubClient(HubSettings settings, PrintStream progress) {
        this(settings, progress, System.console() != null);
    }

    HubClient(HubSettings settings, PrintStream progress, boolean progressTerminal) {
        this.settings = settings;
        this.progress = progress;
        this.progressTerminal = progressTerminal;
        // Redirects are followed by hand: the metadata lives on the redirect itself, and the token must not
        // travel to the content host.
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(CONNECT_TIMEOUT).build();
    }

    public HubSettings settings() {
        return settings;
    }

    /**
     * What the hub says about one file.
     *
     * @param etag the normalized ETag: sha256 of the content for LFS files, git blob sha1 for others
     * @param size -1 when the hub did not say
     * @param location where a GET fetches the content (the resolve URL itself, or the LFS redirect's target)
     */
    public record FileMetadata(String commit, String etag, long size, URI location) {}

    public URI resolveUrl(String repoId, String revision, String file) {
        return URI.create(settings.endpoint() + "/" + repoId + "/resolve/" + encode(revision, false) + "/"
                + encode(file, true));
    }

    /** Null when the repository exists but has no such file at that revision. */
    public FileMetadata metadata(String repoId, String revision, String file) throws IOException {
        URI uri = resolveUrl(repoId, revision, file);
        String commit = null;
        for (int hop = 0; ; hop++) {
            HttpResponse<Void> response;
            try {
                response = http.send(request(uri).method("HEAD", HttpRequest.BodyPublishers.noBody())
                        .timeout(settings.etagTimeout()).build(), HttpResponse.BodyHandlers.discarding());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while asking " + settings.endpoint() + " for " + file);
            } catch (IOException e) {
                throw new HubException(HubException.Reason.UNREACHABLE, "cannot reach " + settings.endpoint() + " ("
                        + describe(e) + ")", e);
            }
            HttpHeaders headers = response.headers();
            int status = response.statusCode();
            // A later hop may leave out the commit an earlier one named.
            commit = headers.firstValue("X-Repo-Commit").orElse(commit);
            String linkedEtag = headers.firstValue("X-Linked-Etag").orElse(null);
            if (status >= 300 && status < 400) {
                String location = headers.firstValue("Location").orElse(null);
                if (location == null) {
                    throw new HubException(HubException.Reason.PROTOCOL, "HTTP " + status + " without a Location from "
                            + uri);
                }
                URI target = uri.resolve(location);
                // A relative redirect that is not an LFS file (a renamed repository, or the hub's own cache of small
                // files) is followed, as huggingface_hub follows it; an LFS redirect carries the metadata itself.
                if (linkedEtag == null && !URI.create(location).isAbsolute() && hop < MAX_REDIRECTS) {
                    uri = target;
                    continue;
                }
                return metadataOf(uri, headers, commit, linkedEtag, target, false);
            }
            if (status == 200) {
                return metadataOf(uri, headers, commit, linkedEtag, uri, true);
            }
            if (status == 404 && isEntryNotFound(headers)) {
                return null;
            }
            throw httpError(status, headers, repoId, revision, uri);
        }
    }

    /**
     * The snapshot path of a file, downloading its blob unless the cache has it. The blob is named by its ETag,
     * so a file that did not change between commits is downloaded once.
     */
    public Path fetch(HubCache cache, String commit, String file, FileMetadata metadata) throws IOException {
        Path pointer = cache.pointer(commit, file);
        if (Files.exists(pointer)) {
            return pointer;
        }
        String etag = metadata.etag();
        if (!Files.exists(cache.blob(etag))) {
            try (HubCache.BlobLock lock = cache.lock(etag)) {
                // Another process may have finished it while this one waited for the lock.
                if (!Files.exists(cache.blob(etag))) {
                    download(cache, file, metadata);
                }
            }
        }
        return cache.link(commit, file, etag);
    }

    private void download(HubCache cache, String file, FileMetadata metadata) throws IOException {
        String name = cache.repoId() + "/" + file;
        Path partial = cache.incomplete(metadata.etag());
        Files.createDirectories(partial.getParent());
        for (int attempt = 1; ; attempt++) {
            try {
                transfer(metadata.location(), partial, metadata.size(), cache.repoId(), name);
                break;
            } catch (HubException e) {
                throw e;
            } catch (InterruptedIOException e) {
                throw e;
            } catch (IOException e) {
                if (attempt == TRANSFER_ATTEMPTS) {
                    long kept = Files.exists(partial) ? Files.size(partial) : 0;
                    throw new HubException(HubException.Reason.UNREACHABLE, "download of " + name + " failed ("
                            + describe(e) + "); " + DownloadProgress.bytes(kept)
                            + " are kept and the next run resumes from there", e);
                }
                pauseBeforeRetry(attempt, name);
            }
        }
        verify(partial, metadata, name);
        Files.move(partial, cache.blob(metadata.etag()), StandardCopyOption.ATOMIC_MOVE);
    }

    /** A dropped connection often comes back within seconds; asking again at once would only fail again. */
    private static void pauseBeforeRetry(int attempt, String name) throws InterruptedIOException {
        try {
            Thread.sleep(500L * attempt);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while downloading " + name);
        }
    }

    /** Appends the rest of the content to {@code partial}; an IOException leaves what arrived for the next attempt. */
    private void transfer(URI location, Path partial, long expectedSize, String repoId, String name)
            throws IOException {
        long have = Files.exists(partial) ? Files.size(partial) : 0;
        if (expectedSize >= 0 && have > expectedSize) {
            Files.delete(partial);
            have = 0;
        }
        if (expectedSize >= 0 && have == expectedSize) {
            return;
        }
        URI uri = location;
        HttpResponse<InputStream> response = null;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder get = request(uri).GET().timeout(settings.downloadTimeout());
            if (have > 0) {
                get.header("Range", "bytes=" + have + "-");
            }
            try {
                response = http.send(get.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while downloading " + name);
            }
            int status = response.statusCode();
            if (status < 300 || status >= 400) {
                break;
            }
            response.body().close();
            String next = response.headers().firstValue("Location").orElseThrow(() -> new HubException(
                    HubException.Reason.PROTOCOL, "HTTP " + status + " without a Location while downloading " + name));
            uri = uri.resolve(next);
        }
        int status = response.statusCode();
        boolean append = false;
        if (status == 206) {
            long start = rangeStart(response.headers());
            if (start != have) {
                response.body().close();
                Files.deleteIfExists(partial);
                throw new IOException("the server sent bytes from " + start + " when asked for " + have);
            }
            append = true;
        } else if (status == 416) {
            // What is on disk cannot be continued: start over on the next attempt.
            response.body().close();
            Files.deleteIfExists(partial);
            throw new IOException("the server refused to resume at byte " + have);
        } else if (status != 200) {
            response.body().close();
            throw httpError(status, response.headers(), repoId, null, uri);
        }
        long already = append ? have : 0;
        OptionalLong length = response.headers().firstValueAsLong("Content-Length");
        long total = expectedSize >= 0 ? expectedSize : length.isPresent() ? already + length.getAsLong() : -1;
        DownloadProgress bar = new DownloadProgress(progress, progressTerminal, name, total, already);
        try (InputStream in = response.body();
                StallWatch watch = new StallWatch(in, settings.downloadTimeout());
                OutputStream out = Files.newOutputStream(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] buffer = new byte[1 << 20];
            int n;
            long received = already;
            // Reading stops at the announced size (or the ceiling): a hub that sends more fills no disk.
            long limit = expectedSize >= 0 ? expectedSize : settings.maxFileBytes();
            try {
                while ((n = in.read(buffer)) > 0) {
                    watch.progressed();
                    if (received + n > limit) {
                        out.close();
                        Files.deleteIfExists(partial);
                        throw new HubException(HubException.Reason.PROTOCOL, name + ": the hub sent more than "
                                + (expectedSize >= 0 ? "the " + expectedSize + " bytes it announced"
                                        : "the ceiling of " + limit + " bytes (SLM_HUB_MAX_FILE_BYTES)") + "; refused");
                    }
                    out.write(buffer, 0, n);
                    received += n;
                    bar.advance(n);
                }
            } catch (IOException closed) {
                if (!watch.stalled()) {
                    throw closed;
                }
            }
            if (watch.stalled()) {
                throw new IOException("no data for " + settings.downloadTimeout().toMillis() + " ms after " + received
                        + " bytes (HF_HUB_DOWNLOAD_TIMEOUT)");
            }
            if (total >= 0 && received < total) {
                throw new IOException("the connection closed after " + received + " of " + total + " bytes");
            }
        } finally {
            bar.finish();
        }
    }

    /**
     * The read timeout of a download: java.net.http has none for a body that stops arriving, so a daemon thread
     * closes the stream when no byte came for the timeout, which ends the blocked read.
     */
    private static final class StallWatch implements AutoCloseable {
        private final InputStream in;
        private final long timeoutNanos;
        private final Thread watcher;
        private volatile long lastProgress = System.nanoTime();
        private volatile boolean stalled;
        private volatile boolean done;

        StallWatch(InputStream in, Duration timeout) {
            this.in = in;
            this.timeoutNanos = timeout.toNanos();
            this.watcher = new Thread(this::watch, "hub-download-watch");
            watcher.setDaemon(true);
            watcher.start();
        }

        void progressed() {
            lastProgress = System.nanoTime();
        }

        boolean stalled() {
            return stalled;
        }

        private void watch() {
            long tick = Math.max(10_000_000L, timeoutNanos / 4);
            while (!done) {
                try {
                    Thread.sleep(tick / 1_000_000L);
                } catch (InterruptedException e) {
                    return;
                }
                if (!done && System.nanoTime() - lastProgress > timeoutNanos) {
                    stalled = true;
                    try {
                        in.close();
                    } catch (IOException ignored) {
                        // closing is all there is to do; the reader sees the stall either way
                    }
                    return;
                }
            }
        }

        @Override
        public void close() {
            done = true;
            watcher.interrupt();
        }
    }

    /**
     * LFS ETags are the sha256 of the content and git ETags the sha1 of "blob {size}\0" + content, so both are
     * checked; a file that does not match is deleted rather than kept for resuming, since its bytes are wrong.
     */
    private static void verify(Path partial, FileMetadata metadata, String name) throws IOException {
        long size = Files.size(partial);
        String problem = null;
        if (metadata.size() >= 0 && size != metadata.size()) {
            problem = "size " + size + " bytes, the hub announced " + metadata.size();
        } else if (SHA256.matcher(metadata.etag()).matches()) {
            String actual = digest(partial, "SHA-256", null);
            if (!actual.equals(metadata.etag())) {
                problem = "sha256 " + actual + ", the hub announced " + metadata.etag();
            }
        } else if (GIT_SHA1.matcher(metadata.etag()).matches()) {
            String actual = digest(partial, "SHA-1", ("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
            if (!actual.equals(metadata.etag())) {
                problem = "git sha1 " + actual + ", the hub announced " + metadata.etag();
            }
        }
        if (problem != null) {
            Files.deleteIfExists(partial);
            throw new HubException(HubException.Reason.CORRUPT, "refused the download of " + name + ": " + problem
                    + " (deleted; run again to download it anew)");
        }
    }

    static String digest(Path file, String algorithm, byte[] prefix) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        if (prefix != null) {
            digest.update(prefix);
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 20];
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private FileMetadata metadataOf(URI uri, HttpHeaders headers, String commit, String linkedEtag, URI location,
            boolean contentLengthIsSize) throws HubException {
        String etag = normalizeEtag(linkedEtag != null ? linkedEtag : headers.firstValue("ETag").orElse(null));
        if (commit == null || etag == null) {
            throw new HubException(HubException.Reason.PROTOCOL, uri + " answered without "
                    + (commit == null ? "X-Repo-Commit" : "an ETag") + ": is " + settings.endpoint()
                    + " a Hugging Face hub?");
        }
        // Both become names in the cache: anything but hex digits could point outside it.
        if (!GIT_SHA1.matcher(commit).matches()) {
            throw new HubException(HubException.Reason.PROTOCOL, uri + " named the commit '" + shorten(commit)
                    + "', not 40 hex digits: refused");
        }
        if (!SHA256.matcher(etag).matches() && !GIT_SHA1.matcher(etag).matches()) {
            throw new HubException(HubException.Reason.PROTOCOL, uri + " sent the ETag '" + shorten(etag)
                    + "', neither a sha256 nor a git sha1 in hex: refused");
        }
        OptionalLong size = headers.firstValueAsLong("X-Linked-Size");
        if (size.isEmpty() && contentLengthIsSize) {
            size = headers.firstValueAsLong("Content-Length");
        }
        if (size.isPresent() && size.getAsLong() > settings.maxFileBytes()) {
            throw new HubException(HubException.Reason.PROTOCOL, uri + " announces " + size.getAsLong()
                    + " bytes, more than the ceiling of " + settings.maxFileBytes() + " (SLM_HUB_MAX_FILE_BYTES)");
        }
        return new FileMetadata(commit, etag, size.orElse(-1), location);
    }

    private static String shorten(String value) {
        return value.length() <= 80 ? value : value.substring(0, 80) + "...";
    }

    /** The hub quotes ETags; a proxy may weaken them. Neither belongs in a file name. */
    static String normalizeEtag(String etag) {
        if (etag == null) {
            return null;
        }
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        e = e.replace("\"", "");
        return e.isEmpty() ? null : e;
    }

    private static boolean isEntryNotFound(HttpHeaders headers) {
        String code = headers.firstValue("X-Error-Code").orElse(null);
        // Without an error code a 404 on a file of a reachable repository is the file being absent.
        return code == null || code.equals("EntryNotFound");
    }

    private HubException httpError(int status, HttpHeaders headers, String repoId, String revision, URI uri) {
        String code = headers.firstValue("X-Error-Code").orElse("");
        String serverMessage = headers.firstValue("X-Error-Message").map(m -> " (" + m + ")").orElse("");
        if (!sameOrigin(uri, URI.create(settings.endpoint()))) {
            // The content host (a CDN) knows nothing of tokens or gates; its signed link may simply have expired.
            return new HubException(HubException.Reason.PROTOCOL, "HTTP " + status + " from " + uri.getHost()
                    + " while downloading from " + repoId + "; run again to retry");
        }
        String page = settings.endpoint() + "/" + repoId;
        if (code.equals("RepoNotFound")) {
            return new HubException(HubException.Reason.NOT_FOUND, "model " + repoId + " not found on "
                    + settings.endpoint() + " (if it is private, set HF_TOKEN to an access token that can read it)");
        }
        if (code.equals("GatedRepo") || status == 401 || status == 403) {
            String tokenNote = settings.token() == null ? "no token was sent"
                    : "the configured token was refused for this repository";
            return new HubException(HubException.Reason.ACCESS_DENIED, "access to " + repoId + " denied (HTTP " + status
                    + ", " + tokenNote + "): the model is gated or private. Log in at " + page
                    + ", accept its license, create an access token at " + settings.endpoint()
                    + "/settings/tokens and set HF_TOKEN to it" + serverMessage);
        }
        if (code.equals("RevisionNotFound")) {
            return new HubException(HubException.Reason.NOT_FOUND, "revision " + revision + " of " + repoId
                    + " not found on " + settings.endpoint());
        }
        if (status == 404) {
            return new HubException(HubException.Reason.NOT_FOUND, "not found on " + settings.endpoint() + ": " + uri
                    + serverMessage);
        }
        return new HubException(HubException.Reason.PROTOCOL, "HTTP " + status + " from " + uri + serverMessage);
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri).header("User-Agent", USER_AGENT)
                // The ETag hashes the stored bytes; a compressed body would not match them.
                .header("Accept-Encoding", "identity");
        if (settings.token() != null && sameOrigin(uri, URI.create(settings.endpoint()))) {
            builder.header("Authorization", "Bearer " + settings.token());
        }
        return builder;
    }

    private static boolean sameOrigin(URI a, URI b) {
        return Objects.equals(lower(a.getScheme()), lower(b.getScheme())) && Objects.equals(lower(a.getHost()),
                lower(b.getHost())) && port(a) == port(b);
    }

    private static String lower(String s) {
        return s == null ? null : s.toLowerCase(Locale.ROOT);
    }

    private static int port(URI uri) {
        return uri.getPort() >= 0 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
    }

    private static long rangeStart(HttpHeaders headers) {
        // Content-Range: bytes 1000-4999/5000
        String range = headers.firstValue("Content-Range").orElse("");
        int space = range.indexOf(' ');
        int dash = range.indexOf('-');
        try {
            return Long.parseLong(range.substring(space + 1, dash).strip());
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** Percent-encodes like Python's quote(): revisions with no safe characters, file paths keeping '/'. */
    static String encode(String value, boolean keepSlash) {
        StringBuilder out = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            boolean unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || (keepSlash && c == '/');
            if (unreserved) {
                out.append(c);
            } else {
                out.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return out.toString();
    }

    private static String describe(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof UnresolvedAddressException || c instanceof UnknownHostException) {
                return "host name not found: no network or no DNS";
            }
            if (c instanceof HttpConnectTimeoutException) {
                return "connection timed out";
            }
            if (c instanceof ConnectException) {
                return c.getMessage() != null ? c.getMessage().toLowerCase(Locale.ROOT) : "connection refused";
            }
        }
        Throwable t = e;
        while (t.getMessage() == null && t.getCause() != null) {
            t = t.getCause();
        }
        String type = t.getClass().getSimpleName();
        return t.getMessage() != null ? type + ": " + t.getMessage() : type;
    }
}
