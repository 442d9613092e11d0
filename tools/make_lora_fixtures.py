"""Reference outputs of PEFT LoRA on the tiny Qwen3 model, for the Java LoRA parity tests.

    python tools/make_lora_fixtures.py            # adapters + forward and one-step fixtures
    python tools/make_lora_fixtures.py --check DIR   # load an adapter written by Java, print its probabilities

Writes under src/test/resources/:
  adapters/peft-r8/        PEFT adapter (r=8, alpha=16, all seven projections, random non-zero B)
  adapters/peft-rslora/    PEFT adapter (r=4, alpha=8, rslora, q_proj and v_proj only)
  adapters/step-init/      the initial adapter of the one-step test (non-zero A and B)
  fixtures/lora.json       probabilities with each adapter; the LoRA tensors after ONE AdamW step
"""
import json
import math
import os
import sys

import torch
import yaml
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RES = os.path.join(ROOT, "src", "test", "resources")
BASE = os.path.join(RES, "models", "qwen3-tiny")
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# (text, label index) from the radr examples of the seed article.
BATCH = [
    ("Ist negativ, noch nicht.", 0),
    ("Für Sie Erkundungsauftrag: Gesamtüberblick über die Einsatzstelle. Kommen.", 1),
    ("Ich verlasse das Erdgeschoss und gehe ins erste Obergeschoss.", 2),
    ("Frage: Erkundungsergebnis aus der östlichen Seite des Gebäudes, kommen.", 3),
    ("RobLW an Zugführer, kommen.", 4),
    ("Ja, hier ist Zugführer, kommen.", 5),
    ("Einen Augenblick, ich melde mich gleich.", 6),
    ("Ein Lagebild von oben, komplette Lage, und ein Lagebild zwischen den beiden Türen, verstanden.", 7),
]
LR = 1e-2  # large enough that one step moves every tensor far more than the 1e-4 tolerance


def task():
    with open(os.path.join(ROOT, "tasks", "radr-intents.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def encode(tokenizer, t, text):
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": t["prompt"].replace("{text}", text)}],
                                           tokenize=False, add_generation_prompt=True, enable_thinking=False)
    return tokenizer.encode(prompt, add_special_tokens=False)


def class_logits(model, tokenizer, t):
    ids = [tokenizer.encode(l, add_special_tokens=False)[0] for l in t["labels"]]
    rows = []
    for text, _ in BATCH:
        out = model(torch.tensor([encode(tokenizer, t, text)])).logits[0, -1]
        rows.append(out[ids])
    return torch.stack(rows)



def save_adapter(model, name):
    """save_pretrained records the base model's path as given; the fixture names it relative to the repository."""
    directory = os.path.join(RES, "adapters", name)
    model.save_pretrained(directory)
    config_path = os.path.join(directory, "adapter_config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["base_model_name_or_path"] = os.path.relpath(BASE, ROOT)
    with open(config_path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def base_model():
    m = AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32, attn_implementation="eager")
    m.eval()
    return m


def randomize(model, seed, scale_a=None, scale_b=0.2):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(scale_b * torch.randn(p.shape, generator=g))
            elif "lora_A" in name and scale_a is not None:
                p.copy_(scale_a * torch.randn(p.shape, generator=g))


def lora_tensors(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def peft_key(name):
    # Parameter names carry the adapter name ("lora_A.default.weight"); saved files drop it.
    return name.replace(".default", "")


def main():
    tokenizer = AutoTokenizer.from_pretrained(BASE)
    t = task()
    out = {"labels": t["labels"], "texts": [x for x, _ in BATCH], "targets": [y for _, y in BATCH]}
    torch.manual_seed(0)

    out["base_probabilities"] = torch.softmax(class_logits(base_model(), tokenizer, t), -1).tolist()
    for name, config, seed in [
        ("peft-r8", LoraConfig(r=8, lora_alpha=16, target_modules=ALL, lora_dropout=0.05), 1),
        ("peft-rslora", LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0,
                                   use_rslora=True), 2),
    ]:
        model = get_peft_model(base_model(), config)
        randomize(model, seed)
        model.eval()
        save_adapter(model, name)
        with torch.no_grad():
            out[name] = torch.softmax(class_logits(model, tokenizer, t), -1).tolist()

    # One optimizer step from a fixed initialisation, dropout 0, the article's optimizer and clipping.
    model = get_peft_model(base_model(), LoraConfig(r=8, lora_alpha=16, target_modules=ALL, lora_dropout=0.0))
    randomize(model, 3, scale_a=0.3, scale_b=0.3)
    save_adapter(model, "step-init")
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    logits = class_logits(model, tokenizer, t)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([y for _, y in BATCH]))
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    out["step"] = {"lr": LR, "loss": loss.item(), "grad_norm": grad_norm.item(),
                   "after": {peft_key(n): v.flatten().tolist() for n, v in lora_tensors(model).items()}}
    with open(os.path.join(RES, "fixtures", "lora.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print("loss", loss.item(), "grad_norm", grad_norm.item(), file=sys.stderr)


def check(adapter_dir):
    """Loads an adapter written elsewhere into PEFT and prints the class probabilities on the batch."""
    tokenizer = AutoTokenizer.from_pretrained(BASE)
    model = PeftModel.from_pretrained(base_model(), adapter_dir)
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(class_logits(model, tokenizer, task()), -1).tolist()
    print(json.dumps({"adapter": os.path.basename(adapter_dir.rstrip("/")), "probabilities": probs}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        main()
