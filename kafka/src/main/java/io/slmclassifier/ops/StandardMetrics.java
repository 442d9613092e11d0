package io.slmclassifier.ops;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.streams.KafkaStreams;

/**
 * Micrometer's standard binders on a service's registry, beside its own {@code slm_*} series: JVM memory, garbage
 * collection, threads and class loading, CPU and uptime, and the metrics of its Kafka clients and Kafka Streams
 * (lag, commit rate, rebalances, thread states). They keep Micrometer's names ({@code jvm_memory_used_bytes},
 * {@code process_cpu_usage}, {@code kafka_consumer_fetch_manager_records_lag_max}, {@code kafka_stream_*}), the
 * ones the common JVM and Kafka dashboards query, so those work unchanged.
 *
 * <p>Closed with the service: the Kafka binders poll their client for new metrics on a thread of their own, and the
 * garbage-collection binder listens to the JVM, which would keep the registry alive after the service is gone.
 */
public final class StandardMetrics implements AutoCloseable {
    private final MeterRegistry registry;
    /** How to stop each binder that holds a thread or a listener. */
    private final List<Runnable> closers = new ArrayList<>();

    private StandardMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** The JVM and process binders on {@code registry}; add the service's Kafka clients with the methods below. */
    public static StandardMetrics bindTo(MeterRegistry registry) {
        StandardMetrics metrics = new StandardMetrics(registry);
        new JvmMemoryMetrics().bindTo(registry);
        JvmGcMetrics gc = new JvmGcMetrics();
        metrics.bind(gc, gc::close);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        return metrics;
    }

    /** Kafka Streams' own metrics and those of the consumers, producers and admin client inside it. */
    public StandardMetrics streams(KafkaStreams streams) {
        KafkaStreamsMetrics binder = new KafkaStreamsMetrics(streams);
        return bind(binder, binder::close);
    }

    public StandardMetrics consumer(Consumer<?, ?> consumer) {
        KafkaClientMetrics binder = new KafkaClientMetrics(consumer);
        return bind(binder, binder::close);
    }

    public StandardMetrics producer(Producer<?, ?> producer) {
        KafkaClientMetrics binder = new KafkaClientMetrics(producer);
        return bind(binder, binder::close);
    }

    private StandardMetrics bind(MeterBinder binder, Runnable close) {
        binder.bindTo(registry);
        closers.add(close);
        return this;
    }

    @Override
    public void close() {
        closers.forEach(Runnable::run);
        closers.clear();
    }
}
