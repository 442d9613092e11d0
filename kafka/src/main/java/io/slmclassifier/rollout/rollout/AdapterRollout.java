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
import java.util.HashSet;
import java.util.Set;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The processor's side of a rollout: follows the control topic and keeps the classifier serving the version
 * the log says. A new version is fetched, checked (SHA-256 and size of the archive, base model fingerprint, task
 * hash, shapes) and merged into fresh weights beside the serving ones while batches keep running; the switch
 * itself happens between two batches. A version that fails a check is reported as an ERROR event and the
 * previous one keeps serving.
 */
public final class AdapterRollout implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdapterRollout.class);

    private final ControlLog control;
    private final AdapterStore store;
    private final Classifier classifier;
    private final String baseModelSha256;
    private static final java.util.regex.Pattern SHA256_HEX = java.util.regex.Pattern.compile("[0-9a-f]{64}");
    /** What this class writes into the cache: {@code <version>-<sha256>}, its {@code .zip}, and partial ones. */
    private static final java.util.regex.Pattern CACHE_ENTRY =
            java.util.regex.Pattern.compile("(\\d{1,18})-[0-9a-f]{64}(\\.zip)?(\\.partial)?");
    private final Path cacheDir;
    private final String instance;
    private final LongConsumer servingVersion;
    private final Set<Long> refused = new HashSet<>();
    /** The calibration temperature of each version whose event carries one (metric {@code temperature}). */
    private final java.util.Map<Long, Double> temperatures = new java.util.concurrent.ConcurrentHashMap<>();
    /** 0: the base model. */
    private long serving = 0;

    /**
     * @param servingVersion told the version after each switch (-1 for the base model), e.g. for metrics
     */
    public AdapterRollout(ControlLog control, AdapterStore store, Classifier classifier, String baseModelSha256,
            Path cacheDir, String instance, LongConsumer servingVersion) {
        this.control = control;
        this.store = store;
        this.classifier = classifier;
        this.baseModelSha256 = baseModelSha256;
        this.cacheDir = cacheDir;
        this.instance = instance;
        this.servingVersion = servingVersion;
        servingVersion.accept(-1);
    }

    /** Reads the control topic to its end and serves what it says before returning (restart: same version). */
    public void start() {
        control.catchUp(Duration.ofSeconds(60));
        apply(control.state());
        control.follow(this::apply);
    }

    /** The control topic as this processor follows it. */
    public ControlLog control() {
        return control;
    }

    /** The version served now; 0 for the base model. */
    public synchronized long serving() {
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

    synchronized void apply(ControlState state) {
        TorchRuntime.inferenceThread();
        for (AdapterEvent e : state.events()) {
            Double t = e.getMetrics() == null ? null : e.getMetrics().get("temperature");
            if (t != null && usableTemperature(t)) {
                temperatures.put(e.getVersion(), t);
            }
        }
        long wanted = state.serving().orElse(0);
        if (wanted == serving || refused.contains(wanted)) {
            return;
        }
        if (wanted == 0) {
            classifier.useAdapter("base", null);
            switched(0, "the base model");
            return;
        }
        AdapterEvent event = state.event(wanted).orElseThrow();
        try {
            long started = System.nanoTime();
            Path dir = fetch(event);
            Double temperature = archivedTemperature(dir);
            if (temperature != null) {
                temperatures.put(wanted, temperature); // the archive's, checked by its sha, over the event's copy
            }
            try (LoraAdapter adapter = classifier.model().loadAdapter(dir)) {
                classifier.useMergedAdapter(String.valueOf(wanted), adapter);
            }
            switched(wanted, String.format("adapter version %d (macro-F1 %s, loaded in %d ms)", wanted,
                    event.getMetrics().get("macro_f1"), (System.nanoTime() - started) / 1_000_000));
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            // Whatever one event makes go wrong stays with that event: the serving version goes on serving.
            refused.add(wanted);
            log.error("Refusing adapter version {}: {}; still serving {}", wanted, e.getMessage(),
                    serving == 0 ? "the base model" : "version " + serving);
            forget(wanted);
            report(event, String.valueOf(e.getMessage()));
        }
    }

    private void switched(long version, String what) {
        serving = version;
        servingVersion.accept(version == 0 ? -1 : version);
        log.info("Now serving {}", what);
        // Retired versions leave the disk; a rollback to one fetches and checks it again.
        deleteCached(v -> v != version);
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
    private Path fetch(AdapterEvent event) throws IOException {
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
            if (event.getLocation() == null) {
                throw new IOException("its event names no location");
            }
            archive = store.get(event.getLocation(), event.getSizeBytes());
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
        AdapterArchive.unpack(archive, partial, store.maxBytes());
        deleteTree(dir);
        Files.move(partial, dir);
        return dir;
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
    }
}
