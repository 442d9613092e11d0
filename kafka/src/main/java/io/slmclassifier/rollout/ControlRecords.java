package io.slmclassifier.rollout;

import io.slmclassifier.avro.AdapterCommand;
import io.slmclassifier.avro.AdapterEvent;
import io.slmclassifier.avro.AdapterStatus;
import io.slmclassifier.kafka.AvroSerde;
import io.slmclassifier.kafka.SubjectNameStrategy;
import io.slmclassifier.kafka.WireFormat;
import io.slmclassifier.kafka.registry.SchemaRegistryClient;
import java.util.UUID;
import org.apache.avro.specific.SpecificRecord;

/**
 * The two record types of the control topic, {@link AdapterEvent} and {@link AdapterCommand}, in the registry
 * wire format under TopicRecordNameStrategy subjects ({@code intents.control-io.slmclassifier.avro.AdapterEvent}),
 * and the keys that keep the topic's compaction harmless: one key per adapter version (its latest status
 * wins), one per processor error report, and a fresh key per command so no command is ever compacted away.
 */
public final class ControlRecords {
    private final SchemaRegistryClient registry;
    private final AvroSerde<AdapterEvent> events;
    private final AvroSerde<AdapterCommand> commands;

    public ControlRecords(SchemaRegistryClient registry) {
        this.registry = registry;
        this.events = AvroSerde.forType(AdapterEvent.class, registry).subjectNameStrategy(SubjectNameStrategy.TOPIC_RECORD);
        this.commands = AvroSerde.forType(AdapterCommand.class, registry).subjectNameStrategy(SubjectNameStrategy.TOPIC_RECORD);
    }

    public static String key(AdapterEvent event) {
        String key = "adapter-" + event.getVersion();
        return event.getStatus() == AdapterStatus.ERROR ? key + "-error-" + event.getInstance() : key;
    }

    public static String key(AdapterCommand command) {
        return "command-" + command.getCommand().name().toLowerCase() + "-" + UUID.randomUUID();
    }

    public byte[] encode(String topic, SpecificRecord record) {
        if (record instanceof AdapterEvent e) {
            return events.serializer().serialize(topic, e);
        }
        if (record instanceof AdapterCommand c) {
            return commands.serializer().serialize(topic, c);
        }
        throw new IllegalArgumentException("not a control record: " + record.getClass());
    }

    /** An AdapterEvent or an AdapterCommand, chosen by the writer schema the record's id names. */
    public SpecificRecord decode(String topic, byte[] value) {
        if (value == null || !WireFormat.hasPrefix(value)) {
            throw new IllegalArgumentException("control record on " + topic + " is not in the registry wire format");
        }
        String type = registry.schemaById(WireFormat.schemaId(value)).getFullName();
        if (type.equals(AdapterEvent.getClassSchema().getFullName())) {
            return events.deserializer().deserialize(topic, value);
        }
        if (type.equals(AdapterCommand.getClassSchema().getFullName())) {
            return commands.deserializer().deserialize(topic, value);
        }
        throw new IllegalArgumentException("control record on " + topic + " has unknown type " + type);
    }
}
