package io.slmclassifier.stream;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** The processor's Prometheus metrics: what flows in and out, batches, latencies, queue depth, adapter version. */
public final class ProcessorMetrics implements ClassifierTopology.Listener, InferenceWorker.Listener {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter in;
    private final Counter out;
    private final Map<BadInput.Reason, Counter> dead = new EnumMap<>(BadInput.Reason.class);
    private final DistributionSummary batchSize;
    private final DistributionSummary passSize;
    private final Timer endToEnd;
    private final Timer model;
    private final Counter failedPasses;
    private final AtomicLong adapterVersion = new AtomicLong(-1);

    public ProcessorMetrics() {
        in = Counter.builder("slm.records.in").description("input records received").register(registry);
        out = Counter.builder("slm.records.out").description("classifications produced").register(registry);
        for (BadInput.Reason r : BadInput.Reason.values()) {
            dead.put(r, Counter.builder("slm.records.dlq").tag("reason", r.header)
                    .description("records sent to the dead-letter topic").register(registry));
        }
        batchSize = DistributionSummary.builder("slm.batch.records").description("records per task batch")
                .publishPercentileHistogram().register(registry);
        passSize = DistributionSummary.builder("slm.forward.texts").description("texts per forward pass")
                .publishPercentileHistogram().register(registry);
        endToEnd = Timer.builder("slm.latency.end_to_end").description("input timestamp to result")
                .publishPercentileHistogram().register(registry);
        model = Timer.builder("slm.latency.model").description("one forward pass").publishPercentileHistogram()
                .register(registry);
        failedPasses = Counter.builder("slm.forward.failures").description("forward passes that failed (split and retried)")
                .register(registry);
        Gauge.builder("slm.adapter.version", adapterVersion, AtomicLong::get)
                .description("serving adapter version (-1: base model)").register(registry);
    }

    /** Reports the worker's queue depth. */
    public void watch(InferenceWorker<?> worker) {
        Gauge.builder("slm.queue.depth", worker, InferenceWorker::pending)
                .description("submissions waiting for the inference worker").register(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public void adapterVersion(long version) {
        adapterVersion.set(version);
    }

    public String scrape() {
        return registry.scrape();
    }

    @Override
    public void received() {
        in.increment();
    }

    @Override
    public void classified(long endToEndMillis) {
        out.increment();
        endToEnd.record(Math.max(0, endToEndMillis), TimeUnit.MILLISECONDS);
    }

    @Override
    public void deadLettered(BadInput.Reason reason) {
        dead.get(reason).increment();
    }

    @Override
    public void abstained(String label) {
        Counter.builder("slm.records.abstained").tag("label", label)
                .description("results that abstained (confidence or label mass under its floor), sent to review as well")
                .register(registry).increment();
    }

    @Override
    public void batch(int size) {
        batchSize.record(size);
    }

    @Override
    public void forwardPass(String task, int texts, long nanos, boolean failed) {
        passSize.record(texts);
        model.record(nanos, TimeUnit.NANOSECONDS);
        if (failed) {
            failedPasses.increment();
        }
    }
}
