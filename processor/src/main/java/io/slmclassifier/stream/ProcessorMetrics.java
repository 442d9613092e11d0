package io.slmclassifier.stream;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The processor's Prometheus metrics, one registry for all the tasks it serves: what flows in and out, batches,
 * latencies, queue depth, adapter version. Every series carries the {@code task} it belongs to, so one scrape of a
 * processor serving several tasks still tells them apart.
 */
public final class ProcessorMetrics implements InferenceWorker.Listener {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<String, Task> tasks = new ConcurrentHashMap<>();

    /** The series of one task, registered on first use; the same object for the same name. */
    public Task forTask(String task) {
        return tasks.computeIfAbsent(task, name -> new Task(registry, name));
    }

    /** A forward pass of one task's texts, as the inference worker reports it. */
    @Override
    public void forwardPass(String task, int texts, long nanos, boolean failed) {
        forTask(task).forwardPass(texts, nanos, failed);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public String scrape() {
        return registry.scrape();
    }

    /** One task's series: each is tagged {@code task=<name>}. */
    public static final class Task implements ClassifierTopology.Listener {
        private final PrometheusMeterRegistry registry;
        private final String name;
        private final Tags task;
        private final Counter in;
        private final Counter out;
        private final Map<BadInput.Reason, Counter> dead = new EnumMap<>(BadInput.Reason.class);
        private final DistributionSummary batchSize;
        private final DistributionSummary passSize;
        private final Timer endToEnd;
        private final Timer model;
        private final Counter failedPasses;
        private final AtomicLong adapterVersion = new AtomicLong(-1);

        private Task(PrometheusMeterRegistry registry, String name) {
            this.registry = registry;
            this.name = name;
            this.task = Tags.of("task", name);
            in = Counter.builder("slm.records.in").tags(task).description("input records received").register(registry);
            out = Counter.builder("slm.records.out").tags(task).description("classifications produced").register(registry);
            for (BadInput.Reason r : BadInput.Reason.values()) {
                dead.put(r, Counter.builder("slm.records.dlq").tags(task).tag("reason", r.header)
                        .description("records sent to the dead-letter topic").register(registry));
            }
            batchSize = DistributionSummary.builder("slm.batch.records").tags(task).description("records per task batch")
                    .publishPercentileHistogram().register(registry);
            passSize = DistributionSummary.builder("slm.forward.texts").tags(task).description("texts per forward pass")
                    .publishPercentileHistogram().register(registry);
            endToEnd = Timer.builder("slm.latency.end_to_end").tags(task).description("input timestamp to result")
                    .publishPercentileHistogram().register(registry);
            model = Timer.builder("slm.latency.model").tags(task).description("one forward pass")
                    .publishPercentileHistogram().register(registry);
            failedPasses = Counter.builder("slm.forward.failures").tags(task)
                    .description("forward passes that failed (split and retried)").register(registry);
            Gauge.builder("slm.adapter.version", adapterVersion, AtomicLong::get).tags(task)
                    .description("serving adapter version (-1: base model)").register(registry);
        }

        /**
         * Registers the abstention counter of each label at 0, so that a dashboard shows "none abstained" from the
         * start rather than no data until the first abstention.
         */
        public void labels(java.util.List<String> labels) {
            labels.forEach(label -> abstainedCounter(label));
        }

        /** Reports the depth of this task's lane of the worker. */
        public void watch(InferenceWorker<?> worker) {
            Gauge.builder("slm.queue.depth", worker, w -> w.pending(name)).tags(task)
                    .description("submissions waiting for the inference worker").register(registry);
        }

        public void adapterVersion(long version) {
            adapterVersion.set(version);
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
            abstainedCounter(label).increment();
        }

        private Counter abstainedCounter(String label) {
            return Counter.builder("slm.records.abstained").tags(task).tag("label", label)
                    .description("results that abstained (confidence or label mass under its floor), sent to review as well")
                    .register(registry);
        }

        @Override
        public void batch(int size) {
            batchSize.record(size);
        }

        public void forwardPass(int texts, long nanos, boolean failed) {
            passSize.record(texts);
            model.record(nanos, TimeUnit.NANOSECONDS);
            if (failed) {
                failedPasses.increment();
            }
        }
    }
}
