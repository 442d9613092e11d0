package io.slmclassifier.cli;

import ai.djl.Device;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.classify.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.SlicedHead;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import io.slmclassifier.model.TorchRuntime;
import io.slmclassifier.model.hub.ModelResolver;
import io.slmclassifier.quality.Calibration;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Classifies lines of text: plain text, or JSON lines with a {@code text} field and an optional {@code id}.
 * Writes one JSON line per input line, in order; a bad line gets an error line and the rest goes on.
 */
@Command(name = "classify", mixinStandardHelpOptions = true,
        description = "Classify text from a file or stdin; JSON lines out.")
public final class ClassifyCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    LogOptions logging;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--model", required = true, description = ModelOptions.DESCRIPTION)
    String model;

    @Option(names = "--task", required = true, description = "Task file (YAML or JSON).")
    Path task;

    @Option(names = "--adapter", description = "PEFT LoRA adapter directory.")
    Path adapter;

    @Option(names = "--input", defaultValue = "-", description = "Input file, '-' for stdin (default).")
    String input;

    @Option(names = "--output", defaultValue = "-", description = "Output file, '-' for stdout (default).")
    String output;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, gpu, gpu:N or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--batch-size", defaultValue = "32", description = "Most messages per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--token-budget", defaultValue = "8192", description = "Most padded tokens per forward pass (default: ${DEFAULT-VALUE}).")
    int tokenBudget;

    @Option(names = "--label-mass", description = "Also output the label mass (probability of the class tokens over the whole vocabulary).")
    boolean labelMass;

    @Option(names = "--temperature", description = "Calibration temperature: probabilities are softmax(logits / T), "
            + "as a processor serves them with calibration.temperature (default: none, T = 1).")
    Double temperature;

    @Option(names = "--no-prefix-cache", description = "Run every message in full instead of reusing the shared prompt prefix.")
    boolean noPrefixCache;

    /** The shape of each output line. */
    enum Format {
        /** id, text, label, probabilities and logits by label. */
        json,
        /**
         * What transformers' text-classification pipeline returns for one text, {@code [{"label", "score"}]}, the
         * top K by score: code written against the pipeline reads these lines as they are.
         */
        pipeline
    }

    @Option(names = "--format", defaultValue = "json",
            description = "json (id, text, label, probabilities, logits) or pipeline (transformers' "
                    + "[{\"label\": ..., \"score\": ...}], best first) (default: ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--top-k", description = "With --format pipeline: the K labels of highest score (default: 1, as the "
            + "pipeline's; more than the task has gives them all).")
    Integer topK;

    /** One input line: either a text to classify or an error to report. */
    private record Line(long number, String id, String text, String error) {}

    @Override
    public Integer call() throws Exception {
        if (topK != null && format != Format.pipeline) {
            throw new IllegalArgumentException("--top-k is for --format pipeline");
        }
        if (topK != null && topK < 1) {
            throw new IllegalArgumentException("--top-k must be at least 1, not " + topK);
        }
        if (temperature != null) {
            Calibration.requireUsable(temperature);
        }
        Task t = Task.load(task);
        Device d = TorchRuntime.device(device);
        try (LanguageModel lm = LanguageModel.load(ModelResolver.fromEnvironment().resolve(model), d, null);
                LoraAdapter lora = adapter == null ? null : lm.loadAdapter(adapter);
                Classifier classifier = new Classifier(lm, t, new Classifier.Options(batchSize, tokenBudget,
                        !noPrefixCache, labelMass));
                InputStream in = input.equals("-") ? System.in : openInput(Path.of(input));
                OutputStream rawOut = output.equals("-") ? System.out : Files.newOutputStream(Path.of(output));
                PrintStream out = new PrintStream(rawOut, false, StandardCharsets.UTF_8)) {
            if (lora != null) {
                classifier.useMergedAdapter(adapter.getFileName().toString(), lora);
            }
            BufferedInputStream buffered = new BufferedInputStream(in, 1 << 16);
            List<Line> pending = new ArrayList<>();
            long number = 0;
            byte[] raw;
            while ((raw = readLine(buffered)) != null) {
                number++;
                Line line = parse(number, raw);
                if (line != null) {
                    pending.add(line);
                }
                // Flush when a chunk is full or the input pauses, so interactive use answers each line.
                if (pending.size() >= batchSize * 4 || (buffered.available() == 0 && !pending.isEmpty())) {
                    emit(classifier, pending, out);
                    pending.clear();
                }
            }
            emit(classifier, pending, out);
        }
        return 0;
    }

    private void emit(Classifier classifier, List<Line> lines, PrintStream out) {
        List<String> texts = new ArrayList<>();
        for (Line l : lines) {
            if (l.error == null) {
                texts.add(l.text);
            }
        }
        List<Classification> results = texts.isEmpty() ? List.of() : classifier.classify(texts);
        int next = 0;
        for (Line l : lines) {
            if (l.error == null && format == Format.pipeline) {
                Classification c = results.get(next++);
                double[] p = temperature == null ? c.probabilities() : SlicedHead.softmax(c.logits(), temperature);
                out.println(topScores(classifier.task().labels(), p, topK == null ? 1 : topK));
                continue;
            }
            ObjectNode node = JSON.createObjectNode();
            if (l.error != null) {
                node.put("line", l.number);
                if (l.id != null) {
                    node.put("id", l.id);
                }
                node.put("error", l.error);
            } else {
                Classification c = results.get(next++);
                node.put("id", l.id != null ? l.id : String.valueOf(l.number));
                node.put("text", c.text());
                node.put("label", c.label());
                ObjectNode probabilities = node.putObject("probabilities");
                ObjectNode logits = node.putObject("logits");
                List<String> labels = classifier.task().labels();
                // Dividing the logits by T keeps their order: the label stays, only how sure it reads changes.
                double[] p = temperature == null ? c.probabilities() : SlicedHead.softmax(c.logits(), temperature);
                for (int i = 0; i < labels.size(); i++) {
                    probabilities.put(labels.get(i), p[i]);
                    logits.put(labels.get(i), c.logits()[i]);
                }
                if (temperature != null) {
                    node.put("calibration_temperature", temperature);
                }
                if (labelMass) {
                    node.put("label_mass", c.labelMass());
                }
                if (c.truncated()) {
                    node.put("truncated", true);
                }
            }
            out.println(node.toString());
        }
        out.flush();
    }

    /**
     * The pipeline's shape, {@code [{"label": ..., "score": ...}]}: the {@code k} most probable labels, best first
     * (ties in task label order).
     */
    static ArrayNode topScores(List<String> labels, double[] probabilities, int k) {
        List<Integer> byScore = new ArrayList<>();
        for (int i = 0; i < labels.size(); i++) {
            byScore.add(i);
        }
        byScore.sort(Comparator.comparingDouble((Integer i) -> probabilities[i]).reversed());
        ArrayNode top = JSON.createArrayNode();
        for (int i : byScore.subList(0, Math.min(k, byScore.size()))) {
            top.addObject().put("label", labels.get(i)).put("score", probabilities[i]);
        }
        return top;
    }

    /** Null for a blank line (skipped). */
    static Line parse(long number, byte[] raw) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            return new Line(number, null, null, "line is not valid UTF-8");
        }
        if (text.endsWith("\r")) {
            text = text.substring(0, text.length() - 1);
        }
        if (text.isBlank()) {
            return null;
        }
        if (!text.stripLeading().startsWith("{")) {
            return new Line(number, null, text, null);
        }
        try {
            JsonNode json = JSON.readTree(text);
            String id = json.hasNonNull("id") ? json.get("id").asText() : null;
            JsonNode value = json.get("text");
            if (value == null || !value.isTextual()) {
                return new Line(number, id, null, "JSON line has no string field 'text'");
            }
            if (value.asText().isBlank()) {
                return new Line(number, id, null, "text is empty");
            }
            return new Line(number, id, value.asText(), null);
        } catch (JsonProcessingException e) {
            return new Line(number, null, null, "invalid JSON: " + e.getOriginalMessage());
        }
    }

    /**
     * A file, or a pipe or FIFO ({@code --input <(zcat texts.gz)}). Not Files.newInputStream for the latter: its
     * stream answers available() from the channel's size and position, and a pipe has neither ("Illegal seek");
     * FileInputStream asks the pipe how many bytes wait in it.
     */
    static InputStream openInput(Path file) throws IOException {
        if (Files.isRegularFile(file)) {
            return Files.newInputStream(file);
        }
        try {
            return new FileInputStream(file.toFile());
        } catch (FileNotFoundException e) {
            // The same exceptions as for a regular file, so the one-line error reads the same.
            if (!Files.exists(file)) {
                throw new NoSuchFileException(file.toString());
            }
            if (!Files.isReadable(file)) {
                throw new AccessDeniedException(file.toString());
            }
            throw e;
        }
    }

    /** Bytes up to '\n' (excluded); null at end of input. */
    private static byte[] readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        boolean any = false;
        while ((b = in.read()) != -1) {
            any = true;
            if (b == '\n') {
                return line.toByteArray();
            }
            line.write(b);
        }
        return any ? line.toByteArray() : null;
    }
}
