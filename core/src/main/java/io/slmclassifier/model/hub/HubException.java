package io.slmclassifier.model.hub;

import java.io.IOException;

/** A model that could not be had from the hub or its cache; the message says what to do about it. */
public final class HubException extends IOException {

    public enum Reason {
        /** Offline (HF_HUB_OFFLINE) and the files are not in the cache. */
        NOT_CACHED,
        /** The endpoint could not be reached and the files are not in the cache. */
        UNREACHABLE,
        /** 401 or 403: a gated or private repository. */
        ACCESS_DENIED,
        /** 404: repository, revision or file. */
        NOT_FOUND,
        /** The downloaded bytes do not match the size or hash the hub announced. */
        CORRUPT,
        /** Any other answer that is not a file. */
        PROTOCOL
    }

    private final Reason reason;

    public HubException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public HubException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
