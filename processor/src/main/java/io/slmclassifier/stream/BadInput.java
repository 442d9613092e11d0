package io.slmclassifier.stream;

/** A record that cannot be classified; it goes to the dead-letter topic with {@link #reason} and the message. */
public final class BadInput extends RuntimeException {

    /** The value of the {@code slm.error.type} header. */
    public enum Reason {
        UNDECODABLE("undecodable"),
        UNKNOWN_SCHEMA_ID("unknown-schema-id"),
        HEADER_SCHEMA_ID("header-schema-id"),
        EMPTY_TEXT("empty-text"),
        TEXT_TOO_LONG("text-too-long"),
        ID_TOO_LONG("id-too-long"),
        HEADERS_TOO_LARGE("headers-too-large"),
        RECORD_TOO_LARGE("record-too-large"),
        MODEL_FAILURE("model-failure"),
        /** The result is larger than its topic takes (a long key and text under a low max.message.bytes). */
        RESULT_TOO_LARGE("result-too-large"),
        /** The record's result or dead letter could not be written (see {@link ProductionFailureHandler}). */
        PRODUCTION_FAILURE("production-failure");

        public final String header;

        Reason(String header) {
            this.header = header;
        }
    }

    private final Reason reason;

    /**
     * A verdict on the input (empty, too long, undecodable as it stands), not a failure of the code: it has no
     * stack trace, which would only name the check, so its dead letter carries none.
     */
    public BadInput(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    /** A failure underneath ({@code cause}): its dead letter carries the stack trace, causes included. */
    public BadInput(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
