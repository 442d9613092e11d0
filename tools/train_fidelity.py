"""A trained adapter against transformers + PEFT, and a GPU run's learning curve against the CPU's (step
train-fidelity of tools/gpu-bench.sh).

  python3 tools/train_fidelity.py data OUT_DIR TRAIN VALIDATION [SEED]
      labeled radr-style radio messages for tasks/radr-intents.yaml (calls, answers, orders, reports, questions,
      confirmations, denials, the rest), TRAIN + VALIDATION distinct texts, seeded, written to OUT_DIR/train.jsonl
      and OUT_DIR/validation.jsonl: the same files for every run that is compared
  python3 tools/train_fidelity.py curve NAME=training_metrics.json NAME=training_metrics.json [MAX_DIFF]
      the macro-F1 of both runs at each evaluation (the `curve` that `train` writes), their difference and the
      largest; exits 1 when that is above MAX_DIFF (default 0.02), 2 when the runs evaluated at different steps
  python3 tools/train_fidelity.py peft MODEL_DIR ADAPTER_DIR MAX_DP NAME=PROJECT.jsonl [NAME=PROJECT.jsonl ...]
      transformers float32 with the adapter loaded by PEFT (PeftModel.from_pretrained) on the ids of the first
      PROJECT.jsonl (`bench --probabilities FILE --adapter ADAPTER_DIR` writes them), then max |dp|, mean |dp| and
      top-class agreement of each project file, of transformers + PEFT in bfloat16 and of the base model without
      the adapter, all against it; exits 1 when a project file's max |dp| is above MAX_DP

`data` and `curve` are plain Python; `peft` needs torch, transformers and peft, and runs on the GPU when there is
one. Probabilities are the softmax over the class tokens' logits at the last position, as in bf16_fidelity.py,
whose code runs them.
"""
import json
import os
import random
import sys

UNITS = ["RobLW", "Zugführer", "Angriffstrupp", "Wassertrupp", "Einsatzleitung", "Drohne 2", "Gruppenführer",
         "Sicherheitstrupp", "Florian 4-83", "ELW 1", "Atemschutzüberwachung", "Maschinist"]
PLACES = ["im Erdgeschoss", "im ersten Obergeschoss", "im Keller", "auf dem Dach", "an der Rückseite",
          "an der östlichen Seite des Gebäudes", "im Treppenhaus", "an der Einsatzstelle",
          "zwischen den beiden Türen", "am Hydranten"]
# {a} and {b} are units, {p} a place, {n} a number.
TEMPLATES = {
    "call": ["{a} an {b}, kommen.", "{b} von {a}, kommen.", "{a} für {b}, bitte melden.", "{b}, hier {a}, kommen."],
    "response_call": ["Ja, hier ist {b}, kommen.", "Hier {b}, hört.", "{b} hört, kommen.", "Hier {b}, sprechen Sie."],
    "order": ["{a}, gehen Sie mit zwei Trupps {p} vor und melden Sie, wenn Sie dort sind.",
              "Für Sie Erkundungsauftrag: Gesamtüberblick {p}. Kommen.", "{a}, Wasser marsch {p}.",
              "{a}, sofort Rückzug {p}!", "{a}, bringen Sie {n} Schläuche {p}."],
    "provide_info": ["{a}: Erkundung {p} abgeschlossen, keine Personen gefunden.",
                     "Wir haben {n} Personen {p}, zwei davon verletzt.", "Ich verlasse {p} und gehe weiter nach oben.",
                     "Druck auf der Leitung, {n} bar.", "{a} ist jetzt {p}."],
    "request_info": ["Frage an {b}: Wie ist die Lage {p}?", "Frage: Erkundungsergebnis {p}, kommen.",
                     "Wie viele Atemschutzgeräteträger sind {p} im Einsatz?", "Brauchen Sie noch Unterstützung {p}?",
                     "{b}, wo befindet sich {a}?"],
    "confirm": ["Verstanden, {a} geht vor.", "Verstanden, wir gehen {p} vor. Ende.",
                "Bestätige, {a} übernimmt den Abschnitt {p}.", "Jawohl, {a}, verstanden."],
    "disconfirm": ["Negativ, {a} noch nicht bereit.", "Nein, das stimmt nicht, wir sind noch {p}.",
                   "Negativ, {p} ist nicht erreichbar.", "Nein, {a} ist nicht {p}."],
    "other": ["Einen Augenblick, {b}, ich melde mich gleich.", "Moment bitte, {a}.", "Warten Sie, {b}.",
              "Ähm, {p}, einen Moment."],
}


