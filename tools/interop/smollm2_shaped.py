#!/usr/bin/env python3
"""A model directory shaped like HuggingFaceTB/SmolLM2-135M-Instruct, with
random weights: what a user gets from `huggingface-cli download`, without
the download (this machine has no network).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch==2.13.0+cpu transformers==5.25.0 tokenizers safetensors
    apt-get install -y fortunes        # the tokenizer's training text (Debian package)
    /tmp/venv/bin/python tools/interop/smollm2_shaped.py OUT_DIR

OUT_DIR gets what the real repository holds, written by transformers:
config.json (LlamaForCausalLM: hidden 576, 30 layers, 9 heads, 3 kv heads,
head_dim 64, intermediate 1536, vocab 49152, rope_theta 100000, tied, bf16),
generation_config.json, model.safetensors (bfloat16, 135M parameters, seeded
random weights), tokenizer.json (a GPT-2-style byte-level BPE trained with
`tokenizers` on Debian's fortunes, with SmolLM2's specials <|endoftext|>,
<|im_start|>, <|im_end|> at ids 0, 1, 2), tokenizer_config.json and SmolLM2's
chat template (the smollm2 family fixture's, tools/interop/family_fixtures.py).
"""
import os
import sys

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import family_fixtures  # noqa: E402  (the corpus and SmolLM2's specials and template)

VOCAB = 49152


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    spec = family_fixtures.FAMILIES["smollm2"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=2, special_tokens=spec["specials"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(family_fixtures.corpus().split("\n"), trainer)
    template = family_fixtures.template(spec["template"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=spec["bos"], eos_token=spec["eos"],
                                   pad_token=spec["pad"], chat_template=template)
    fast.save_pretrained(out)
    ids = {k: tok.token_to_id(spec[k]) for k in ("bos", "eos", "pad")}
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, head_dim=64, max_position_embeddings=8192,
                         rope_theta=100000.0, rms_norm_eps=1e-5, initializer_range=0.041666666666666664,
                         tie_word_embeddings=True, bos_token_id=ids["bos"], eos_token_id=ids["eos"],
                         pad_token_id=ids["pad"])
    torch.manual_seed(135)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    n = sum(p.numel() for p in model.parameters())
    print(f"{out}: LlamaForCausalLM, {n / 1e6:.1f}M parameters (bf16), tokenizer vocabulary {tok.get_vocab_size()}")


if __name__ == "__main__":
    main()
