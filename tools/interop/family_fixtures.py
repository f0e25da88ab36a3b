#!/usr/bin/env python3
"""Small random-weight models of the Llama-family architectures people
fine-tune, each with a tokenizer of its family's kind and the chat template
its real model publishes, and what transformers and tokenizers make of them
(issue 24's fixtures).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch==2.13.0+cpu transformers tokenizers safetensors jinja2
    apt-get install -y fortunes        # the training text for the tokenizers (Debian package)
    /tmp/venv/bin/python tools/interop/family_fixtures.py [OUT_DIR]   # default: golden/hf/families

For each family it writes OUT_DIR/FAMILY/:
  config.json, generation_config.json, model.safetensors   save_pretrained of a seeded random model
  tokenizer.json, tokenizer_config.json                     a BPE trained with `tokenizers` on fortunes:
                                                            byte-level with the family's split pattern
                                                            (llama3, qwen2, qwen3, smollm2), or
                                                            SentencePiece-style with byte fallback and
                                                            Metaspace (mistral); special tokens
  chat_template.jinja      the family's published template, verbatim (tools/interop/chat_templates/):
                           Llama 3.2 Instruct, Qwen2.5 Instruct, Qwen3, Mistral 7B Instruct v0.3,
                           SmolLM2 Instruct
  expected-ids.json        ids of fixed strings (English, code, digits, CJK, emoji) and decode(encode(x))
  expected-chat.json       apply_chat_template(tokenize=False) of fixed conversations: {messages,
                           add_generation_prompt, kwargs, text}, or `error` (the template's
                           raise_exception text) instead of text. Single and multi-turn, with and
                           without a system message and the generation prompt, ending in an
                           assistant turn, surrounding whitespace, non-ASCII and template-like
                           text; tools and tool calls where the template has them; Qwen3's
                           enable_thinking and <think> content; Mistral's role-order errors.
                           Llama's renders pass date_string, so strftime_now (the clock) is never
                           called. Keys keep the order the template saw.
  expected-logits.safetensors  the model's logits (float32) on the ids of a fixed text

Families: llama3 (rope_scaling llama3, explicit head_dim, tied), qwen2 (q/k/v
bias, tied), qwen3 (q/k RMSNorm, head_dim != hidden / heads), mistral
(sliding window, untied), smollm2 (Llama with a GPT-2-style tokenizer).
Simply's Swift tests read these files; Python is not needed to run them.
Status: Simply renders these chat templates exactly (Sources/SimplyData/Chat,
Tests/SimplyDataTests/ChatTemplateFamilyTests.swift); it does not yet import
the models or tokenizers (issue 24).
"""
import glob
import json
import os
import sys

import jinja2
import torch
from safetensors.torch import save_file
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast,
                          Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                          "golden", "hf", "families")
VOCAB = 1024

# Split patterns as the families' tokenizer.json files state them.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# Each family's chat template as the real model publishes it (the tokenizer_config.json
# "chat_template" of meta-llama/Llama-3.2-3B-Instruct, Qwen/Qwen2.5-7B-Instruct, Qwen/Qwen3-0.6B,
# mistralai/Mistral-7B-Instruct-v0.3 and HuggingFaceTB/SmolLM2-1.7B-Instruct), verbatim in chat_templates/.
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chat_templates")


def template(name):
    with open(os.path.join(TEMPLATES, name), encoding="utf-8", newline="") as h:
        return h.read()


