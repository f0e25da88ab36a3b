#!/usr/bin/env python3
"""The imported families, exported back: transformers loads them cleanly and
computes what it computed on the originals.

    /tmp/venv/bin/python tools/interop/family_roundtrip.py PATH/TO/simply [FAMILIES_DIR]

For each model in golden/hf/families (tools/interop/family_fixtures.py):
`simply import` (with its own tokenizer and chat template), `simply export --format hf`,
then AutoModelForCausalLM.from_pretrained(output_loading_info=True) on the
export. It checks that no key is missing, unexpected or mismatched, that the
class and model_type are the original's, that every tensor equals the
original's bit for bit, that transformers' loss (labels = input_ids) and
logits on the fixture's probe ids are the original model's, and that
AutoTokenizer on the export gives the original's ids and chat renders. It also compares
`simply eval logits` on the export with transformers. Prints each family's
numbers; exits 1 on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

FAMILIES = ["llama3", "qwen2", "qwen3", "mistral", "smollm2"]


def run(simply, *args):
    r = subprocess.run([simply, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"simply {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def main():
    simply = os.path.abspath(sys.argv[1])
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                               "golden", "hf", "families")
    failures = []
    with tempfile.TemporaryDirectory() as work:
        for family in FAMILIES:
            src = os.path.join(root, family)
            ids = load_file(os.path.join(src, "expected-logits.safetensors"))["ids"]
            run_dir, hf_dir = os.path.join(work, family + "-run"), os.path.join(work, family + "-hf")
            run(simply, "import", src, run_dir)
            run(simply, "export", "--format", "hf", "--checkpoint", run_dir, hf_dir)
            original = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
            exported, info = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32, output_loading_info=True)
            problems = {k: v for k, v in info.items() if v}
            same_class = type(exported) is type(original) and exported.config.model_type == original.config.model_type
            a, b = load_file(os.path.join(src, "model.safetensors")), load_file(os.path.join(hf_dir, "model.safetensors"))
            same_tensors = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
            with torch.no_grad():
                o1 = original(ids[None, :], labels=ids[None, :])
                o2 = exported(ids[None, :], labels=ids[None, :])
            loss_diff = abs(o1.loss.item() - o2.loss.item())
            logit_diff = (o1.logits - o2.logits).abs().max().item()
            out, toks = os.path.join(work, family + "-logits.safetensors"), os.path.join(work, family + "-ids.safetensors")
            save_file({"input_ids": ids[None, :].contiguous()}, toks)
            line = json.loads(run(simply, "eval", "logits", "--checkpoint", run_dir, "--tokens", toks, "--out", out))
            simply_diff = (load_file(out)["logits"].reshape(o2.logits.shape) - o2.logits).abs().max().item()
            t1, t2 = AutoTokenizer.from_pretrained(src), AutoTokenizer.from_pretrained(hf_dir)
            conv = [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]
            text = "Hello, world! 12345 数字 🙂"
            same_tokenizer = (t1(text)["input_ids"] == t2(text)["input_ids"]
                              and t1.apply_chat_template(conv, tokenize=False) == t2.apply_chat_template(conv, tokenize=False))
            ok = same_tokenizer and not problems and same_class and same_tensors and loss_diff == 0 and logit_diff == 0 and simply_diff < 1e-4
            print(f"{family}: {type(exported).__name__}, loading info {problems or 'clean'}, tensors "
                  f"{'bit-identical' if same_tensors else 'DIFFER'}, loss {o2.loss.item():.6f} (original "
                  f"{o1.loss.item():.6f}), max |logit diff| export vs original {logit_diff:.1e}, simply vs "
                  f"transformers {simply_diff:.1e} (simply loss {line.get('loss', float('nan')):.6f}) "
                  f"tokenizer {'same' if same_tokenizer else 'DIFFERS'} {'ok' if ok else 'FAIL'}")
            if not ok:
                failures.append(family)
    if failures:
        sys.exit(f"failed: {', '.join(failures)}")


if __name__ == "__main__":
    main()
