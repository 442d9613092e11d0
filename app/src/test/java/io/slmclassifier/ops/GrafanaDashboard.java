package io.slmclassifier.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The metric names the shipped Grafana dashboard ({@code monitoring/grafana/dashboards/slm-classifier.json}) queries,
 * so the services' tests can check each against a real {@code /metrics}: a renamed meter breaks the test, not a
 * dashboard nobody looks at until an incident.
 */
public final class GrafanaDashboard {
    public static final Path FILE = Path.of("monitoring/grafana/dashboards/slm-classifier.json");
    private static final Pattern METRIC = Pattern.compile("\\b((?:slm|kafka|jvm|process)_[a-z0-9_]+)\\b");

    private GrafanaDashboard() {}

    /** Every metric name in the panels' queries. */
    public static Set<String> metricNames() throws IOException {
        Set<String> names = new TreeSet<>();
        for (JsonNode panel : new ObjectMapper().readTree(FILE.toFile()).path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                Matcher m = METRIC.matcher(target.path("expr").asText());
                while (m.find()) {
                    names.add(m.group(1));
                }
            }
        }
        return names;
    }

    /** The names of {@code wanted} that a Prometheus text exposition has no sample of. */
    public static Set<String> missing(Set<String> wanted, String exposition) {
        Set<String> missing = new TreeSet<>();
        for (String name : wanted) {
            if (!Pattern.compile("(?m)^" + Pattern.quote(name) + "[{ ]").matcher(exposition).find()) {
                missing.add(name);
            }
        }
        return missing;
    }
}