FAMILIES = {
    "llama3": dict(split=LLAMA3_SPLIT, ignore_merges=True, specials=["<|begin_of_text|>", "<|end_of_text|>",
                   "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], bos="<|begin_of_text|>",
                   eos="<|eot_id|>", pad=None, template="Llama-3.2-Instruct.jinja"),
    "qwen2": dict(split=QWEN2_SPLIT, ignore_merges=False, specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                  bos=None, eos="<|im_end|>", pad="<|endoftext|>", template="Qwen2.5-Instruct.jinja"),
    "qwen3": dict(split=QWEN2_SPLIT, ignore_merges=False, specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                  bos=None, eos="<|im_end|>", pad="<|endoftext|>", template="Qwen3.jinja"),
    "mistral": dict(sentencepiece=True, ignore_merges=False, specials=["<unk>", "<s>", "</s>"], bos="<s>", eos="</s>",
                    pad=None, template="Mistral-7B-Instruct-v0.3.jinja"),
    "smollm2": dict(split=None, ignore_merges=False, specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                    bos="<|im_start|>", eos="<|im_end|>", pad="<|endoftext|>", template="SmolLM2-Instruct.jinja"),
}

TEST_STRINGS = [
    "Hello, world! It's 2026-12-04 and we've got 1234567 tokens.",
    "def f(x):\n    return x ** 2  # square\n\n\tprint(f(12))",
    "  leading spaces, trailing spaces   ",
    "数字 12345 和中文混合。日本語のテキストも。",
    "emoji 🙂👍🏽 and accents: café naïve Ångström",
    "What is 23 + 58?",
]
CONVERSATIONS = [
    [{"role": "user", "content": "What is 23 + 58?"}],
    [{"role": "system", "content": "Answer with a number."}, {"role": "user", "content": "What is 2 + 2?"},
     {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3 + 3?"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}],
    # Leading/trailing spaces and newlines (some templates trim them, some keep them).
    [{"role": "system", "content": "  Be brief.\n"}, {"role": "user", "content": "\n  Two lines:\n  a\n  b  \n\n"},
     {"role": "assistant", "content": " \tOK:\n- a\n- b\n "}, {"role": "user", "content": "Thanks "}],
    # Non-ASCII, quotes, backslashes, braces and template-looking text (must not be evaluated).
    [{"role": "user", "content": "Ça va ? 数字 12345 和中文。🙂👍🏽 naïve «x» \"q\" 'a' \\ {{ 1 + 1 }} {% if %}"},
     {"role": "assistant", "content": "Très bien — 谢谢! \u00e9\u0301 {x}"}],
    # Longer multi-turn, no system message.
    [{"role": "user", "content": "Count to 2."}, {"role": "assistant", "content": "1, 2"},
     {"role": "user", "content": "Now to 3."}, {"role": "assistant", "content": "1, 2, 3"},
     {"role": "user", "content": "And back."}],
]
# Tool use (passed as `tools=`), a tool call and its result, for the templates that have them.
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city, °C.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "e.g. Zürich"},
                                                          "days": {"type": "integer"}},
                         "required": ["city"]}}}]
