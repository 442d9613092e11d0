package io.slmclassifier.console;

import com.fasterxml.jackson.databind.JsonNode;
import io.slmclassifier.avro.AdapterCommandType;
import io.slmclassifier.avro.Classification;
import io.slmclassifier.avro.LabeledExample;
import io.slmclassifier.console.ConsoleExchange.Refused;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * What the page asks the console to write, read from a request's JSON body and checked before anything is written:
 * a person's label for a recent classification, and an operator's adapter command. A request that does not make
 * sense is refused with the reason, and nothing reaches Kafka.
 */
final class ConsoleRequests {
    /** Who a command from the console is requested by, and where its labels come from. */
    static final String CONSOLE = "console";
    static final Set<AdapterCommandType> COMMANDS =
            Set.of(AdapterCommandType.ROLLBACK, AdapterCommandType.PIN, AdapterCommandType.UNPIN);

    private ConsoleRequests() {}

    /**
     * {@code POST /api/labels} {@code {"id": ..., "label": ...}}: the label a person gives one of the task's recent
     * classifications.
     *
     * @param seen the classification labeled, as the console holds it
     */
    record Label(LiveState.Seen seen, String label) {

        /** The request, checked against what the console holds: a recent classification, and one of its labels. */
        static Label of(JsonNode body, LiveState state) throws Refused {
            String id = body.path("id").asText("");
            String label = body.path("label").asText("");
            LiveState.Seen seen = state.find(id).orElse(null);
            if (seen == null) {
                throw new Refused(404, "no recent classification with id '" + id + "' (the console keeps the latest "
                        + LiveState.RECENT_CAPACITY + ")");
            }
            if (!seen.labels().contains(label)) {
                throw new Refused(400, "'" + label + "' is not one of the task's labels " + seen.labels());
            }
            return new Label(seen, label);
        }

        String id() {
            return seen.id();
        }

        /** The feedback record: the text, the person's label, and what the model said of it. */
        LabeledExample example(Instant labeledAt) {
            Classification c = seen.record;
            return LabeledExample.newBuilder()
                    .setId(c.getId())
                    .setText(c.getText())
                    .setLabel(label)
                    .setSource(CONSOLE)
                    .setLabeledAt(labeledAt)
                    .setPredictedLabel(c.getLabel())
                    .setAdapterVersion(c.getAdapterVersion())
                    .build();
        }
    }

    /**
     * {@code POST /api/adapters} {@code {"command": "ROLLBACK"|"PIN"|"UNPIN", "version": n}}.
     *
     * @param version the version the command names; null for a ROLLBACK to the previous version and for UNPIN
     */
    record AdapterCommand(AdapterCommandType type, Long version) {

        /**
         * The command a body asks for, checked against the task's versions (asked for only when the command names
         * one).
         */
        static AdapterCommand of(JsonNode body, Supplier<List<AdapterRow>> versions) throws Refused {
            AdapterCommandType type;
            try {
                type = AdapterCommandType.valueOf(body.path("command").asText(""));
            } catch (IllegalArgumentException e) {
                type = null;
            }
            if (type == null || !COMMANDS.contains(type)) {
                throw new Refused(400, "command must be one of " + COMMANDS.stream().map(Enum::name).sorted().toList());
            }
            JsonNode v = body.get("version");
            if (v != null && !v.isNull() && !v.canConvertToLong()) {
                throw new Refused(400, "version must be a whole number or null");
            }
            Long version = v == null || v.isNull() ? null : v.asLong();
            if (type == AdapterCommandType.PIN && version == null) {
                throw new Refused(400, "PIN needs the version to pin");
            }
            if (type == AdapterCommandType.UNPIN) {
                version = null;
            }
            if (version != null) {
                long wanted = version;
                if (versions.get().stream().noneMatch(r -> r.version() == wanted)) {
                    throw new Refused(404, "no adapter version " + wanted);
                }
            }
            return new AdapterCommand(type, version);
        }
    }
}
