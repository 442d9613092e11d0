package io.slmclassifier.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Keys and values of a run of positions of one sequence, after the k norm and rotary embedding: exactly what
 * later positions attend to. Both are [layers, kvHeads, length, headDim] in float32.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray keys;
    private final NDArray values;
    private final int length;

    KvCache(NDManager manager, NDArray keys, NDArray values, int length) {
        this.manager = manager;
        this.keys = keys;
        this.values = values;
        this.length = length;
    }

    public int length() {
        return length;
    }

    NDArray keys() {
        return keys;
    }

    NDArray values() {
        return values;
    }

    /** Bytes held, for logs and metrics. */
    public long bytes() {
        return (keys.size() + values.size()) * keys.getDataType().getNumOfBytes();
    }

    @Override
    public void close() {
        manager.close();
    }
}