TOOL_CONVERSATION = [
    {"role": "user", "content": "Weather in Zürich for 2 days?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call00001", "type": "function", "function": {
        "name": "get_weather", "arguments": {"city": "Zürich", "days": 2, "metric": True, "scale": 1.5, "note": None}}}]},
    {"role": "tool", "tool_call_id": "call00001", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"},
    {"role": "assistant", "content": "21.5 °C and clear."},
]
# Per family: keyword arguments every render gets, and extra (messages, kwargs) cases.
# Llama 3.2's template calls strftime_now (the wall clock) unless date_string is given.
FAMILY_KWARGS = {"llama3": {"date_string": "04 Dec 2026"}}
FAMILY_EXTRAS = {
    "llama3": [(TOOL_CONVERSATION[:1], {"tools": TOOLS}),
               (TOOL_CONVERSATION[:1], {"tools": TOOLS, "tools_in_user_message": False}),
               (TOOL_CONVERSATION[:2] + [{"role": "ipython", "content": "sunny"}], {"tools": TOOLS})],
    "qwen2": [(TOOL_CONVERSATION, {"tools": TOOLS})],
    "qwen3": [(TOOL_CONVERSATION, {"tools": TOOLS}),
              (CONVERSATIONS[1], {"enable_thinking": False}),
              (CONVERSATIONS[0], {"enable_thinking": True}),
              ([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nEasy.\n</think>\n\n4"},
                {"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "<think>\n\nAdd.\n\n</think>\n\n\n6"}], {}),
              ([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4", "reasoning_content": "Two and two."},
                {"role": "user", "content": "Sure?"}, {"role": "assistant", "content": "<think>Yes.</think>Yes, 4."}], {}),
              ([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
                {"role": "user", "content": "<tool_response>x</tool_response>"}, {"role": "assistant", "content": "ok"}], {})],
    "mistral": [(TOOL_CONVERSATION, {"tools": TOOLS}),
                # Roles that do not alternate: the template raises.
                ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], {}),
                ([{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}], {})],
    "smollm2": [],
}


def corpus():
    files = sorted(f for f in glob.glob("/usr/share/games/fortunes/*") if not f.endswith((".dat", ".u8")) and os.path.isfile(f))
    if not files:
        sys.exit("no fortunes: apt-get install -y fortunes")
    text = []
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as h:
            text.append(h.read())
    return "\n".join(text)


def train_sentencepiece(spec, text):
    """SentencePiece-style BPE as Llama 2 / Mistral publish it: Metaspace ("▁"
    for spaces, prepended to the first word), byte fallback to <0x00>…<0xFF>
    (ids 3–258, after <unk> <s> </s>), decoded by Replace + ByteFallback + Fuse + Strip."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - 256, min_frequency=2, special_tokens=spec["specials"],
                                  show_progress=False)
    tok.train_from_iterator(text.split("\n"), trainer)
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    n = len(spec["specials"])
    shifted = {t: (i if i < n else i + 256) for t, i in vocab.items()}
    for b in range(256):
        shifted[f"<0x{b:02X}>"] = n + b
    j["model"]["vocab"] = shifted
    j["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    return Tokenizer.from_str(json.dumps(j))


def train_tokenizer(spec, text):
    if spec.get("sentencepiece"):
        return train_sentencepiece(spec, text)
    tok = Tokenizer(models.BPE(ignore_merges=spec["ignore_merges"]))
    if spec["split"]:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(spec["split"]), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:   # GPT-2's own byte-level pattern
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=2, special_tokens=spec["specials"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(text.split("\n"), trainer)
    return tok


def model_for(name, vocab, bos_id, eos_id, pad_id):
    common = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0,
                  bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id)
    if name == "llama3":
        c = LlamaConfig(**common, head_dim=32, tie_word_embeddings=True,
                        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 64})
        return LlamaForCausalLM(c)
    if name == "qwen2":
        return Qwen2ForCausalLM(Qwen2Config(**common, tie_word_embeddings=True))
    if name == "qwen3":
        return Qwen3ForCausalLM(Qwen3Config(**common, head_dim=32, tie_word_embeddings=True))
    if name == "mistral":
        return MistralForCausalLM(MistralConfig(**common, sliding_window=32, tie_word_embeddings=False))
    return LlamaForCausalLM(LlamaConfig(**common, tie_word_embeddings=True))


def main():
    text = corpus()
    for name, spec in FAMILIES.items():
        out = os.path.join(OUT, name)
        os.makedirs(out, exist_ok=True)
        tok = train_tokenizer(spec, text)
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=spec["bos"], eos_token=spec["eos"],
                                       pad_token=spec["pad"], chat_template=template(spec["template"]))
        fast.save_pretrained(out)
        ids = lambda t: None if t is None else tok.token_to_id(t)
        torch.manual_seed(sum(map(ord, name)))
        model = model_for(name, tok.get_vocab_size(), ids(spec["bos"]), ids(spec["eos"]), ids(spec["pad"]))
        # Larger weights than the default init, so the logits are far from uniform.
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if "norm" in pname:
                    p.uniform_(0.8, 1.2)
                elif p.dim() > 1:
                    p.normal_(0, 0.2)
                else:
                    p.normal_(0, 0.1)   # the q/k/v biases of Qwen2
        model.save_pretrained(out, safe_serialization=True)

        expected = []
        for s in TEST_STRINGS:
            e = tok.encode(s, add_special_tokens=False)
            expected.append({"text": s, "ids": e.ids, "decoded": tok.decode(e.ids, skip_special_tokens=False)})
        with open(os.path.join(out, "expected-ids.json"), "w") as h:
            json.dump(expected, h, ensure_ascii=False, indent=1, sort_keys=True)
        chats = []
        cases = [(conv, {}) for conv in CONVERSATIONS] + FAMILY_EXTRAS[name]
        for conv, extra in cases:
            kwargs = dict(FAMILY_KWARGS.get(name, {}), **extra)
            for gen in (False, True):
                if name == "mistral" and gen:
                    continue   # its template has no generation prompt: the [/INST] is the prompt
                case = {"messages": conv, "add_generation_prompt": gen, "kwargs": kwargs}
                try:
                    case["text"] = fast.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen, **kwargs)
                except jinja2.exceptions.TemplateError as e:   # raise_exception in the template
                    case["error"] = str(e)
                chats.append(case)
        # Keys in the order the template saw them (tojson and items() show that order).
        with open(os.path.join(out, "expected-chat.json"), "w") as h:
            json.dump(chats, h, ensure_ascii=False, indent=1)
        probe = tok.encode(TEST_STRINGS[0] + " " + TEST_STRINGS[5], add_special_tokens=False).ids
        with torch.no_grad():
            logits = model(torch.tensor([probe])).logits[0].float().contiguous()
        save_file({"ids": torch.tensor(probe, dtype=torch.int64), "logits": logits},
                  os.path.join(out, "expected-logits.safetensors"), metadata={"transformers": __import__("transformers").__version__})
        print(f"{name}: vocab {tok.get_vocab_size()}, {sum(p.numel() for p in model.parameters())} parameters, "
              f"{len(probe)} probe ids -> {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
