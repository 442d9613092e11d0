package io.slmclassifier.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.config.ConfigDefinitions.Type;
import io.slmclassifier.config.ConfigDefinitions.Validator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ConfigDefinitionsTest {

    private static final ConfigDefinitions DEFINITIONS = new ConfigDefinitions()
        .define("batch.max.size", Type.INT, "auto", Set.of("auto"), Validator.atLeast(1), "batching", "most records")
        .define("batch.linger.ms", Type.INT, "10", Validator.atLeast(0), "batching", "linger")
        .define("adapter.max.bytes", Type.LONG, "1073741824", "rollout", "most bytes")
        .define("gate.max.ece", Type.DOUBLE, "", Validator.between(0, 1), "gate", "optional ceiling")
        .define("topics.create", Type.BOOLEAN, "true", "kafka", "create topics")
        .define("lora.targets", Type.LIST, "q_proj,v_proj", "training", "projections")
        .define("text.too.long", Type.STRING, "truncate", Validator.oneOf("truncate", "reject"), "input", "too long");

    private static ConfigDefinitions.Key key(String name) {
        return DEFINITIONS.key(name).orElseThrow();
    }

    private static String refusal(String name, String value) {
        return assertThrows(IllegalArgumentException.class, () -> key(name).parse(value)).getMessage();
    }

    @Test
    void valuesAreParsedToTheirTypeAndWordsAreKeptAsWritten() {
        assertEquals("auto", key("batch.max.size").parse("AUTO"));
        assertEquals(64, key("batch.max.size").parse(" 64 "));
        assertEquals(4_294_967_296L, key("adapter.max.bytes").parse("4294967296"));
        assertEquals(0.05, key("gate.max.ece").parse("0.05"));
        assertNull(key("gate.max.ece").parse(""), "an optional number left empty is unset");
        assertEquals(Boolean.FALSE, key("topics.create").parse("False"));
        assertEquals(List.of("q_proj", "o_proj"), key("lora.targets").parse(" q_proj, ,o_proj "));
        assertEquals("reject", key("text.too.long").parse("reject"));
    }

    @Test
    void aRefusalNamesTheKeyTheValueAndWhatIsAllowed() {
        assertEquals("configuration 'batch.linger.ms' must be a whole number, not 'soon'", refusal("batch.linger.ms", "soon"));
        assertEquals("configuration 'batch.linger.ms' must be at least 0, not '-1'", refusal("batch.linger.ms", "-1"));
        assertEquals("configuration 'batch.linger.ms' must be a whole number, not ''", refusal("batch.linger.ms", ""),
                "a key with a default cannot be emptied");
        assertEquals("configuration 'batch.max.size' must be auto or at least 1, not '0'", refusal("batch.max.size", "0"));
        assertEquals("configuration 'gate.max.ece' must be a number in [0, 1], not 'NaN'", refusal("gate.max.ece", "NaN"));
        assertEquals("configuration 'topics.create' must be true or false, not 'yes'", refusal("topics.create", "yes"));
        assertEquals("configuration 'text.too.long' must be one of truncate, reject, not 'cut'", refusal("text.too.long", "cut"));
        assertThrows(IllegalStateException.class, () -> new ConfigDefinitions()
                .define("x", Type.INT, "1", "g", "").define("x", Type.INT, "2", "g", ""), "a key is defined once");
        assertThrows(IllegalArgumentException.class, () -> new ConfigDefinitions()
                .define("x", Type.INT, "0", Validator.atLeast(1), "g", ""), "a default its own key refuses");
    }

    @Test
    void aKeyIsWrittenAsItselfAsDotFileOrForOneTask() {
        assertEquals(Optional.of(key("batch.linger.ms")), DEFINITIONS.definitionOf("batch.linger.ms"));
        assertEquals(Optional.of(key("batch.linger.ms")), DEFINITIONS.definitionOf("batch.linger.ms.file"));
        assertEquals(Optional.of(key("batch.linger.ms")), DEFINITIONS.definitionOf("task.emotion.batch.linger.ms"));
        assertEquals(Optional.of(key("batch.linger.ms")), DEFINITIONS.definitionOf("task.radr.v2.batch.linger.ms"),
                "a task's name may hold dots");
        assertTrue(DEFINITIONS.accepts("kafka.security.protocol"));
        assertTrue(DEFINITIONS.accepts("task.emotion.kafka.linger.ms"));
        assertFalse(DEFINITIONS.accepts("batch.lingr.ms"));
        assertFalse(DEFINITIONS.accepts("task.emotion.no.such.key"));
    }

    @Test
    void anUnknownKeyGetsTheNearestOneWhenOneIsNear() {
        assertEquals("unknown configuration 'batch.max.sise': did you mean 'batch.max.size'?",
                DEFINITIONS.unknown("batch.max.sise"));
        assertEquals("unknown configuration 'task.emotion.topics.creat': did you mean 'task.emotion.topics.create'?",
                DEFINITIONS.unknown("task.emotion.topics.creat"));
        assertEquals("unknown configuration 'model.directory'", DEFINITIONS.unknown("model.directory"));
    }

    /** A command that reads a service's file as it is takes that service's keys, and suggests from them too. */
    @Test
    void anotherServicesKeysCanBeAcceptedAsTheyAre() {
        ConfigDefinitions reader = new ConfigDefinitions()
                .define("control.topic", Type.STRING, "intents.control", "rollout", "control")
                .alsoAccepting(DEFINITIONS);
        assertTrue(reader.accepts("batch.linger.ms"));
        assertTrue(reader.accepts("task.emotion.batch.linger.ms"));
        assertEquals(Set.of("control.topic"), reader.names());
        assertEquals("unknown configuration 'batch.linger': did you mean 'batch.linger.ms'?", reader.unknown("batch.linger"));
    }
}
