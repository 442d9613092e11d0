package io.slmclassifier.rollout;

import io.slmclassifier.config.ServiceConfig;
import org.slf4j.Logger;

/**
 * A service's choice about signing the control topic, from its configuration: {@code control.signing.key} (best
 * as {@code control.signing.key.file}) turns signing on; {@code control.signing.required=true} makes a missing key
 * a start-up error instead of a warning. Without a key anyone who may write the control topic steers every
 * processor, so an unsigned service says so, once in its log and for as long as it runs in {@code /health}.
 */
public final class ControlSigning {
    public static final String KEY = "control.signing.key";
    public static final String REQUIRED = "control.signing.required";

    private ControlSigning() {}

    /**
     * The signature this service signs and checks with; fails with one line when a key is required and none is
     * given. Call it before anything slow starts.
     */
    public static ControlSignature of(ServiceConfig config) {
        ControlSignature signature = ControlSignature.of(config.get(KEY));
        if (!signature.enabled() && config.getBoolean(REQUIRED)) {
            throw new IllegalArgumentException(REQUIRED + " is true but no " + KEY + " is set (give "
                    + KEY + ".file or SLM_CONTROL_SIGNING_KEY_FILE, 32+ characters)");
        }
        return signature;
    }

    /** One WARN line when this service runs unsigned. */
    public static void warnIfUnsigned(ControlSignature signature, String controlTopic, Logger log) {
        if (!signature.enabled()) {
            log.warn("Control records are not signed: no {} is set, so whoever may write {} can publish adapters and "
                    + "commands that the processors follow (set {}.file, and {}=true to refuse to start without it)",
                    KEY, controlTopic, KEY, REQUIRED);
        }
    }

    /** How {@code /health} names it: {@code signed} or {@code unsigned}. */
    public static String describe(ControlSignature signature) {
        return signature.enabled() ? "signed" : "unsigned";
    }
}
