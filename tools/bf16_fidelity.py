"""bfloat16 fidelity: this project's class probabilities against transformers' float32 and bfloat16, on the same
token ids of the same model.

  python3 tools/bf16_fidelity.py scale-norm MODEL_DIR OUT_DIR 6
      a copy of MODEL_DIR whose final norm's weight is multiplied by 6 (label logits as wide as a trained
      model's; the random model's are narrow)
  python3 tools/bf16_fidelity.py compare MODEL_DIR TASK_FILE NAME=PROJECT.jsonl [NAME=PROJECT.jsonl ...]
      transformers' float32 and bfloat16 probabilities for the ids in the first PROJECT.jsonl (every file must
      hold the same texts: `bench --probabilities` writes them), then max |dp|, mean |dp| and top-class agreement
      of each project file and of transformers' bfloat16, all against transformers' float32
  python3 tools/bf16_fidelity.py diff REFERENCE.jsonl NAME=PROJECT.jsonl [...]
      the same figures against another project file (the project in float32, say), without transformers

Probabilities are the softmax over the class tokens' logits at the last position, the prompt rendered through the
model's chat template with thinking off, as the project does; `compare` renders each text itself from TASK_FILE
and says how many renderings and token ids agree with the project's. Runs on the GPU when there is one.
"""
import json
import os
import shutil
import sys


def scale_norm(src, dst, factor):
    from safetensors.torch import load_file, save_file
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        if name != "model.safetensors" and os.path.isfile(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))
    tensors = load_file(os.path.join(src, "model.safetensors"))
    norm = tensors["model.norm.weight"]
    tensors["model.norm.weight"] = (norm.float() * float(factor)).to(norm.dtype)
    save_file(tensors, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
    print(f"{dst}: model.norm.weight x {factor}")


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def rendering_check(model_dir, task_file, lines):
    """How many of the project's renderings and token ids transformers' tokenizer reproduces."""
    import yaml
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir)
    with open(task_file, encoding="utf-8") as f:
        prompt = yaml.safe_load(f)["prompt"]
    same_text = same_ids = 0
    for line in lines:
        rendered = tok.apply_chat_template([{"role": "user", "content": prompt.replace("{text}", line["text"])}],
                                           tokenize=False, add_generation_prompt=True, enable_thinking=False)
        same_text += rendered == line["rendered"]
        same_ids += tok(line["rendered"], add_special_tokens=False)["input_ids"] == line["ids"]
    print(f"rendering: {same_text}/{len(lines)} prompts and {same_ids}/{len(lines)} token id lists as the project's")


def probabilities(model_dir, lines, dtype, device, batch=64):
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa")
    out = class_probabilities(model.to(device).eval(), lines, device, batch)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return out


def class_probabilities(model, lines, device, batch=64):
    """The class probabilities of a transformers causal LM, on `device` in eval mode, for the lines' ids."""
    import torch
    classes = torch.tensor(lines[0]["class_token_ids"], device=device)
    out = []
    with torch.no_grad():
        for start in range(0, len(lines), batch):
            chunk = [line["ids"] for line in lines[start:start + batch]]
            width = max(map(len, chunk))
            ids = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros(len(chunk), width, dtype=torch.long)
            for i, x in enumerate(chunk):
                ids[i, :len(x)] = torch.tensor(x)
                mask[i, :len(x)] = 1
            ids, mask = ids.to(device), mask.to(device)
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            last = hidden[torch.arange(len(chunk), device=device), mask.sum(1) - 1]
            logits = model.lm_head(last)[:, classes]  # in the model's dtype, as transformers computes them
            out.append(torch.softmax(logits.float(), -1).cpu().double())
    return torch.cat(out)


def compare_to(reference, other):
    dp = (other - reference).abs()
    agree = (other.argmax(-1) == reference.argmax(-1)).double().mean().item()
    return dp.max().item(), dp.mean().item(), agree


def print_comparison(reference_name, reference, rows):
    """Prints max |dp|, mean |dp| and top-class agreement of each (name, probabilities) against the reference, then
    the same as one JSON line; returns them by name."""
    print(f"{'against ' + reference_name:40s} {'max |dp|':>10s} {'mean |dp|':>10s} {'top class agrees':>17s}")
    results = {}
    for name, p in rows:
        mx, mean, agree = compare_to(reference, p)
        results[name] = {"max_dp": mx, "mean_dp": mean, "top_class_agreement": agree}
        print(f"{name:40s} {mx:10.2e} {mean:10.2e} {100 * agree:16.1f}%")
    print(json.dumps(results))
    return results


def compare(model_dir, task_file, named_files):
    import torch
    device = "cuda" if torch.cuda.is_available() else "cpu"
    runs = []
    for arg in named_files:
        name, _, path = arg.partition("=")
        runs.append((name, read_lines(path)))
    lines = runs[0][1]
    for name, other in runs[1:]:
        if [l["ids"] for l in other] != [l["ids"] for l in lines]:
            sys.exit(f"{name}: not the same texts and ids as {runs[0][0]}")
    print(f"model {model_dir}, {len(lines)} texts, {len(lines[0]['class_token_ids'])} classes, on {device}")
    try:
        rendering_check(model_dir, task_file, lines)
    except Exception as e:  # the comparison runs on the project's ids either way
        print(f"rendering: not checked ({type(e).__name__}: {e})")
    fp32 = probabilities(model_dir, lines, torch.float32, device)
    bf16 = probabilities(model_dir, lines, torch.bfloat16, device)
    rows = [("transformers bfloat16", bf16)] + [(n, torch.tensor([l["probabilities"] for l in o], dtype=torch.float64))
                                              for n, o in runs]
    print_comparison("transformers float32", fp32, rows)


def diff(reference_file, named_files):
    """Max |dp|, mean |dp| and top-class agreement of project files against a project reference, in plain Python."""
    reference = [line["probabilities"] for line in read_lines(reference_file)]
    top = lambda p: max(range(len(p)), key=p.__getitem__)
    print(f"{'against ' + reference_file:40s} {'max |dp|':>10s} {'mean |dp|':>10s} {'top class agrees':>17s}")
    for arg in named_files:
        name, _, path = arg.partition("=")
        other = [line["probabilities"] for line in read_lines(path)]
        if len(other) != len(reference):
            sys.exit(f"{name}: {len(other)} texts, the reference has {len(reference)}")
        dp = [abs(a - b) for r, o in zip(reference, other) for a, b in zip(r, o)]
        agree = sum(top(r) == top(o) for r, o in zip(reference, other)) / len(reference)
        print(f"{name:40s} {max(dp):10.2e} {sum(dp) / len(dp):10.2e} {100 * agree:16.1f}%")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "scale-norm":
        scale_norm(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 5 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "diff":
        diff(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
