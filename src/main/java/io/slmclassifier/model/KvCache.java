package io.slmclassifier.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Keys and values of a run of positions, one pair per layer, each [batch, kvHeads, length, headDim], after
 * the k norm and rotary embedding: exactly what later positions attend to.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    final NDArray[] keys;
    final NDArray[] values;
    private final int length;

    KvCache(NDManager manager, int layers, int length) {
        this.manager = manager;
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
        this.length = length;
    }

    public int length() {
        return length;
    }

    public NDManager manager() {
        return manager;
    }

    /** Bytes held, for logs and metrics. */
    public long bytes() {
        long total = 0;
        for (int i = 0; i < keys.length; i++) {
            total += keys[i].size() * keys[i].getDataType().getNumOfBytes() * 2;
        }
        return total;
    }

    @Override
    public void close() {
        manager.close();
    }
}
