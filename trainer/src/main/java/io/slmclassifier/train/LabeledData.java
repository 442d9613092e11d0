package io.slmclassifier.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import io.slmclassifier.classify.Task;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Labeled examples from a file: JSON lines {@code {"text": ..., "label": ...}} (label by name or index) or
 * CSV with a header {@code text,label}. Bad rows are kept as problems with their line numbers, not thrown.
 */
public record LabeledData(List<Example> examples, List<String> problems) {

    public record Example(String text, int label) {}

    public static LabeledData read(Path file, Task task) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("data file not found: " + file);
        }
        List<Example> examples = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        if (file.getFileName().toString().toLowerCase().endsWith(".csv")) {
            readCsv(file, task, examples, problems);
        } else {
            readJsonLines(file, task, examples, problems);
        }
        return new LabeledData(List.copyOf(examples), List.copyOf(problems));
    }

    private static void readJsonLines(Path file, Task task, List<Example> examples, List<String> problems)
            throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            try {
                JsonNode node = json.readTree(line);
                add(file, i + 1, node.path("text").isTextual() ? node.get("text").asText() : null,
                        node.get("label"), task, examples, problems);
            } catch (IOException e) {
                problems.add(file + ":" + (i + 1) + ": invalid JSON");
            }
        }
    }

    private static void readCsv(Path file, Task task, List<Example> examples, List<String> problems) throws IOException {
        CsvMapper csv = new CsvMapper();
        CsvSchema schema = CsvSchema.emptySchema().withHeader();
        try (MappingIterator<Map<String, String>> rows = csv.readerFor(Map.class).with(schema).readValues(file.toFile())) {
            while (rows.hasNextValue()) {
                Map<String, String> row = rows.nextValue();
                int line = rows.getCurrentLocation().getLineNr() - 1;
                if (!row.containsKey("text") || !row.containsKey("label")) {
                    throw new IllegalArgumentException(file + ": the CSV header must name the columns text and label");
                }
                String label = row.get("label");
                add(file, line, row.get("text"), label == null ? null : new ObjectMapper().getNodeFactory().textNode(label),
                        task, examples, problems);
            }
        }
    }

    private static void add(Path file, int line, String text, JsonNode label, Task task, List<Example> examples,
            List<String> problems) {
        if (text == null || text.isBlank()) {
            problems.add(file + ":" + line + ": empty text");
            return;
        }
        int index = labelIndex(label, task);
        if (index < 0) {
            problems.add(file + ":" + line + ": unknown label " + (label == null ? "(none)" : label.toString())
                    + "; the task's labels are " + task.labels());
            return;
        }
        examples.add(new Example(text, index));
    }

    private static int labelIndex(JsonNode label, Task task) {
        if (label == null || label.isNull()) {
            return -1;
        }
        if (label.isInt()) {
            int i = label.asInt();
            return i >= 0 && i < task.labels().size() ? i : -1;
        }
        String name = label.asText();
        int byName = task.indexOf(name);
        if (byName >= 0) {
            return byName;
        }
        if (name.matches("\\d+")) {
            int i = Integer.parseInt(name);
            return i < task.labels().size() ? i : -1;
        }
        return -1;
    }
}