def data(out_dir, train_count, validation_count, seed=7):
    """Distinct texts, each of a uniformly drawn intent, shuffled: the first train_count train, the rest validate."""
    rng = random.Random(seed)
    labels = sorted(TEMPLATES)
    examples = {}
    total = train_count + validation_count
    attempts = 0
    while len(examples) < total and attempts < 100 * total:
        attempts += 1
        label = rng.choice(labels)
        text = rng.choice(TEMPLATES[label]).format(a=rng.choice(UNITS), b=rng.choice(UNITS), p=rng.choice(PLACES),
                                                   n=rng.randint(2, 41))
        examples.setdefault(text, label)
    if len(examples) < total:
        sys.exit(f"only {len(examples)} distinct texts; ask for fewer")
    os.makedirs(out_dir, exist_ok=True)
    items = list(examples.items())
    rng.shuffle(items)  # intents with few distinct texts run out first: spread them over both files alike
    for name, part in [("train", items[:train_count]), ("validation", items[train_count:])]:
        with open(os.path.join(out_dir, name + ".jsonl"), "w", encoding="utf-8") as f:
            for text, label in part:
                f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        counts = {label: sum(1 for _, l in part if l == label) for label in labels}
        print(f"{out_dir}/{name}.jsonl: {len(part)} examples {counts}")


def named(arg):
    name, sep, path = arg.partition("=")
    return (name, path) if sep else (arg, arg)


def curve(reference_arg, other_arg, max_diff=0.02):
    runs = []
    for name, path in map(named, [reference_arg, other_arg]):
        with open(path, encoding="utf-8") as f:
            runs.append((name, json.load(f)["curve"]))
    (name_a, a), (name_b, b) = runs
    steps_a, steps_b = [p["step"] for p in a], [p["step"] for p in b]
    if steps_a != steps_b:
        print(f"not the same evaluations: {name_a} at steps {steps_a}, {name_b} at {steps_b}")
        sys.exit(2)
    print(f"{'step':>6s} {'F1 ' + name_a:>20s} {'F1 ' + name_b:>20s} {'dF1':>8s} {'val loss ' + name_a:>22s} "
          f"{'val loss ' + name_b:>22s}")
    worst = 0.0
    for p, q in zip(a, b):
        d = q["macro_f1"] - p["macro_f1"]
        worst = max(worst, abs(d))
        print(f"{p['step']:6d} {p['macro_f1']:20.4f} {q['macro_f1']:20.4f} {d:+8.4f} {p['validation_loss']:22.4f} "
              f"{q['validation_loss']:22.4f}")
    print(f"max |dF1| {worst:.4f} over {len(a)} evaluations (limit {max_diff})")
    sys.exit(1 if worst > max_diff else 0)


def peft_check(model_dir, adapter_dir, max_dp, named_files):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    from bf16_fidelity import class_probabilities, print_comparison, read_lines
    device = "cuda" if torch.cuda.is_available() else "cpu"
    runs = [(name, read_lines(path)) for name, path in map(named, named_files)]
    lines = runs[0][1]
    for name, other in runs[1:]:
        if [l["ids"] for l in other] != [l["ids"] for l in lines]:
            sys.exit(f"{name}: not the same texts and ids as {runs[0][0]}")

    def run(dtype, adapter):
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa")
        if adapter:
            # The transformers model with PEFT's LoRA layers in it: what PeftModel's forward runs.
            model = PeftModel.from_pretrained(model, adapter_dir).get_base_model()
        return class_probabilities(model.to(device).eval(), lines, device)

    print(f"model {model_dir}, adapter {adapter_dir}, {len(lines)} texts, {len(lines[0]['class_token_ids'])} classes, "
          f"on {device}")
    reference = run(torch.float32, True)
    rows = [(n, torch.tensor([l["probabilities"] for l in o], dtype=torch.float64)) for n, o in runs]
    rows += [("transformers + PEFT bfloat16", run(torch.bfloat16, True)),
             ("transformers float32, no adapter", run(torch.float32, False))]
    results = print_comparison("transformers + PEFT float32", reference, rows)
    worst = max(results[name]["max_dp"] for name, _ in runs)
    print(f"project files' max |dp| {worst:.2e} (limit {max_dp})")
    sys.exit(1 if worst > max_dp else 0)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) in (4, 5) and args[0] == "data":
        data(args[1], int(args[2]), int(args[3]), *map(int, args[4:]))
    elif len(args) in (3, 4) and args[0] == "curve":
        curve(args[1], args[2], *map(float, args[3:]))
    elif len(args) >= 5 and args[0] == "peft":
        peft_check(args[1], args[2], float(args[3]), args[4:])
    else:
        sys.exit(__doc__)
