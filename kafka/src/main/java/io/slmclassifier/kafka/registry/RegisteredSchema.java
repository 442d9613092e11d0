package io.slmclassifier.kafka.registry;

import org.apache.avro.Schema;

/** One version of a subject: the answer to a lookup or to a request for a given version. */
public record RegisteredSchema(String subject, int version, int id, Schema schema) {
}
