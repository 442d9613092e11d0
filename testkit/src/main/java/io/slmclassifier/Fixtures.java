package io.slmclassifier;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The reference outputs written by tools/make_parity_fixtures.py with transformers. */
public final class Fixtures {
    public static final Path RESOURCES = Path.of("src", "test", "resources");
    public static final Path MODELS = RESOURCES.resolve("models");
    public static final Path TASKS = Path.of("tasks");

    public record Case(String model, String task, String text, String prompt, int[] inputIds, int[] classTokenIds,
            double[] logits, double[] probabilities, double labelMass) {}

    private Fixtures() {}

    public static Path model(String name) {
        return MODELS.resolve(name);
    }

    public static Path task(String name) {
        return TASKS.resolve(name + ".yaml");
    }

    public static List<Case> parityCases() {
        try {
            JsonNode root = new ObjectMapper().readTree(RESOURCES.resolve("fixtures/parity.json").toFile());
            List<Case> cases = new ArrayList<>();
            for (JsonNode c : root.get("cases")) {
                cases.add(new Case(c.get("model").asText(), c.get("task").asText(), c.get("text").asText(),
                        c.get("prompt").asText(), ints(c.get("input_ids")), ints(c.get("class_token_ids")),
                        doubles(c.get("logits")), doubles(c.get("probabilities")), c.get("label_mass").asDouble()));
            }
            return cases;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asDouble();
        }
        return out;
    }
}
