"""Builds the tiny random models and the reference outputs that the Java parity tests match.

Run on a machine with torch, transformers and safetensors (no network needed):

    python tools/make_parity_fixtures.py

It writes, under src/test/resources/:
  models/{qwen3-tiny,qwen2-tiny,llama-tiny}/  config.json + model.safetensors (BF16 on disk), saved by
      save_pretrained; all three share the real Qwen3 tokenizer kept in models/qwen3-tiny/.
  fixtures/parity.json  for every (model, task, text): the prompt rendered by the tokenizer's chat
      template, its token ids, the class token ids, and the class logits, probabilities and label mass
      that transformers computes in float32 from the BF16 weights.
"""
import json
import math
import os
import sys

import torch
import transformers
import yaml
from transformers import (AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RES = os.path.join(ROOT, "src", "test", "resources")
TOKENIZER_DIR = os.path.join(RES, "models", "qwen3-tiny")
VOCAB = 151936
V5 = int(transformers.__version__.split(".")[0]) >= 5


def rope_kwargs(theta, scaling=None):
    """transformers 5 keeps rope settings in `rope_parameters`, 4.x in `rope_theta` + `rope_scaling`."""
    if V5:
        params = {"rope_type": "default", "rope_theta": theta}
        if scaling:
            params.update(scaling)
        return {"rope_parameters": params}
    return {"rope_theta": theta, "rope_scaling": scaling}


MODELS = {
    # head_dim (16) != hidden / heads (8): q_proj is 64 wide, as in the real Qwen3 (2048 vs 1024).
    "qwen3-tiny": (Qwen3ForCausalLM, Qwen3Config(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=4096, rms_norm_eps=1e-6,
        tie_word_embeddings=True, bos_token_id=151643, eos_token_id=151645, **rope_kwargs(1000000.0))),
    # q/k/v biases, no q/k norms.
    "qwen2-tiny": (Qwen2ForCausalLM, Qwen2Config(
        vocab_size=VOCAB, hidden_size=16, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=4096, rms_norm_eps=1e-6, tie_word_embeddings=True,
        bos_token_id=151643, eos_token_id=151645, **rope_kwargs(1000000.0))),
    # Llama 3.1 rope scaling, untied lm_head.
    "llama-tiny": (LlamaForCausalLM, LlamaConfig(
        vocab_size=VOCAB, hidden_size=16, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=False,
        bos_token_id=151643, eos_token_id=151645,
        **rope_kwargs(500000.0, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}))),
}

TASKS = ["radr-intents", "emotion", "radr-intents-letters"]

TEXTS = [
    "Ist negativ, noch nicht.",
    "Für Sie Erkundungsauftrag: Gesamtüberblick über die Einsatzstelle. Kommen.",
    "Ich verlasse das Erdgeschoss und gehe ins erste Obergeschoss.",
    "RobLW an Zugführer, kommen.",
    "Ja, hier ist Zugführer, kommen.",
    "i feel like i am still looking at a blank canvas blank pieces of paper",
    "im feeling so happy today 😊🎉 best day ever!",
    "Zugführer\tan\tRobLW,\tkommen.",
    "3 Personen im 2. OG — „dringend“ <b>bitte</b> & sofort!",
]


def init_weights(model, seed):
    """Noticeably non-uniform weights: a model at init would give near-uniform probabilities."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name or "lm_head" in name:
                p.copy_(0.35 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]) * 1.5)


def load_task(name):
    with open(os.path.join(ROOT, "tasks", name + ".yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def class_token_ids(tokenizer, task):
    if task.get("label_tokens", "first_token") == "letters":
        names = [chr(ord("A") + i) for i in range(len(task["labels"]))]
    else:
        names = task["labels"]
    return [tokenizer.encode(n, add_special_tokens=False)[0] for n in names]


def render(tokenizer, task, text):
    content = task["prompt"].replace("{text}", text)
    if task.get("chat_template", True):
        return tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                             add_generation_prompt=True, enable_thinking=False), False
    return content, True


def main():
    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    cases = []
    for seed, (name, (cls, config)) in enumerate(MODELS.items()):
        out_dir = os.path.join(RES, "models", name)
        torch.manual_seed(seed)
        model = cls(config)
        init_weights(model, 1000 + seed)
        model.to(torch.bfloat16).save_pretrained(out_dir)
        # Reload from disk in float32, as a user would, so the reference sees exactly the BF16 weights.
        model = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32, attn_implementation="eager")
        model.eval()
        print(name, json.load(open(os.path.join(out_dir, "config.json"))), file=sys.stderr)
        for task_name in TASKS:
            task = load_task(task_name)
            ids = class_token_ids(tokenizer, task)
            for text in TEXTS:
                prompt, special = render(tokenizer, task, text)
                input_ids = tokenizer.encode(prompt, add_special_tokens=special)
                with torch.no_grad():
                    logits = model(torch.tensor([input_ids])).logits[0, -1].double()
                class_logits = logits[ids]
                probs = torch.softmax(class_logits, dim=0)
                label_mass = torch.softmax(logits, dim=0)[ids].sum()
                cases.append({
                    "model": name, "task": task_name, "text": text, "prompt": prompt, "input_ids": input_ids,
                    "class_token_ids": ids, "logits": class_logits.tolist(), "probabilities": probs.tolist(),
                    "label_mass": label_mass.item(),
                })
    os.makedirs(os.path.join(RES, "fixtures"), exist_ok=True)
    with open(os.path.join(RES, "fixtures", "parity.json"), "w", encoding="utf-8") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "cases": cases}, f,
                  ensure_ascii=False, indent=1)
    spread = [max(c["probabilities"]) for c in cases]
    print(f"{len(cases)} cases; top probability min {min(spread):.3f} max {max(spread):.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
