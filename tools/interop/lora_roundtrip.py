#!/usr/bin/env python3
"""LoRA runs, exported: Python `peft` loads Simply's adapters onto the base and
computes Simply's logits; the merged export loads in transformers with the
same logits; a PEFT-trained adapter comes into Simply with PEFT's logits.

    /tmp/venv/bin/python tools/interop/lora_roundtrip.py PATH/TO/simply [FAMILIES_DIR]

For qwen3 and mistral in golden/hf/families (and smollm2, the shape of the
benchmark): `simply import`, a few LoRA SFT steps (rank 8 on all seven
linear layers; B moves off zero, so the adapters change the logits), then

1. `simply export --format peft` of the run and `--format hf` of the base:
   PeftModel.from_pretrained(base, adapters) loads with no missing or
   unexpected key, and its logits on the fixture's probe ids are within 1e-4
   of `simply eval logits` on the LoRA run;
2. `simply export --format hf` of the LoRA run (merged): transformers loads it
   cleanly, with logits within 1e-4 of the same;
3. PEFT's own adapter: random A and B written by peft's save_pretrained, then
   `simply import ADAPTER OUT --lora_base BASE_RUN`: Simply's logits are
   within 1e-4 of PeftModel's;
4. a run that also trains the norms and the embeddings in full
   (lora.modules_to_save): PeftModel gives Simply's logits within 1e-4, and
   the adapter imported back gives them bit for bit.

Prints the numbers per family; exits 1 on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

FAMILIES = ["qwen3", "mistral", "smollm2"]
TOL = 1e-4


def run(simply, *args, cwd=None):
    r = subprocess.run([simply, *args], capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        sys.exit(f"simply {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def simply_logits(simply, checkpoint, ids, work, name):
    tokens, out = os.path.join(work, name + "-ids.safetensors"), os.path.join(work, name + "-logits.safetensors")
    save_file({"input_ids": ids[None, :].to(torch.int64)}, tokens)
    run(simply, "eval", "logits", "--checkpoint", checkpoint, "--tokens", tokens, "--out", out, "--threads", "1")
    return load_file(out)["logits"].double()


def main():
    simply = os.path.abspath(sys.argv[1])
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                               "golden", "hf", "families")
    torch.manual_seed(0)
    failures = []
    with tempfile.TemporaryDirectory() as work:
        for family in FAMILIES:
            src = os.path.join(root, family)
            if not os.path.isdir(src):
                continue
            ids = load_file(os.path.join(src, "expected-logits.safetensors"))["ids"]
            p = lambda s: os.path.join(work, f"{family}-{s}")
            run(simply, "import", src, p("base"), "--seq_len", "64")
            run(simply, "data", "generate", "--task", "addition", "--max_digits", "2", "--count", "64", "--format", "messages",
                "--conversational", "--output", p("sft.jsonl"))
            run(simply, "data", "prepare", p("sft.jsonl"), "--tokenizer", p("base/tokenizer"), "--output", p("sft.ex"))
            run(simply, "train", "--experiment_config", p("base/experiment.json"), "--training_mode", "sft",
                "--load_checkpoint", p("base"), "--deterministic", "--set", "train.steps=6", "--set", "train.batch_size=4",
                "--set", "train.warmup_steps=1", "--set", "train.lr=0.01", "--set", "lora.rank=8", "--set", "lora.alpha=16",
                "--set", f"data.dataset={p('sft.ex')}", "--experiment_dir", p("lora"))
            run(simply, "export", "--format", "hf", "--checkpoint", p("base"), p("base-hf"))
            run(simply, "export", "--format", "peft", "--checkpoint", p("lora"), p("peft"))
            run(simply, "export", "--format", "hf", "--checkpoint", p("lora"), p("merged"))
            ours = simply_logits(simply, p("lora"), ids, work, family + "-lora")
            base_logits = simply_logits(simply, p("base"), ids, work, family + "-base")

            base = AutoModelForCausalLM.from_pretrained(p("base-hf"), dtype=torch.float32)
            peft_model = PeftModel.from_pretrained(base, p("peft"))
            peft_model.eval()
            with torch.no_grad():
                theirs = peft_model(ids[None, :]).logits.double()
            d_peft = (theirs - ours).abs().max().item()
            moved = (ours - base_logits).abs().max().item()
            # The adapter file names every adapted module: PEFT loaded all of them.
            cfg = json.load(open(os.path.join(p("peft"), "adapter_config.json")))
            lora_modules = [n for n, _ in peft_model.named_modules() if n.endswith("lora_A")]

            merged, info = AutoModelForCausalLM.from_pretrained(p("merged"), dtype=torch.float32, output_loading_info=True)
            problems = {k: v for k, v in info.items() if v}
            with torch.no_grad():
                m_logits = merged(ids[None, :]).logits.double()
            d_merged = (m_logits - ours).abs().max().item()

            # PEFT -> Simply: an adapter with random A and B, saved by peft itself.
            fresh = AutoModelForCausalLM.from_pretrained(p("base-hf"), dtype=torch.float32)
            pm = get_peft_model(fresh, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]))
            with torch.no_grad():
                for n, t in pm.named_parameters():
                    if "lora_B" in n:
                        t.normal_(0, 0.05)
            pm.eval()
            with torch.no_grad():
                peft_logits = pm(ids[None, :]).logits.double()
            pm.save_pretrained(p("peft-native"))
            run(simply, "import", os.path.join(p("peft-native")), p("imported"), "--lora_base", p("base"))
            d_import = (simply_logits(simply, p("imported"), ids, work, family + "-imported") - peft_logits).abs().max().item()

            # Saved modules (norms and the embeddings, trained in full): PEFT's modules_to_save.
            saved = "embed_tokens,norm,input_layernorm,post_attention_layernorm" + (",q_norm,k_norm" if family == "qwen3" else "")
            run(simply, "train", "--experiment_config", p("base/experiment.json"), "--training_mode", "sft",
                "--load_checkpoint", p("base"), "--deterministic", "--set", "train.steps=6", "--set", "train.batch_size=4",
                "--set", "train.warmup_steps=1", "--set", "train.lr=0.01", "--set", "lora.rank=8", "--set", "lora.alpha=16",
                "--set", f"lora.modules_to_save={saved}", "--set", f"data.dataset={p('sft.ex')}", "--experiment_dir", p("lora-saved"))
            run(simply, "export", "--format", "peft", "--checkpoint", p("lora-saved"), p("peft-saved"))
            ours_saved = simply_logits(simply, p("lora-saved"), ids, work, family + "-lora-saved")
            base2 = AutoModelForCausalLM.from_pretrained(p("base-hf"), dtype=torch.float32)
            pm2 = PeftModel.from_pretrained(base2, p("peft-saved"))
            pm2.eval()
            with torch.no_grad():
                d_saved = (pm2(ids[None, :]).logits.double() - ours_saved).abs().max().item()
            run(simply, "import", p("peft-saved"), p("imported-saved"), "--lora_base", p("base"))
            d_saved_back = (simply_logits(simply, p("imported-saved"), ids, work, family + "-imported-saved") - ours_saved).abs().max().item()
            print(f"{family}: with modules_to_save={saved}: peft vs simply {d_saved:.2e}, imported back {d_saved_back:.2e}")

            ok = (d_peft <= TOL and d_merged <= TOL and d_import <= TOL and not problems and moved > 1e-3
                  and d_saved <= TOL and d_saved_back == 0
                  and len(lora_modules) == 7 * base.config.num_hidden_layers and cfg["r"] == 8)
            print(f"{family}: peft vs simply {d_peft:.2e}, merged vs simply {d_merged:.2e}, peft-written adapter imported "
                  f"{d_import:.2e} (adapters moved the logits by {moved:.2e}; {len(lora_modules)} adapted modules; "
                  f"loading problems: {problems or 'none'}) {'ok' if ok else 'FAIL'}")
            if not ok:
                failures.append(family)
    if failures:
        sys.exit(f"failed: {', '.join(failures)}")


if __name__ == "__main__":
    main()
