package io.slmclassifier.kafka;

import java.util.Locale;
import org.apache.avro.Schema;

/**
 * How a topic's keys or values map to a registry subject, as the Confluent serializers name the strategies.
 * TOPIC (the default, {@code <topic>-value}) gives one record type per topic; RECORD and TOPIC_RECORD allow
 * several record types on one topic, as on {@code intents.control} (AdapterEvent and AdapterCommand).
 */
public enum SubjectNameStrategy {
    /** {@code <topic>-key} or {@code <topic>-value}. */
    TOPIC,
    /** The record's full name, whatever the topic. */
    RECORD,
    /** {@code <topic>-<record full name>}. */
    TOPIC_RECORD;

    public String subject(String topic, boolean isKey, Schema schema) {
        switch (this) {
            case RECORD:
                return schema.getFullName();
            case TOPIC_RECORD:
                return topic + "-" + schema.getFullName();
            default:
                return topic + (isKey ? "-key" : "-value");
        }
    }

    /**
     * Parses a setting: the enum name, or a Confluent class name such as
     * {@code io.confluent.kafka.serializers.subject.TopicRecordNameStrategy}, so existing configuration works.
     */
    public static SubjectNameStrategy parse(String setting) {
        String simpleName = setting.substring(setting.lastIndexOf('.') + 1).strip();
        switch (simpleName.toLowerCase(Locale.ROOT).replace("_", "")) {
            case "topic":
            case "topicnamestrategy":
                return TOPIC;
            case "record":
            case "recordnamestrategy":
                return RECORD;
            case "topicrecord":
            case "topicrecordnamestrategy":
                return TOPIC_RECORD;
            default:
                throw new IllegalArgumentException("unknown subject name strategy: " + setting);
        }
    }
}
