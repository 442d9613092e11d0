package io.slmclassifier.rollout;

import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.ModelFingerprint;
import io.slmclassifier.model.TorchRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The processor's side of a rollout: follows the control topic and keeps the classifier serving the version
 * the log says. A new version is fetched, checked (SHA-256 and size of the archive, base model fingerprint, task
 * hash, shapes) and made ready beside the serving one while batches keep running (see {@link Application}); the
 * switch itself happens between two batches. A version that fails a check is reported as an ERROR event and the
 * previous one keeps serving.
 *
 * <p>Fetching is bounded ({@code adapter.fetch.timeout.ms}) and happens on a thread of its own, so a slow or
 * silent store holds up start-up no longer than that and the control topic not at all: commands and events that
 * arrive meanwhile are applied, and a fetch of a version no longer wanted is abandoned for the one that is. A
 * fetch that fails for the store's sake ({@link AdapterStore.Unavailable}) is tried again with pauses doubling
 * from 1 s to 5 min; one that fails for the archive's is final for that version. The version served last is
 * remembered in the cache directory with its archive, so a restarted processor serves it again from disk,
 * checked against the log's event, while the version the log wants is fetched or when it is refused.
 */
public final class AdapterRollout implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdapterRollout.class);

    /** How a version is applied to the model it serves on. */
    public enum Application {
        /**
         * Merged into copies of the base matrices ({@link Classifier#useMergedAdapter}): no extra cost per pass, a
         * copy of the targeted weights. For a processor of one task.
         */
        MERGED,
        /**
         * Beside the shared base weights ({@link Classifier#useUnmergedAdapter}): a switch is a pointer change and
         * a version costs only its own A and B on the device, so the adapters of several tasks on one model live
         * side by side; a pass pays two thin matrix products per fused projection (q/k/v, o, gate/up, down).
         */
        UNMERGED
    }

    private final ControlLog control;
    private final AdapterStore store;
    private final Classifier classifier;
    private final Application application;
    private final String baseModelSha256;
    private static final java.util.regex.Pattern SHA256_HEX = java.util.regex.Pattern.compile("[0-9a-f]{64}");
    /** What this class writes into the cache: {@code <version>-<sha256>}, its {@code .zip}, and partial ones. */
    private static final java.util.regex.Pattern CACHE_ENTRY =
            java.util.regex.Pattern.compile("(\\d{1,18})-[0-9a-f]{64}(\\.zip)?(\\.partial)?");
    /** The version served last and its archive's sha256, in the cache directory: what a restart serves first. */
    static final String LAST_SERVED = "last-served.json";
    private static final Duration FIRST_RETRY = Duration.ofSeconds(1);
    private static final Duration LAST_RETRY = Duration.ofMinutes(5);
    /** How often a fetch in progress looks whether its version is still the one wanted. */
    private static final long WANTED_CHECK_MILLIS = 100;
    private final Path cacheDir;
    private final String instance;
    private final LongConsumer servingVersion;
    /** Fetches, checks, applies and switches, one at a time: every change of the served version happens here. */
    private final ScheduledExecutorService switcher = Executors.newSingleThreadScheduledExecutor(daemon("adapter-rollout"));
    /** Reads from the store, so that the switcher can leave a read of a version no longer wanted behind. */
    private final ExecutorService reader = Executors.newCachedThreadPool(daemon("adapter-fetch"));
    /** Versions whose archive or event failed a check: never tried again by this process. */
    private final Set<Long> refused = ConcurrentHashMap.newKeySet();
    /** Failed tries in a row per version, of failures that were the store's: they set the pause before the next. */
    private final Map<Long, Integer> storeFailures = new ConcurrentHashMap<>();
    private ScheduledFuture<?> retry;
    /** The calibration temperature of each version whose event carries one (metric {@code temperature}). */
    private final java.util.Map<Long, Double> temperatures = new java.util.concurrent.ConcurrentHashMap<>();
    /** The control log as last read: what the switcher works towards. */
    private volatile ControlState wanted = new ControlState();
    /** 0: the base model. */
    private volatile long serving = 0;

    /** A rollout that merges each version ({@link Application#MERGED}): the processor of one task. */
    public AdapterRollout(ControlLog control, AdapterStore store, Classifier classifier, String baseModelSha256,
            Path cacheDir, String instance, LongConsumer servingVersion) {
        this(control, store, classifier, Application.MERGED, baseModelSha256, cacheDir, instance, servingVersion);
    }

    /**
     * @param application merged for a classifier that has the model to itself, unmerged when several tasks share it
     * @param servingVersion told the version after each switch (-1 for the base model), e.g. for metrics
     */
    public AdapterRollout(ControlLog control, AdapterStore store, Classifier classifier, Application application,
            String baseModelSha256, Path cacheDir, String instance, LongConsumer servingVersion) {
        this.control = control;
        this.store = store;
        this.classifier = classifier;
        this.application = application;
        this.baseModelSha256 = baseModelSha256;
        this.cacheDir = cacheDir;
        this.instance = instance;
        this.servingVersion = servingVersion;
        servingVersion.accept(-1);
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return task -> {
            Thread thread = new Thread(task, name);
            thread.setDaemon(true);
            return thread;
        };
    }

    /**
     * Reads the control topic to its end and serves what it says before returning (restart: same version), waiting
     * for the store at most one fetch timeout: first what this processor has on disk (the version the log wants
     * when its archive is in the cache, else the version it served last if the log still has it ACTIVE), then the
     * wanted version from the store. Past the timeout, start-up goes on with what serves and the fetch in the
     * background. The records applied are kept in the cache directory's control journal, so what was signed keeps
     * serving after a restart even when compaction has deleted it from the topic under a tombstone.
     */
    public void start() {
        control.keepJournal(cacheDir.resolve(ControlLog.JOURNAL_FILE));
        control.catchUp(Duration.ofSeconds(60));
        ControlState state = control.state();
        noteTemperatures(state);
        wanted = state;
        java.util.concurrent.Future<?> first = switcher.submit(() -> {
            try {
                serveFromDisk(state);
            } catch (IOException | RuntimeException e) {
                log.warn("Could not serve an adapter from {} at start: {}", cacheDir, e.toString());
            }
            reconcile();
        });
        try {
            first.get(store.fetchTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            log.warn("Starting with {} while adapter version {} is still being fetched",
                    serving == 0 ? "the base model" : "version " + serving, wantedVersion(state));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            log.warn("Could not serve adapter version {} at start: {}", wantedVersion(state), e.getCause().toString());
        }
        control.follow(this::apply);
    }

    /** The control topic as this processor follows it. */
    public ControlLog control() {
        return control;
    }

    /** The version served now; 0 for the base model. */
    public long serving() {
        return serving;
    }

    /** The temperature in an adapter's {@code calibration.json}, when it has a usable one. */
    private static Double archivedTemperature(Path dir) throws IOException {
        Path file = dir.resolve("calibration.json");
        if (!Files.isRegularFile(file)) {
            return null;
        }
        var t = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile()).path("temperature");
        if (!t.isNumber() || !usableTemperature(t.asDouble())) {
            throw new IOException("its calibration.json has no positive temperature");
        }
        return t.asDouble();
    }

    /** A temperature logits can be divided by: positive and finite. */
    private static boolean usableTemperature(double t) {
        return t > 0 && Double.isFinite(t);
    }

    /** The calibration temperature of a version as results name it; null for the base model or when none was fitted. */
    public Double temperatureOf(String adapterVersion) {
        try {
            return temperatures.get(Long.parseLong(adapterVersion));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Called with the log's state after each change: noted at once, served by the switcher. */
    void apply(ControlState state) {
        noteTemperatures(state);
        wanted = state;
        switcher.execute(this::reconcile);
    }

    private void noteTemperatures(ControlState state) {
        for (AdapterEvent e : state.events()) {
            Double t = e.getMetrics() == null ? null : e.getMetrics().get("temperature");
            if (t != null && usableTemperature(t)) {
                temperatures.put(e.getVersion(), t);
            }
        }
    }

    private static long wantedVersion(ControlState state) {
        return state.serving().orElse(0);
    }

    /** On the switcher: serves the version the log wants now, unless it is served already or was refused. */
    private void reconcile() {
        TorchRuntime.inferenceThread();
        ControlState state = wanted;
        long version = wantedVersion(state);
        if (version == serving || refused.contains(version)) {
            return;
        }
        if (version == 0) {
            classifier.useAdapter("base", null);
            switched(0, "the base model");
            return;
        }
        AdapterEvent event = state.event(version).orElseThrow();
        try {
            serve(event, false);
            storeFailures.remove(version);
        } catch (Superseded e) {
            log.info("Stopped fetching adapter version {}: {}", version, switcher.isShutdown() ? "closing"
                    : "version " + wantedVersion(wanted) + " is wanted now");
        } catch (AdapterStore.Unavailable e) {
            // The store's trouble, not the version's: what serves goes on serving, and the fetch is tried again.
            int tries = storeFailures.merge(version, 1, Integer::sum);
            Duration pause = backoff(tries);
            log.warn("Could not fetch adapter version {} (try {}): {}; trying again in {} s, still serving {}", version,
                    tries, e.getMessage(), pause.toSeconds(), serving == 0 ? "the base model" : "version " + serving);
            forget(version);
            if (retry != null) {
                retry.cancel(false);
            }
            retry = switcher.schedule(this::reconcile, pause.toMillis(), TimeUnit.MILLISECONDS);
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            // Whatever one event makes go wrong stays with that event: the serving version goes on serving.
            refused.add(version);
            log.error("Refusing adapter version {}: {}; still serving {}", version, e.getMessage(),
                    serving == 0 ? "the base model" : "version " + serving);
            forget(version);
            report(event, String.valueOf(e.getMessage()));
        }
    }

    /** 1 s after the first failure, doubling up to 5 min. */
    static Duration backoff(int tries) {
        long millis = FIRST_RETRY.toMillis() << Math.min(tries - 1, 20);
        return Duration.ofMillis(Math.min(millis, LAST_RETRY.toMillis()));
    }

    /**
     * At start, on the switcher: the wanted version from the cache, else the version served before the restart,
     * checked against the log's event for it (still ACTIVE, same sha256). Nothing is fetched here.
     */
    private void serveFromDisk(ControlState state) throws IOException {
        TorchRuntime.inferenceThread();
        long version = wantedVersion(state);
        if (version == 0) {
            return;
        }
        AdapterEvent event = state.event(version).orElseThrow();
        if (cached(event)) {
            try {
                serve(event, true);
                return;
            } catch (IOException | RuntimeException e) {
                log.warn("The cached archive of version {} cannot be served: {}", version, e.getMessage());
            }
        }
        AdapterEvent lastServed = lastServed(state);
        if (lastServed != null && lastServed.getVersion() != version && cached(lastServed)) {
            serve(lastServed, true);
            log.info("Serving version {} as before the restart while version {} is fetched", lastServed.getVersion(), version);
        }
    }

    /** Whether the cache holds an archive for this event (whether it matches is checked when it is read). */
    private boolean cached(AdapterEvent event) {
        return event.getSha256() != null && SHA256_HEX.matcher(event.getSha256()).matches()
                && Files.isRegularFile(cacheDir.resolve(event.getVersion() + "-" + event.getSha256() + ".zip"));
    }

    /** The log's event for the version served last, if the log still has it ACTIVE with the same archive. */
    private AdapterEvent lastServed(ControlState state) {
        Path file = cacheDir.resolve(LAST_SERVED);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
            long version = json.path("version").asLong(0);
            String sha256 = json.path("sha256").asText("");
            AdapterEvent event = state.event(version).orElse(null);
            boolean servable = event != null && event.getStatus() == AdapterStatus.ACTIVE
                    && state.status(version) != ControlState.Status.ROLLED_BACK
                    && state.status(version) != ControlState.Status.WAITING;
            return servable && sha256.equals(event.getSha256()) ? event : null;
        } catch (IOException | RuntimeException e) {
            log.warn("Ignoring {}: {}", file, e.getMessage());
            return null;
        }
    }

    /** Fetches (or, with {@code cacheOnly}, reads from the cache), checks, applies and switches to one version. */
    private void serve(AdapterEvent event, boolean cacheOnly) throws IOException {
        long started = System.nanoTime();
        long version = event.getVersion();
        Path dir = fetch(event, cacheOnly);
        Double temperature = archivedTemperature(dir);
        if (temperature != null) {
            temperatures.put(version, temperature); // the archive's, checked by its sha, over the event's copy
        }
        try (LoraAdapter adapter = classifier.model().loadAdapter(dir)) {
            switch (application) {
                case MERGED -> classifier.useMergedAdapter(String.valueOf(version), adapter);
                case UNMERGED -> classifier.useUnmergedAdapter(String.valueOf(version), adapter);
            }
        }
        switched(version, String.format("adapter version %d (macro-F1 %s, loaded in %d ms)", version,
                event.getMetrics() == null ? null : event.getMetrics().get("macro_f1"), (System.nanoTime() - started) / 1_000_000));
        rememberServed(event);
    }

    /** Writes {@link #LAST_SERVED}, whole or not at all. */
    private void rememberServed(AdapterEvent event) {
        try {
            AtomicFile.write(cacheDir.resolve(LAST_SERVED), new com.fasterxml.jackson.databind.ObjectMapper()
                    .writeValueAsBytes(Map.of("version", event.getVersion(), "sha256", event.getSha256())));
        } catch (IOException e) {
            log.warn("Could not note version {} as served in {}: {}", event.getVersion(), cacheDir, e.getMessage());
        }
    }

    private void switched(long version, String what) {
        serving = version;
        servingVersion.accept(version == 0 ? -1 : version);
        log.info("Now serving {}", what);
        // Retired versions leave the disk; a rollback to one fetches and checks it again.
        deleteCached(v -> v != version);
        if (version == 0) {
            try {
                Files.deleteIfExists(cacheDir.resolve(LAST_SERVED));
            } catch (IOException e) {
                log.warn("Could not delete {}: {}", cacheDir.resolve(LAST_SERVED), e.getMessage());
            }
        }
    }

    /** Deletes what the cache holds of a version (its archive and directory, finished or partial). */
    private void forget(long version) {
        deleteCached(v -> v == version);
    }

    /** Deletes the cache's entries of the versions chosen; nothing else in the directory is touched. */
    private void deleteCached(java.util.function.LongPredicate versions) {
        if (!Files.isDirectory(cacheDir)) {
            return;
        }
        try (var entries = Files.list(cacheDir)) {
            for (Path entry : entries.toList()) {
                var name = CACHE_ENTRY.matcher(entry.getFileName().toString());
                if (name.matches() && versions.test(Long.parseLong(name.group(1)))) {
                    deleteTree(entry);
                }
            }
        } catch (IOException | NumberFormatException e) {
            log.warn("Could not delete adapters from {}: {}", cacheDir, e.getMessage());
        }
    }

    /**
     * Fetches and checks the archive and unpacks it under the cache directory. The archive is kept there and
     * checked again on every load: a copy on disk is trusted no more than one from the store.
     */
    private Path fetch(AdapterEvent event, boolean cacheOnly) throws IOException {
        // The sha names files in the cache: anything but 64 hex digits could name a place outside it.
        if (event.getSha256() == null || !SHA256_HEX.matcher(event.getSha256()).matches()) {
            throw new IOException("its sha256 is not 64 hex digits: refused");
        }
        if (!event.getBaseModelSha256().equals(baseModelSha256)) {
            throw new IOException("it was trained on base model " + event.getBaseModelId() + " ("
                    + event.getBaseModelSha256() + "), not on the one served here (" + baseModelSha256 + ")");
        }
        if (!event.getTaskHash().equals(classifier.task().hash())) {
            throw new IOException("it was trained for task '" + event.getTaskName() + "' with hash " + event.getTaskHash()
                    + ", but this processor serves task '" + classifier.task().name() + "' with hash "
                    + classifier.task().hash() + " (prompt or labels differ)");
        }
        Path dir = cacheDir.resolve(event.getVersion() + "-" + event.getSha256());
        Path kept = cacheDir.resolve(dir.getFileName() + ".zip");
        byte[] archive = Files.isRegularFile(kept) ? Files.readAllBytes(kept) : null;
        if (archive != null && !matches(archive, event)) {
            log.warn("The cached archive of version {} does not match its event; fetching it again", event.getVersion());
            Files.delete(kept);
            archive = null;
        }
        if (archive == null) {
            if (cacheOnly) {
                throw new IOException("its archive is not in the cache");
            }
            if (event.getLocation() == null) {
                throw new IOException("its event names no location");
            }
            archive = download(event);
            if (!matches(archive, event)) {
                throw new IOException("the archive at " + event.getLocation() + " is corrupt: " + archive.length
                        + " bytes with SHA-256 " + ModelFingerprint.sha256(archive) + ", expected "
                        + event.getSizeBytes() + " bytes with " + event.getSha256());
            }
            Files.write(Files.createDirectories(cacheDir).resolve(kept.getFileName() + ".partial"), archive);
            Files.move(cacheDir.resolve(kept.getFileName() + ".partial"), kept,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Path partial = Files.createDirectories(cacheDir).resolve(dir.getFileName() + ".partial");
        deleteTree(partial);
        AdapterArchive.unpack(archive, partial, classifier.model().weights().config, store.maxBytes());
        deleteTree(dir);
        Files.move(partial, dir);
        return dir;
    }

    /**
     * The archive from the store, read on a reader thread: the switcher looks every {@value #WANTED_CHECK_MILLIS} ms
     * whether the version is still wanted and leaves the read behind when it is not.
     */
    private byte[] download(AdapterEvent event) throws IOException {
        java.util.concurrent.Future<byte[]> read = reader.submit(() -> store.get(event.getLocation(), event.getSizeBytes()));
        try {
            while (true) {
                try {
                    return read.get(WANTED_CHECK_MILLIS, TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.TimeoutException stillReading) {
                    if (wantedVersion(wanted) != event.getVersion() || switcher.isShutdown()) {
                        throw new Superseded();
                    }
                }
            }
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Superseded();
        } finally {
            // Not interrupted: a Kafka client interrupted mid-read logs errors as it closes. An abandoned read ends
            // by itself, at the latest at the store's deadline.
            read.cancel(false);
        }
    }

    /** A fetch given up because another version is wanted now: no fault of the version's or the store's. */
    private static final class Superseded extends IOException {
        Superseded() {
            super("superseded");
        }
    }

    private static boolean matches(byte[] archive, AdapterEvent event) {
        return archive.length == event.getSizeBytes() && ModelFingerprint.sha256(archive).equals(event.getSha256());
    }

    private void report(AdapterEvent event, String reason) {
        AdapterEvent error = AdapterEvent.newBuilder(event).setStatus(AdapterStatus.ERROR).setCreatedAt(Instant.now())
                .setMessage("instance " + instance + " could not load it: " + reason).setInstance(instance).build();
        try {
            control.publish(error);
        } catch (IOException e) {
            log.warn("Could not report the refusal of version {}: {}", event.getVersion(), e.getMessage());
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Override
    public void close() {
        control.close();
        switcher.shutdownNow();
        reader.shutdownNow();
        try {
            // A merge in progress finishes before the model it merges into may be closed.
            switcher.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
