package io.slmclassifier.model;

/** A model directory that cannot be used: missing file, unsupported architecture, wrong tensor shape. */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
