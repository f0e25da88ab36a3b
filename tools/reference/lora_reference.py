#!/usr/bin/env python3
"""PEFT LoRA reference for Simply's adapters, in float64.

For the qwen3 and mistral models of golden/hf/families (q/k norms and
head_dim != hidden / heads; a sliding window and an untied head), this wraps
the transformers model with `peft` (LoraConfig r=4, lora_alpha=8, all seven
linear targets, no dropout), sets every lora_A and lora_B to seeded random
values (float32-representable, so Simply starts from the same numbers; B is
not zero, so A's gradient is not zero either), runs forward and backward of
transformers' loss (labels = input_ids) on the fixture's probe ids, and
writes golden/lora/FAMILY.safetensors:

  <adapter name>        F32  lora_A / lora_B as PEFT saves them
                             (model.layers.N.self_attn.q_proj.lora_A.weight, ...)
  grad.<adapter name>   F64  d loss / d adapter
  ids                   I64  the probe ids
  logits                F32  [T, vocab]
  loss                  F64  [1]

It also writes golden/lora/qwen3-peft/, the adapter directory PEFT's
save_pretrained makes of qwen3's adapters (adapter_config.json,
adapter_model.safetensors). Tests/SimplyModelTests/LoRATests.swift compares
Simply's forward and backward with the tensors, and
Tests/SimplyExportTests/PEFTAdapterTests.swift reads PEFT's directory and
writes the same tensor names; the Swift tests need no Python. Regenerate with:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch==2.13.0+cpu transformers==5.25.0 peft safetensors
    /tmp/venv/bin/python tools/reference/lora_reference.py [OUT_DIR]   # default: golden/lora
"""
import json
import os
import sys

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
FAMILIES = os.path.join(HERE, "..", "..", "golden", "hf", "families")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "golden", "lora")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main():
    os.makedirs(OUT, exist_ok=True)
    for family in ["qwen3", "mistral"]:
        src = os.path.join(FAMILIES, family)
        ids = load_file(os.path.join(src, "expected-logits.safetensors"))["ids"]
        base = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float64, attn_implementation="eager")
        model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, lora_dropout=0.0, bias="none"))
        g = torch.Generator().manual_seed(sum(map(ord, family)))
        adapters = {}
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_" in name:
                    p.copy_((torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.2).float().double())
                    saved = name.removeprefix("base_model.model.").replace(".default.", ".")
                    adapters[saved] = p
        out = model(ids[None, :], labels=ids[None, :])
        out.loss.backward()
        tensors = {"ids": ids.clone(), "logits": out.logits[0].detach().float().contiguous(),
                   "loss": out.loss.detach().reshape(1)}
        for name, p in adapters.items():
            tensors[name] = p.detach().float().contiguous()
            tensors["grad." + name] = p.grad.detach().contiguous()
        save_file(tensors, os.path.join(OUT, f"{family}.safetensors"),
                  metadata={"rank": "4", "alpha": "8", "peft": __import__("peft").__version__,
                            "transformers": __import__("transformers").__version__})
        if family == "qwen3":
            # PEFT's own adapter directory of these adapters (float32, as PEFT saves a float32 model's).
            model.float()
            model.peft_config["default"].base_model_name_or_path = "golden/hf/families/qwen3"
            peft_dir = os.path.join(OUT, "qwen3-peft")
            model.save_pretrained(peft_dir)
            # Byte-reproducible: no model card, target_modules (a Python set) in sorted order.
            os.remove(os.path.join(peft_dir, "README.md"))
            path = os.path.join(peft_dir, "adapter_config.json")
            with open(path) as h:
                config = json.load(h)
            config["target_modules"] = sorted(config["target_modules"])
            with open(path, "w") as h:
                json.dump(config, h, indent=2, sort_keys=True)
                h.write("\n")
        print(f"{family}: loss {out.loss.item():.6f}, {len(adapters)} adapter tensors")


if __name__ == "__main__":
    main()
