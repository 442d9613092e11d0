package io.slmclassifier.kafka.registry;

/**
 * An error answered by a schema registry, or the failure to reach one.
 *
 * <p>Registries speaking the Confluent protocol answer errors as {@code {"error_code": 40401, "message": "..."}};
 * {@link #errorCode()} and the message carry those values so callers and logs see what the registry said.
 * The subclasses name the errors callers handle differently.
 */
public class SchemaRegistryException extends RuntimeException {

    /** Error codes of the Confluent protocol that this project relies on. */
    public static final int SUBJECT_NOT_FOUND = 40401;
    public static final int VERSION_NOT_FOUND = 40402;
    public static final int SCHEMA_NOT_FOUND = 40403;
    public static final int SUBJECT_COMPATIBILITY_NOT_CONFIGURED = 40408;
    public static final int INCOMPATIBLE_SCHEMA = 409;
    public static final int INVALID_SCHEMA = 42201;
    public static final int INVALID_VERSION = 42202;
    public static final int INVALID_COMPATIBILITY_LEVEL = 42203;
    public static final int INTERNAL_ERROR = 50001;

    private final int httpStatus;
    private final int errorCode;

    public SchemaRegistryException(int httpStatus, int errorCode, String message) {
        super(message);
        this.httpStatus = httpStatus;
        this.errorCode = errorCode;
    }

    public SchemaRegistryException(String message, Throwable cause) {
        super(message, cause);
        this.httpStatus = -1;
        this.errorCode = -1;
    }

    /** HTTP status of the answer, or -1 when no answer came (connection failures). */
    public int httpStatus() {
        return httpStatus;
    }

    /** The registry's {@code error_code}, or -1 when there was none. */
    public int errorCode() {
        return errorCode;
    }

    /** Builds the most specific exception for an error answer. */
    static SchemaRegistryException fromResponse(int httpStatus, int errorCode, String registryMessage, String request) {
        String message = registryMessage + " (error " + errorCode + ", HTTP " + httpStatus + ", " + request + ")";
        switch (errorCode) {
            case SUBJECT_NOT_FOUND:
                return new SubjectNotFoundException(httpStatus, errorCode, message);
            case SCHEMA_NOT_FOUND:
                return new SchemaNotFoundException(httpStatus, errorCode, message);
            case INCOMPATIBLE_SCHEMA:
                return new IncompatibleSchemaException(httpStatus, errorCode, message);
            default:
                // Some registries answer 409 with a code of their own: the status alone says "incompatible".
                if (httpStatus == 409) {
                    return new IncompatibleSchemaException(httpStatus, errorCode, message);
                }
                return new SchemaRegistryException(httpStatus, errorCode, message);
        }
    }

    /** The subject does not exist (40401). */
    public static class SubjectNotFoundException extends SchemaRegistryException {
        public SubjectNotFoundException(int httpStatus, int errorCode, String message) {
            super(httpStatus, errorCode, message);
        }
    }

    /** No schema with that id, or the schema is not registered under the subject (40403). */
    public static class SchemaNotFoundException extends SchemaRegistryException {
        public SchemaNotFoundException(int httpStatus, int errorCode, String message) {
            super(httpStatus, errorCode, message);
        }
    }

    /** The schema breaks the subject's compatibility rule (HTTP 409). */
    public static class IncompatibleSchemaException extends SchemaRegistryException {
        public IncompatibleSchemaException(int httpStatus, int errorCode, String message) {
            super(httpStatus, errorCode, message);
        }
    }
}
