package io.slmclassifier.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.slmclassifier.classify.Classification;
import io.slmclassifier.classify.Classifier;
import io.slmclassifier.classify.LanguageModel;
import io.slmclassifier.classify.Task;
import io.slmclassifier.model.LoraAdapter;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * This project's class probabilities for a fixed set of radr-style texts, one JSON line per text with the rendered
 * prompt, its token ids and the class tokens, so that tools/bf16_fidelity.py can run transformers on exactly the same ids (float32 and bfloat16)
 * and compare. The classifier runs as the processor does: prefix cache on, batches of the given size, an adapter
 * merged into copies of the base matrices (tools/train_fidelity.py compares those with PEFT's).
 */
final class FidelityProbabilities {
    private static final String[] UNITS = {"RobLW", "Zugführer", "Angriffstrupp", "Wassertrupp", "Einsatzleitung",
        "Drohne 2", "Gruppenführer", "Sicherheitstrupp", "Florian 4-83", "ELW 1", "Atemschutzüberwachung", "Maschinist"};
    private static final String[] PLACES = {"im Erdgeschoss", "im ersten Obergeschoss", "im Keller", "auf dem Dach",
        "an der Rückseite", "an der östlichen Seite des Gebäudes", "im Treppenhaus", "an der Einsatzstelle",
        "zwischen den beiden Türen", "am Hydranten"};
    private static final String[] TEMPLATES = {
        "%1$s an %2$s, kommen.",
        "Ja, hier ist %2$s, kommen.",
        "Hier %2$s, hört.",
        "%1$s: Erkundung %3$s abgeschlossen, keine Personen gefunden.",
        "Frage an %2$s: Wie ist die Lage %3$s?",
        "Frage: Erkundungsergebnis %3$s, kommen.",
        "Verstanden, %1$s geht vor.",
        "Verstanden, wir gehen %3$s vor. Ende.",
        "Negativ, %1$s noch nicht bereit.",
        "Ist negativ, noch nicht.",
        "%1$s, gehen Sie mit zwei Trupps %3$s vor und melden Sie, wenn Sie dort sind.",
        "Für Sie Erkundungsauftrag: Gesamtüberblick %3$s. Kommen.",
        "Einen Augenblick, ich melde mich gleich.",
        "Ich verlasse %3$s und gehe weiter nach oben.",
        "Ein Lagebild von oben, komplette Lage, und ein Lagebild %3$s, verstanden.",
        "Wir haben %4$d Personen %3$s, zwei davon verletzt.",
        "Brauchen Sie noch Unterstützung %3$s?",
        "Druck auf der Leitung, %4$d bar, Wasser marsch.",
        "Nein, das stimmt nicht, wir sind noch %3$s.",
        "Bestätige, %1$s übernimmt den Abschnitt %3$s.",
        "Achtung an alle: Rückzug aus dem Gebäude, sofort!",
        "Drohne startet jetzt, Flughöhe %4$d Meter.",
        "Wie viele Atemschutzgeräteträger sind %3$s im Einsatz?",
        "Okay.",
    };

    private FidelityProbabilities() {}

    /** {@code n} distinct radr-style radio messages (calls, answers, orders, reports, questions), seeded. */
    static List<String> texts(int n, long seed) {
        Random random = new Random(seed);
        Set<String> texts = new LinkedHashSet<>(BenchCommand.SENTENCES);
        int attempts = 0;
        while (texts.size() < n && attempts++ < 100 * n) {
            String template = TEMPLATES[random.nextInt(TEMPLATES.length)];
            texts.add(String.format(template, UNITS[random.nextInt(UNITS.length)], UNITS[random.nextInt(UNITS.length)],
                    PLACES[random.nextInt(PLACES.length)], 2 + random.nextInt(40)));
        }
        return new ArrayList<>(texts).subList(0, Math.min(n, texts.size()));
    }

    /**
     * Classifies the texts, with {@code adapter} unless it is null, and writes one JSON line per text: text, rendered,
     * class_token_ids, ids, prefix_length, prefix_cached, probabilities.
     */
    static void write(Path out, LanguageModel model, Task task, LoraAdapter adapter, List<String> texts, int batch)
            throws IOException {
        ObjectMapper json = new ObjectMapper();
        try (Classifier classifier = new Classifier(model, task, Classifier.Options.forDevice(model.device())
                .withBatchSize(batch).withPrefixCache(true));
                BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            if (adapter != null) {
                classifier.useMergedAdapter("adapter", adapter);
            }
            List<Classification> results = new ArrayList<>();
            for (int from = 0; from < texts.size(); from += batch) {
                results.addAll(classifier.classify(texts.subList(from, Math.min(texts.size(), from + batch))));
            }
            for (int i = 0; i < texts.size(); i++) {
                ObjectNode line = json.createObjectNode();
                line.put("text", texts.get(i));
                line.put("rendered", classifier.prompt().render(texts.get(i)));
                var classTokens = line.putArray("class_token_ids");
                for (int id : classifier.head().classTokenIds()) {
                    classTokens.add(id);
                }
                var ids = line.putArray("ids");
                for (int id : classifier.prompt().encode(texts.get(i)).tokens()) {
                    ids.add(id);
                }
                line.put("prefix_length", classifier.prompt().prefixLength());
                line.put("prefix_cached", results.get(i).prefixCached());
                var probabilities = line.putArray("probabilities");
                for (double p : results.get(i).probabilities()) {
                    probabilities.add(p);
                }
                writer.write(json.writeValueAsString(line));
                writer.newLine();
            }
        }
    }
}
