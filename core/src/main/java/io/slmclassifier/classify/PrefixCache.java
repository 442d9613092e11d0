package io.slmclassifier.classify;

import io.slmclassifier.model.KvCache;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Keys and values of each task's shared prompt prefix, computed once per (model, adapter, task) and reused by
 * every message: on the radr prompt ~120 of ~150 tokens. Entries are dropped when the adapter changes.
 */
public final class PrefixCache implements AutoCloseable {

    public record Key(String modelId, String adapterVersion, String taskHash) {}

    private final Map<Key, KvCache> entries = new HashMap<>();

    public synchronized KvCache get(Key key, Supplier<KvCache> compute) {
        KvCache cache = entries.get(key);
        if (cache == null) {
            cache = compute.get();
            entries.put(key, cache);
        }
        return cache;
    }

    /** Drops every entry not computed with this adapter version. */
    public synchronized void retainAdapter(String adapterVersion) {
        entries.entrySet().removeIf(e -> {
            boolean stale = !e.getKey().adapterVersion().equals(adapterVersion);
            if (stale) {
                e.getValue().close();
            }
            return stale;
        });
    }

    public synchronized int size() {
        return entries.size();
    }

    @Override
    public synchronized void close() {
        entries.values().forEach(KvCache::close);
        entries.clear();
    }
}
