package io.slmclassifier.model.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The files a model directory needs, as one snapshot of a hub repository: configuration, tokenizer, chat template
 * and safetensors weights (one file, or the shards an index lists). All files come from the one commit the
 * revision pointed to when {@code config.json} was asked for, so a push in between cannot mix two versions.
 */
public final class ModelSnapshot {
    static final List<String> REQUIRED = List.of("config.json", "tokenizer.json", "tokenizer_config.json");
    static final List<String> OPTIONAL = List.of("generation_config.json", "chat_template.jinja");
    static final String WEIGHTS = "model.safetensors";
    static final String WEIGHTS_INDEX = "model.safetensors.index.json";

    private final HubClient client;
    private final PrintStream messages;

    /** @param messages where a note about using the cache instead of the network goes; null for none */
    public ModelSnapshot(HubClient client, PrintStream messages) {
        this.client = client;
        this.messages = messages;
    }

    /** The snapshot directory, downloading what the cache lacks (nothing at all offline). */
    public Path resolve(String repoId, String revision) throws IOException {
        HubSettings settings = client.settings();
        HubCache cache = new HubCache(settings.cacheDir(), repoId);
        if (settings.offline()) {
            return cached(cache, revision).orElseThrow(() -> new HubException(HubException.Reason.NOT_CACHED,
                    "HF_HUB_OFFLINE is set and " + describe(repoId, revision) + " is not in the cache at "
                            + settings.cacheDir() + missingNote(cache, revision)
                            + "; unset HF_HUB_OFFLINE to download it, or give a local model directory"));
        }
        if (HubCache.isCommitHash(revision)) {
            // A commit never changes: a complete snapshot of it needs no request at all.
            Optional<Path> cached = cached(cache, revision);
            if (cached.isPresent()) {
                return cached.get();
            }
        }
        HubClient.FileMetadata config;
        try {
            config = client.metadata(repoId, revision, "config.json");
        } catch (HubException e) {
            if (e.reason() != HubException.Reason.UNREACHABLE) {
                throw e;
            }
            Optional<Path> cached = cached(cache, revision);
            if (cached.isEmpty()) {
                throw new HubException(HubException.Reason.UNREACHABLE, e.getMessage() + " and "
                        + describe(repoId, revision) + " is not in the cache at " + settings.cacheDir(), e);
            }
            if (messages != null) {
                messages.println(e.getMessage() + "; using the cached " + describe(repoId, revision));
            }
            return cached.get();
        }
        if (config == null) {
            throw new HubException(HubException.Reason.NOT_FOUND, repoId + " has no config.json at revision "
                    + revision + " on " + settings.endpoint() + ": it is not a model repository");
        }
        String commit = config.commit();
        cache.writeRef(revision, commit);
        client.fetch(cache, commit, "config.json", config);
        for (String file : REQUIRED.subList(1, REQUIRED.size())) {
            fetch(cache, commit, file, true);
        }
        for (String file : OPTIONAL) {
            fetch(cache, commit, file, false);
        }
        if (!fetch(cache, commit, WEIGHTS, false)) {
            if (!fetch(cache, commit, WEIGHTS_INDEX, false)) {
                throw new HubException(HubException.Reason.NOT_FOUND, repoId + " has neither " + WEIGHTS + " nor "
                        + WEIGHTS_INDEX + " (only safetensors checkpoints are supported)");
            }
            for (String shard : shards(cache.pointer(commit, WEIGHTS_INDEX))) {
                fetch(cache, commit, shard, true);
            }
        }
        return cache.snapshotDir(commit);
    }

    /** True when the file is in the snapshot afterwards; false when the repository has no such file. */
    private boolean fetch(HubCache cache, String commit, String file, boolean required) throws IOException {
        if (Files.exists(cache.pointer(commit, file))) {
            return true;
        }
        if (!required && cache.isMarkedMissing(commit, file)) {
            return false;
        }
        // Asked at the commit, not the branch, so every file is of the same version.
        HubClient.FileMetadata metadata = client.metadata(cache.repoId(), commit, file);
        if (metadata == null) {
            if (required) {
                throw new HubException(HubException.Reason.NOT_FOUND, cache.repoId() + " (commit " + commit
                        + ") has no " + file + ", which a model directory needs");
            }
            cache.markMissing(commit, file);
            return false;
        }
        client.fetch(cache, commit, file, metadata);
        return true;
    }

    /** A complete snapshot of the revision in the cache, if there is one. */
    static Optional<Path> cached(HubCache cache, String revision) throws IOException {
        Optional<String> commit = cache.commitFor(revision);
        if (commit.isEmpty() || !missingFiles(cache, commit.get()).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(cache.snapshotDir(commit.get()));
    }

    private static List<String> missingFiles(HubCache cache, String commit) throws IOException {
        List<String> missing = new ArrayList<>();
        for (String file : REQUIRED) {
            if (!Files.exists(cache.pointer(commit, file))) {
                missing.add(file);
            }
        }
        if (!Files.exists(cache.pointer(commit, WEIGHTS))) {
            Path index = cache.pointer(commit, WEIGHTS_INDEX);
            if (!Files.exists(index)) {
                missing.add(WEIGHTS);
            } else {
                for (String shard : shards(index)) {
                    if (!Files.exists(cache.pointer(commit, shard))) {
                        missing.add(shard);
                    }
                }
            }
        }
        return missing;
    }

    private static String missingNote(HubCache cache, String revision) {
        try {
            Optional<String> commit = cache.commitFor(revision);
            if (commit.isEmpty()) {
                return "";
            }
            List<String> missing = missingFiles(cache, commit.get());
            return missing.isEmpty() ? ""
                    : " (its snapshot " + commit.get() + " lacks " + String.join(", ", missing) + ")";
        } catch (IOException e) {
            return "";
        }
    }

    static Set<String> shards(Path index) throws IOException {
        JsonNode weightMap = new ObjectMapper().readTree(index.toFile()).path("weight_map");
        if (!weightMap.isObject() || weightMap.isEmpty()) {
            throw new HubException(HubException.Reason.PROTOCOL, index + " has no weight_map");
        }
        Set<String> shards = new LinkedHashSet<>();
        for (JsonNode shard : weightMap) {
            String name = shard.asText();
            boolean outside = name.startsWith("/") || name.contains("\\") || List.of(name.split("/")).contains("..");
            if (name.isEmpty() || outside) {
                throw new HubException(HubException.Reason.PROTOCOL, index + " names a shard outside the repository: "
                        + name);
            }
            shards.add(name);
        }
        return shards;
    }

    private static String describe(String repoId, String revision) {
        return revision.equals("main") ? repoId : repoId + " (revision " + revision + ")";
    }
}
