#!/usr/bin/env python3
"""Small random-weight models of the Llama-family architectures people
fine-tune, each with a tokenizer of its family's kind and a chat template,
and what transformers and tokenizers make of them (issue 24's fixtures).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch==2.13.0+cpu transformers tokenizers safetensors
    apt-get install -y fortunes        # the training text for the tokenizers (Debian package)
    /tmp/venv/bin/python tools/interop/family_fixtures.py [OUT_DIR]   # default: golden/hf/families

For each family it writes OUT_DIR/FAMILY/:
  config.json, generation_config.json, model.safetensors   save_pretrained of a seeded random model
  tokenizer.json, tokenizer_config.json                     a BPE trained with `tokenizers` on fortunes:
                                                            byte-level with the family's split pattern
                                                            (llama3, qwen2, qwen3, smollm2), or
                                                            SentencePiece-style with byte fallback and
                                                            Metaspace (mistral); special tokens; chat template
  expected-ids.json        ids of fixed strings (English, code, digits, CJK, emoji) and decode(encode(x))
  expected-chat.json       apply_chat_template of fixed conversations, with and without a
                           system message and the generation prompt
  expected-logits.safetensors  the model's logits (float32) on the ids of a fixed text

Families: llama3 (rope_scaling llama3, explicit head_dim, tied), qwen2 (q/k/v
bias, tied), qwen3 (q/k RMSNorm, head_dim != hidden / heads), mistral
(sliding window, untied), smollm2 (Llama with a GPT-2-style tokenizer).
Simply's Swift tests are to read these files; Python is not needed to run them.
Status: the fixtures exist; Simply does not yet import these families (issue 24).
"""
import glob
import json
import os
import sys

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

# Chat templates in the style of each family's published one (written here, not downloaded).
LLAMA3_TEMPLATE = ("{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
                   "{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
                   "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
CHATML_TEMPLATE = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                   "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
                   "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
                   "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
MISTRAL_TEMPLATE = ("{{ bos_token }}{% set system = '' %}{% if messages[0]['role'] == 'system' %}"
                    "{% set system = messages[0]['content'] + '\n\n' %}{% set messages = messages[1:] %}{% endif %}"
                    "{% for message in messages %}{% if message['role'] == 'user' %}"
                    "[INST] {% if loop.first %}{{ system }}{% endif %}{{ message['content'] }} [/INST]"
                    "{% elif message['role'] == 'assistant' %}{{ message['content'] }}{{ eos_token }}{% endif %}{% endfor %}")

FAMILIES = {
    "llama3": dict(split=LLAMA3_SPLIT, ignore_merges=True, specials=["<|begin_of_text|>", "<|end_of_text|>",
                   "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], bos="<|begin_of_text|>",
                   eos="<|eot_id|>", pad=None, template=LLAMA3_TEMPLATE),
    "qwen2": dict(split=QWEN2_SPLIT, ignore_merges=False, specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                  bos=None, eos="<|im_end|>", pad="<|endoftext|>", template=CHATML_TEMPLATE),
    "qwen3": dict(split=QWEN2_SPLIT, ignore_merges=False, specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                  bos=None, eos="<|im_end|>", pad="<|endoftext|>", template=CHATML_TEMPLATE),
    "mistral": dict(sentencepiece=True, ignore_merges=False, specials=["<unk>", "<s>", "</s>"], bos="<s>", eos="</s>",
                    pad=None, template=MISTRAL_TEMPLATE),
    "smollm2": dict(split=None, ignore_merges=False, specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                    bos="<|im_start|>", eos="<|im_end|>", pad="<|endoftext|>", template=CHATML_TEMPLATE),
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
]


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
                                       pad_token=spec["pad"], chat_template=spec["template"])
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
        for conv in CONVERSATIONS:
            for gen in (False, True):
                if name == "mistral" and gen:
                    continue   # its template has no generation prompt: the [/INST] is the prompt
                chats.append({"messages": conv, "add_generation_prompt": gen,
                              "text": fast.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)})
        with open(os.path.join(out, "expected-chat.json"), "w") as h:
            json.dump(chats, h, ensure_ascii=False, indent=1, sort_keys=True)
        probe = tok.encode(TEST_STRINGS[0] + " " + TEST_STRINGS[5], add_special_tokens=False).ids
        with torch.no_grad():
            logits = model(torch.tensor([probe])).logits[0].float().contiguous()
        save_file({"ids": torch.tensor(probe, dtype=torch.int64), "logits": logits},
                  os.path.join(out, "expected-logits.safetensors"), metadata={"transformers": __import__("transformers").__version__})
        print(f"{name}: vocab {tok.get_vocab_size()}, {sum(p.numel() for p in model.parameters())} parameters, "
              f"{len(probe)} probe ids -> {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
