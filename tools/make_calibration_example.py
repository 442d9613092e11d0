"""Writes the labeled files behind the reliability diagram of docs/calibration.md into a directory (default /tmp/calibration-example):
a colour task, clean training and validation examples, and test examples where 30% of the labels are drawn at
random (as labels from people sometimes are), so a model trained on clean labels is over-confident on them.

    python3 tools/make_calibration_example.py [DIR]
"""
import json
import os
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/calibration-example"
os.makedirs(out, exist_ok=True)
labels = ["red", "blue", "green"]
words = "the cat table runs over a small house river old".split()


def write(name, count, seed, noise):
    r = random.Random(seed)
    with open(os.path.join(out, name), "w") as f:
        for _ in range(count):
            named = r.randrange(3)
            text = [r.choice(words) for _ in range(5)]
            text.insert(r.randrange(6), labels[named])
            label = labels[r.randrange(3)] if r.random() < noise else labels[named]
            f.write(json.dumps({"text": " ".join(text), "label": label}) + "\n")


write("train.jsonl", 240, 1, 0.0)
write("validation.jsonl", 60, 2, 0.0)
write("test-noisy.jsonl", 400, 3, 0.3)
with open(os.path.join(out, "task.yaml"), "w") as f:
    f.write('name: colours\nlabels: [red, blue, green]\nprompt: "Which colour is named in: {text}\\nColour:"\n'
            "chat_template: false\n")
print("wrote", out)
