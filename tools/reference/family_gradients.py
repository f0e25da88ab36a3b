#!/usr/bin/env python3
"""Autograd gradients of the Hugging Face family fixtures, in float64.

For each model in golden/hf/families/FAMILY (written by
tools/interop/family_fixtures.py) this loads it with transformers, casts it to
float64, runs forward and backward of transformers' own loss (labels =
input_ids: the mean next-token cross-entropy) on the fixture's probe ids, and
writes golden/hf/families/FAMILY/expected-gradients.safetensors:

  ids                 I64  the probe ids (those of expected-logits.safetensors)
  loss                F64  [1]
  grad.<param name>   F64  d loss / d weight, for the parameters each family's
                           options touch (every 1-D parameter: norms, q/k/v
                           biases, q/k norms; layer 0's attention matrices;
                           the final norm)

Tests/SimplyExportTests/FamilyImportTests.swift compares Simply's float32
backward with them, so the Swift tests need no Python. Regenerate with:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch==2.13.0+cpu transformers==5.25.0 safetensors
    /tmp/venv/bin/python tools/reference/family_gradients.py [FAMILIES_DIR]   # default: golden/hf/families

The tensors are a pure function of the fixtures, this script and the torch
and transformers versions (CPU, float64).
"""
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                           "golden", "hf", "families")
FAMILIES = ["llama3", "qwen2", "qwen3", "mistral", "smollm2"]


def wanted(name, p):
    return p.dim() == 1 or name.startswith("model.layers.0.self_attn.")


def main():
    torch.use_deterministic_algorithms(True)
    for family in FAMILIES:
        d = os.path.join(ROOT, family)
        ids = load_file(os.path.join(d, "expected-logits.safetensors"))["ids"]
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float64, attn_implementation="eager")
        model.train(False)
        out = model(ids[None, :], labels=ids[None, :])
        out.loss.backward()
        tensors = {"ids": ids.clone(), "loss": out.loss.detach().reshape(1)}
        for name, p in model.named_parameters():
            if wanted(name, p):
                tensors["grad." + name] = p.grad.detach().contiguous()
        save_file(tensors, os.path.join(d, "expected-gradients.safetensors"),
                  metadata={"transformers": __import__("transformers").__version__, "torch": torch.__version__})
        print(f"{family}: loss {out.loss.item():.6f}, {len(tensors) - 2} gradients")


if __name__ == "__main__":
    main()
