package io.slmclassifier.train;

import io.slmclassifier.classify.Task;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A synthetic task a tiny random model can learn in seconds: the label is the one colour word hidden among
 * distractor words. Before training the model is at chance; after a few epochs of LoRA it is near perfect. The
 * demo's simulation uses it to show the whole loop, and the tests use it to prove that learning happens.
 */
public final class ColourTask {
    public static final List<String> LABELS = List.of("red", "blue", "green");
    static final List<String> DISTRACTORS = List.of("the", "cat", "table", "runs", "over", "a", "small", "house",
            "window", "quickly", "river", "stone", "paper", "old", "dog", "tree", "under", "music", "bright", "cold");
    public static final String YAML = "name: colours\nlabels: [red, blue, green]\n"
            + "prompt: \"Which colour is named in: {text}\\nColour:\"\nchat_template: false\nmax_text_tokens: 32";
    public static final Task TASK = Task.parse(YAML);

    private ColourTask() {}

    public static List<LabeledData.Example> sentences(int count, long seed) {
        return sentences(LABELS, count, seed);
    }

    /**
     * Sentences of the same kind for any task: one of {@code labels} hidden among the distractor words, labeled with
     * it. What the demo simulates for a task that has no synthetic data of its own.
     */
    public static List<LabeledData.Example> sentences(List<String> labels, int count, long seed) {
        Random random = new Random(seed);
        List<LabeledData.Example> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int label = random.nextInt(labels.size());
            List<String> words = new ArrayList<>();
            for (int w = 0; w < 6; w++) {
                words.add(DISTRACTORS.get(random.nextInt(DISTRACTORS.size())));
            }
            words.add(random.nextInt(words.size() + 1), labels.get(label));
            out.add(new LabeledData.Example(String.join(" ", words), label));
        }
        return out;
    }
}
