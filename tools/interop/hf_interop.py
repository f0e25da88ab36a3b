#!/usr/bin/env python3
"""Hugging Face interop: transformers' logits against Simply's, both directions.

    /work/pyenv/bin/python tools/interop/hf_interop.py PATH/TO/simply [--steps 30] [--write_golden]

Needs torch, safetensors and transformers (pip install transformers), CPU only.
Run it from the repository root (it trains with configs/tiny.json).

(a) HF -> Simply. Builds random small LlamaForCausalLM models with their own
    configs (untied and saved in shards with model.safetensors.index.json;
    tied in one file; the tied one again in bfloat16), randomizes the norm
    weights too, saves them with save_pretrained, runs `simply import` and
    `simply eval logits` on fixed random tokens, and compares with the logits
    and loss transformers computes in float32.
(b) Simply -> HF. Trains `tiny` for --steps deterministic steps, runs
    `simply export --format hf`, loads the directory with
    AutoModelForCausalLM / AutoTokenizer (no custom code), checks that the
    tokenizer gives Simply's byte ids and the chat template Simply's text, and
    compares transformers' logits and loss with `simply eval logits` on text
    from the built-in corpus. Also a score-head (reward) model exported as
    LlamaForSequenceClassification: transformers' score against Simply's; and
    a short chat SFT exported: transformers' greedy `generate` stops at the
    end of the turn (generation_config's stop_strings) with Simply's tokens.
Prints every maximum absolute difference; exits 1 if one exceeds 1e-4.

--write_golden stores the tied random model, its tokens and transformers'
float32 logits in golden/hf/, which Tests/SimplyExportTests reads, so the
Swift tests check an imported model against transformers without Python.
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import (AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, LlamaConfig,
                          LlamaForCausalLM)

TOL = 1e-4
failures = []


def run(simply, *args, cwd=None):
    r = subprocess.run([simply, *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"simply {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def report(name, diff, tol=TOL):
    ok = diff <= tol
    print(f"  {name}: max |diff| {diff:.3e} {'ok' if ok else 'FAIL'} (tolerance {tol:g})")
    if not ok:
        failures.append(name)


def random_llama(seed, **kw):
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**kw)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):  # not all ones: checks the norm mapping
                p.copy_(1 + 0.2 * torch.randn_like(p))
    return model


def simply_logits(simply, checkpoint, ids, work, tag):
    toks = os.path.join(work, f"{tag}-tokens.safetensors")
    out = os.path.join(work, f"{tag}-logits.safetensors")
    save_file({"input_ids": ids.to(torch.int64).contiguous()}, toks)
    line = json.loads(run(simply, "eval", "logits", "--checkpoint", checkpoint, "--tokens", toks, "--out", out))
    return load_file(out), line["loss"]


def hf_to_simply(simply, work, golden):
    print("HF -> Simply (transformers float32 vs simply import + simply eval logits)")
    cases = [
        ("untied-sharded", dict(vocab_size=300, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                rope_theta=50000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
                                initializer_range=0.1), dict(max_shard_size="100KB"), None),
        ("tied-single", dict(vocab_size=260, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                             rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
                             initializer_range=0.1), {}, None),
        ("tied-bf16", None, {}, torch.bfloat16),
    ]
    worst = 0.0
    models = {}
    for i, (tag, cfg, save_kw, dtype) in enumerate(cases):
        if cfg is None:  # the tied model again, stored in bfloat16
            model = copy.deepcopy(models["tied-single"]).to(torch.bfloat16)
        else:
            model = random_llama(100 + i, **cfg)
            models[tag] = model
        hf_dir = os.path.join(work, f"hf-{tag}")
        model.save_pretrained(hf_dir, safe_serialization=True, **save_kw)
        files = sorted(os.listdir(hf_dir))
        out = os.path.join(work, f"simply-{tag}")
        run(simply, "import", hf_dir, out, "--tokenizer", "byte")
        c = model.config
        g = torch.Generator().manual_seed(7 + i)
        ids = torch.randint(0, c.vocab_size, (3, c.max_position_embeddings), generator=g)
        # bf16 weights computed in float32; loaded fresh, since .to(bfloat16) also rounded the RoPE buffer
        ref = LlamaForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval() if dtype is not None else model
        with torch.no_grad():
            o = ref(input_ids=ids, labels=ids)
        s, s_loss = simply_logits(simply, out, ids, work, tag)
        d = (s["logits"] - o.logits).abs().max().item()
        dl = abs(s_loss - o.loss.item())
        print(f" {tag} ({', '.join(f for f in files if 'safetensors' in f)}):")
        report(f"{tag} logits", d)
        report(f"{tag} loss", dl)
        worst = max(worst, d)
        if tag == "tied-single" and golden:
            os.makedirs(os.path.join(golden, "tiny-llama"), exist_ok=True)
            model.save_pretrained(os.path.join(golden, "tiny-llama"), safe_serialization=True)
            for f in ("generation_config.json",):
                p = os.path.join(golden, "tiny-llama", f)
                if os.path.exists(p):
                    os.remove(p)
            save_file({"input_ids": ids.to(torch.int64).contiguous(), "logits": o.logits.contiguous(),
                       "loss": o.loss.reshape(1).contiguous()},
                      os.path.join(golden, "tiny-llama-logits.safetensors"), metadata={"format": "pt"})
            print(f"  wrote {golden}/tiny-llama and tiny-llama-logits.safetensors")
    return worst


def simply_to_hf(simply, work, steps):
    print(f"Simply -> HF (simply train tiny, {steps} steps; simply export; transformers float32)")
    run_dir = os.path.join(work, "run-tiny")
    run(simply, "train", "--experiment_config", "tiny", "--deterministic", "--experiment_dir", run_dir,
        "--set", f"train.steps={steps}")
    hf_dir = os.path.join(work, "export-tiny")
    run(simply, "export", "--format", "hf", "--checkpoint", run_dir, hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir).eval()
    tok = AutoTokenizer.from_pretrained(hf_dir)
    assert model.dtype == torch.float32, model.dtype

    # The tokenizer: HF's ids are Simply's byte ids.
    texts = ["Hello there", "  two  spaces\tand a tab\n", "héllo wörld ☃ 🚀", "x" * 50, "a<b>c", ""]
    bad = 0
    for t in texts:
        hf_ids = tok(t, add_special_tokens=False)["input_ids"]
        simply_ids = [int(x) for x in run(simply, "tokenizer", "encode", "--tokenizer", "byte", "--text", t).split()] if t else []
        if hf_ids != simply_ids or hf_ids != list(t.encode("utf-8")):
            bad += 1
            print(f"  tokenizer mismatch on {t!r}: hf {hf_ids} simply {simply_ids}")
        if tok.decode(hf_ids) != t:
            bad += 1
            print(f"  decode mismatch on {t!r}: {tok.decode(hf_ids)!r}")
    chat = tok.apply_chat_template([{"role": "user", "content": "1+2="}, {"role": "assistant", "content": "3"}],
                                   tokenize=False)
    expected = "<|bos|><|im_start|>user\n1+2=<|im_end|>\n<|im_start|>assistant\n3<|im_end|>\n"
    if chat != expected:
        bad += 1
        print(f"  chat template gives {chat!r}, Simply renders {expected!r}")
    chat_ids = tok(chat, add_special_tokens=False)["input_ids"]
    if chat_ids != [256] + list(expected[len("<|bos|>"):].encode()):
        bad += 1
        print(f"  chat ids {chat_ids[:12]}... are not bos + bytes")
    print(f"  tokenizer: {len(texts)} texts + chat template, {bad} mismatches {'ok' if bad == 0 else 'FAIL'}")
    if bad:
        failures.append("tokenizer")

    # Logits on built-in corpus text: bos + bytes, 2 rows of seq_len.
    corpus = os.path.join(work, "corpus.txt")
    run(simply, "data", "synthetic", "--bytes", "4000", "--output", corpus)
    data = list(open(corpus, "rb").read())
    t = model.config.max_position_embeddings
    rows = [[256] + data[k * 500:k * 500 + t - 1] for k in range(2)]
    ids = torch.tensor(rows, dtype=torch.int64)
    with torch.no_grad():
        o = model(input_ids=ids, labels=ids)
    s, s_loss = simply_logits(simply, run_dir, ids, work, "tiny")
    d = (s["logits"] - o.logits).abs().max().item()
    report("tiny logits", d)
    report("tiny loss", abs(s_loss - o.loss.item()))
    print(f"  (loss {o.loss.item():.6f}; logits range {o.logits.min().item():.2f}..{o.logits.max().item():.2f})")

    # A score-head model: LlamaForSequenceClassification.
    rm_dir = os.path.join(work, "run-score")
    run(simply, "train", "--experiment_config", "tiny", "--deterministic", "--experiment_dir", rm_dir,
        "--set", "train.steps=2", "--set", "model.score_head=true")
    rm_hf = os.path.join(work, "export-score")
    run(simply, "export", "--format", "hf", "--checkpoint", rm_dir, rm_hf)
    rm = AutoModelForSequenceClassification.from_pretrained(rm_hf).eval()
    assert rm.config.num_labels == 1 and rm.config.pad_token_id == 258, (rm.config.num_labels, rm.config.pad_token_id)
    with torch.no_grad():
        score = rm(input_ids=ids).logits[:, 0]       # the last non-pad position: the last one here
    s, _ = simply_logits(simply, rm_dir, ids, work, "score")
    ds = (s["scores"][:, -1] - score).abs().max().item()
    report("score head (LlamaForSequenceClassification)", ds)
    chat_stops(simply, work, run_dir)
    return max(d, bpe_export(simply, work, ids))


def chat_stops(simply, work, base_run):
    """An exported chat model stops where Simply's sampler stops: at the end of the turn.

    SFT on a few hundred chat examples teaches the model to end its answer with
    <|im_end|>; transformers' greedy generate (given the tokenizer, so that the
    generation config's stop_strings apply) must give Simply's greedy tokens
    and stop after the same <|im_end|>."""
    data = os.path.join(work, "chat.jsonl")
    run(simply, "data", "generate", "--task", "addition", "--max_digits", "1", "--count", "300", "--format", "alpaca",
        "--output", data)
    run(simply, "data", "prepare", data, "--output", data + ".ex")
    run_dir = os.path.join(work, "run-chat")
    run(simply, "train", "--experiment_config", "tiny_sft", "--load_checkpoint", base_run, "--deterministic",
        "--experiment_dir", run_dir, "--set", f"data.dataset={data}.ex", "--set", "train.steps=300", "--set", "train.lr=1e-3")
    hf_dir = os.path.join(work, "export-chat")
    run(simply, "export", "--format", "hf", "--checkpoint", run_dir, hf_dir)
    gen = json.load(open(os.path.join(hf_dir, "generation_config.json")))
    model = AutoModelForCausalLM.from_pretrained(hf_dir).eval()
    tok = AutoTokenizer.from_pretrained(hf_dir)
    prompts = ["What is 3 + 4?", "What is 8 + 1?", "What is 0 + 6?"]
    out = run(simply, "sample", "--checkpoint", run_dir, "--chat", "--temperature", "0", "--max_new_tokens", "24", "--json",
              *[x for p in prompts for x in ("--prompt", p)])
    simply_rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    bad, stopped = 0, 0
    for i, p in enumerate(prompts):
        ids = tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, return_tensors="pt")
        if hasattr(ids, "keys"):
            ids = ids["input_ids"]
        with torch.no_grad():
            g = model.generate(ids, max_new_tokens=24, do_sample=False, tokenizer=tok)
        hf_new = g[0, ids.shape[1]:].tolist()
        want = simply_rows[i]["tokens"]
        end = list("<|im_end|>".encode())
        if simply_rows[i]["finish_reason"] == "stop" and want[-len(end):] == end:
            stopped += 1
        if hf_new != want:
            bad += 1
            print(f"  {p!r}: transformers {tok.decode(hf_new)!r}, Simply {tok.decode(want)!r}")
    ok = bad == 0 and stopped == len(prompts) and gen.get("stop_strings") == ["<|im_end|>"]
    print(f"  chat model: generation_config {gen}; {stopped}/{len(prompts)} Simply samples end the turn, "
          f"transformers' generate gives the same tokens on {len(prompts) - bad}/{len(prompts)} {'ok' if ok else 'FAIL'}")
    if not ok:
        failures.append("chat end of turn")


def bpe_export(simply, work, byte_rows):
    """configs/small (byte-level BPE 8192) after one step: tokenizer ids, chat template ids, logits."""
    run_dir = os.path.join(work, "run-small")
    run(simply, "train", "--experiment_config", "small", "--deterministic", "--experiment_dir", run_dir,
        "--set", "train.steps=1")
    hf_dir = os.path.join(work, "export-small")
    run(simply, "export", "--format", "hf", "--checkpoint", run_dir, hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir).eval()
    tok = AutoTokenizer.from_pretrained(hf_dir)
    bad = 0
    for t in ["Hello there, General Kenobi.", "  spaces\tand\nlines  ", "naïve café 🚀 1234567"]:
        hf_ids = tok(t, add_special_tokens=False)["input_ids"]
        simply_ids = [int(x) for x in run(simply, "tokenizer", "encode", "--tokenizer", "configs/tokenizers/small-bpe-8192.json",
                                          "--text", t).split()]
        if hf_ids != simply_ids:
            bad += 1
            print(f"  BPE mismatch on {t!r}: hf {hf_ids} simply {simply_ids}")
    chat_ids = tok.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True, tokenize=True)
    if hasattr(chat_ids, "keys"):
        chat_ids = chat_ids["input_ids"]
    specials = [tok.convert_tokens_to_ids(x) for x in ["<|bos|>", "<|im_start|>", "<|im_end|>"]]
    if chat_ids[0] != specials[0] or chat_ids[1] != specials[1] or specials[2] not in chat_ids:
        bad += 1
        print(f"  BPE chat template ids {chat_ids} do not use the specials {specials}")
    print(f"  small (BPE 8192) tokenizer: 3 texts + chat template, {bad} mismatches {'ok' if bad == 0 else 'FAIL'}")
    if bad:
        failures.append("BPE tokenizer")
    text = open(os.path.join(work, "corpus.txt")).read()
    text_ids = tok(text[:600], add_special_tokens=False)["input_ids"]  # under model_max_length: no warning
    assert len(text_ids) >= 127, len(text_ids)
    ids = torch.tensor([[tok.bos_token_id] + text_ids[:127]], dtype=torch.int64)
    with torch.no_grad():
        o = model(input_ids=ids, labels=ids)
    s, s_loss = simply_logits(simply, run_dir, ids, work, "small")
    d = (s["logits"] - o.logits).abs().max().item()
    report("small logits", d)
    report("small loss", abs(s_loss - o.loss.item()))
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("simply")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--write_golden", action="store_true")
    ap.add_argument("--work", help="keep the files here instead of a temporary directory")
    a = ap.parse_args()
    simply = os.path.abspath(a.simply)
    torch.set_num_threads(1)
    golden = os.path.abspath("golden/hf") if a.write_golden else None
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or tmp
        os.makedirs(work, exist_ok=True)
        h2s = hf_to_simply(simply, work, golden)
        s2h = simply_to_hf(simply, work, a.steps)
    print(f"max |logit diff|: HF -> Simply {h2s:.3e}, Simply -> HF {s2h:.3e}")
    if failures:
        print("FAILED: " + ", ".join(failures))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
