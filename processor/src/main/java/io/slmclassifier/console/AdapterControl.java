package io.slmclassifier.console;

import io.slmclassifier.avro.AdapterCommandType;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What the console needs from whoever follows the adapter versions on the control topic: the versions as they
 * stand after folding their {@code AdapterEvent}s and the operators' commands, the one being served, and a way to
 * send an {@code AdapterCommand}.
 *
 * <p>The console calls {@link #versions()}, {@link #serving()} and {@link #pinned()} about twice a second for
 * every update it pushes, so they should answer from memory and never wait on Kafka. {@link #send} runs on an
 * HTTP request thread; it should return once the command is written (acknowledged by the broker) and throw when
 * it could not be, so the person who clicked learns that it failed.
 */
public interface AdapterControl {

    /** Every known version, in any order (the console sorts them, newest first). */
    List<AdapterRow> versions();

    /** The version the processors serve now; empty while they serve the base model alone. */
    OptionalLong serving();

    /** The version pinned by an operator, when one is; new versions are not served while a pin holds. */
    default OptionalLong pinned() {
        return OptionalLong.empty();
    }

    /**
     * The line saying that a rollback holds the lineage and which versions wait for an UNPIN or PIN, e.g. "held since
     * the rollback at 2026-12-07T06:10:00Z by ops; waiting: v8, v9"; empty when nothing is held.
     */
    default Optional<String> hold() {
        return Optional.empty();
    }

    /**
     * Writes an {@code AdapterCommand} to the control topic.
     *
     * @param version the version the command names (PIN; ROLLBACK to a given version), or null (ROLLBACK to the
     *     previous active version, UNPIN)
     * @param requestedBy who asked, as the command's {@code requested_by}
     */
    void send(AdapterCommandType type, Long version, String requestedBy) throws Exception;
}
