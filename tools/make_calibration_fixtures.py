"""Reference calibration figures for CalibrationTest, computed the usual way with numpy.

    python tools/make_calibration_fixtures.py

Writes src/test/resources/fixtures/calibration.json: a fixed synthetic set of logits (float32, 4 classes)
with true labels, and at two temperatures the expected calibration error (15 equal-width confidence bins),
negative log-likelihood, multi-class Brier score and selective accuracy/coverage.
"""
import json
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "src", "test", "resources", "fixtures", "calibration.json")
BINS = 15
THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
TEMPERATURES = [1.0, 2.5]


def softmax(logits, temperature):
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def figures(logits, truth, temperature):
    p = softmax(logits, temperature)
    n, classes = p.shape
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == truth).astype(np.float64)
    ece = 0.0
    for k in range(BINS):
        # Bins (k/15, (k+1)/15], as Guo et al.
        in_bin = (confidence > k / BINS) & (confidence <= (k + 1) / BINS)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    nll = -np.log(p[np.arange(n), truth]).mean()
    brier = ((p - np.eye(classes)[truth]) ** 2).sum(axis=1).mean()
    selective = []
    for t in THRESHOLDS:
        kept = confidence >= t
        selective.append({"threshold": t, "coverage": float(kept.mean()),
                          "accuracy": float(correct[kept].mean()) if kept.any() else None})
    return {"temperature": temperature, "ece": float(ece), "nll": float(nll), "brier": float(brier),
            "selective": selective}


def main():
    rng = np.random.default_rng(14)
    n, classes = 300, 4
    truth = rng.integers(0, classes, size=n)
    # A classifier that is right more often than not, with a spread of confidences.
    logits = rng.normal(0.0, 1.5, size=(n, classes))
    logits[np.arange(n), truth] += rng.uniform(0.0, 4.0, size=n)
    logits = logits.astype(np.float32).astype(np.float64)  # exactly what Java reads into float[]
    fixture = {"logits": logits.tolist(), "truth": truth.tolist(),
               "expected": [figures(logits, truth, t) for t in TEMPERATURES]}
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    for e in fixture["expected"]:
        print(e["temperature"], e["ece"], e["nll"], e["brier"])


if __name__ == "__main__":
    main()
