#!/usr/bin/env python3
"""The PyTorch peer of `simply bench`: the same Llama-style model, batch and
AdamW, trained in eager PyTorch (float32, CPU), printing throughput as JSON.

    /work/pyenv/bin/python tools/bench/torch_peer.py --experiment_config small --threads 2

The model follows tools/reference/torch_reference.py (Simply's architecture
in plain PyTorch): RMSNorm, rotate_half RoPE, grouped-query attention, SwiGLU,
tied or untied LM head, init N(0, 0.02). What a PyTorch user would write for
speed is used where it changes nothing in the maths: F.rms_norm and
F.scaled_dot_product_attention(is_causal=True, enable_gqa=True) (--attention
manual switches to the reference's explicit softmax). The step is Simply's:
batch_size rows of seq_len tokens in grad_shards micro-batches (gradient
accumulation), global-norm clipping, AdamW (betas, eps, decoupled weight
decay on matrices only), as in configs/NAME.json. The learning-rate schedule
is left out (it costs nothing). Tokens are random: the speed does not depend
on them.

Output (one JSON object, sorted keys): tokens_per_sec, step_sec_mean/min/
median/max, peak_rss_bytes (ru_maxrss) and vm_hwm_bytes, parameters, threads,
torch version; with --profile_steps N also matmul_sec_per_step (aten::mm/addmm/bmm
self time under torch.profiler over N extra steps), matmul_gflops, and
matmul_share_of_step (that time over the median unprofiled step).
"""
import argparse, json, math, os, resource, statistics, sys, time

import torch
import torch.nn.functional as F

DEFAULTS = dict(rope_theta=10000.0, norm_eps=1e-5, init_std=0.02, tie_embeddings=True, grad_shards=1,
                lr=1e-3, weight_decay=0.1, beta1=0.9, beta2=0.95, eps=1e-8, grad_clip=1.0)


def load_config(name, config_dir):
    path = name if name.endswith(".json") else os.path.join(config_dir, name + ".json")
    with open(path) as f:
        raw = json.load(f)
    c = dict(DEFAULTS)
    c.update(raw.get("model", {}))
    c.update(raw.get("train", {}))
    return c


class Model(torch.nn.Module):
    def __init__(self, c, attention):
        super().__init__()
        self.c, self.attention = c, attention
        d, hd = c["d_model"], c["d_model"] // c["n_heads"]
        self.hd = hd
        L = c["n_layers"]
        std = c["init_std"]
        P = torch.nn.Parameter

        def mat(o, i, scale=1.0):
            return P(torch.randn(o, i) * std * scale)

        self.embed = P(torch.randn(c["vocab_size"], d) * std)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.norm1, m.norm2 = P(torch.ones(d)), P(torch.ones(d))
            m.wq, m.wk, m.wv = mat(c["n_heads"] * hd, d), mat(c["n_kv_heads"] * hd, d), mat(c["n_kv_heads"] * hd, d)
            m.wo = mat(d, c["n_heads"] * hd, 1 / math.sqrt(2 * L))
            m.wg, m.wu = mat(c["d_ff"], d), mat(c["d_ff"], d)
            m.wd = mat(d, c["d_ff"], 1 / math.sqrt(2 * L))
            self.layers.append(m)
        self.norm = P(torch.ones(d))
        self.head = None if c["tie_embeddings"] else mat(c["vocab_size"], d)
        T = c["seq_len"]
        inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
        self.register_buffer("cos", torch.cat([ang.cos()] * 2, -1).float())
        self.register_buffer("sin", torch.cat([ang.sin()] * 2, -1).float())
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

    def rope(self, x):
        h = self.hd // 2
        return x * self.cos + torch.cat([-x[..., h:], x[..., :h]], -1) * self.sin

    def forward(self, tokens, targets):
        c, hd, eps = self.c, self.hd, self.c["norm_eps"]
        B, T = tokens.shape
        H, KV = c["n_heads"], c["n_kv_heads"]
        x = self.embed[tokens]
        for m in self.layers:
            h = F.rms_norm(x, (x.shape[-1],), m.norm1, eps)
            q = (h @ m.wq.T).view(B, T, H, hd).transpose(1, 2)
            k = (h @ m.wk.T).view(B, T, KV, hd).transpose(1, 2)
            v = (h @ m.wv.T).view(B, T, KV, hd).transpose(1, 2)
            q, k = self.rope(q), self.rope(k)
            if self.attention == "sdpa":
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=H != KV)
            else:
                k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
                s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
                a = s.masked_fill(self.mask[:T, :T], float("-inf")).softmax(-1) @ v
            x = x + a.transpose(1, 2).reshape(B, T, H * hd) @ m.wo.T
            h = F.rms_norm(x, (x.shape[-1],), m.norm2, eps)
            x = x + (F.silu(h @ m.wg.T) * (h @ m.wu.T)) @ m.wd.T
        h = F.rms_norm(x, (x.shape[-1],), self.norm, eps)
        logits = h @ (self.embed if self.head is None else self.head).T
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


# The ATen ops that are matrix products (MKL sgemm underneath); SDPA's products are inside its own op.
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm")


def profile(step, steps, matmul_flops, step_sec):
    """Runs `steps` more steps under torch.profiler (after the timed ones: the profiler slows the
    many small ops) and reports the matrix products' self time per step: the wall time of the
    calling thread, MKL's threads working inside it. Each product takes milliseconds, so the
    profiler barely changes its time. `matmul_flops`: the FLOPs of one step's products;
    `step_sec`: the unprofiled step time the share is taken of."""
    from torch.profiler import profile as torch_profile, ProfilerActivity
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    mm_sec = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in MATMUL_OPS) * 1e-6 / steps
    return dict(profile_steps=steps, matmul_sec_per_step=mm_sec, matmul_gflop_per_step=matmul_flops / 1e9,
                matmul_gflops=matmul_flops / mm_sec / 1e9 if mm_sec > 0 else None,
                matmul_share_of_step=mm_sec / step_sec)


def vm_hwm():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--experiment_config", default="tiny")
    ap.add_argument("--config_dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup_steps", type=int, default=2)
    ap.add_argument("--attention", choices=["sdpa", "manual"], default="sdpa")
    ap.add_argument("--profile_steps", type=int, default=0,
                    help="after the timed steps, this many more under torch.profiler: how much of a step is matrix products")
    a = ap.parse_args()
    c = load_config(a.experiment_config, a.config_dir)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1337)

    model = Model(c, a.attention)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": c["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"])
    B, T, S = c["batch_size"], c["seq_len"], c["grad_shards"]
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, c["vocab_size"], (B, T + 1), generator=g)
    inputs, targets = data[:, :-1].contiguous(), data[:, 1:].contiguous()
    rows = B // S

    def step():
        opt.zero_grad(set_to_none=True)
        for s in range(S):
            loss = model(inputs[s * rows:(s + 1) * rows], targets[s * rows:(s + 1) * rows]) / S
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), c["grad_clip"])
        opt.step()

    for _ in range(a.warmup_steps):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    total = sum(times)
    out = dict(
        experiment_config=a.experiment_config, threads=a.threads, attention=a.attention,
        torch_version=torch.__version__, parameters=sum(p.numel() for p in model.parameters()),
        tokens_per_step=B * T, steps=a.steps, warmup_steps=a.warmup_steps,
        tokens_per_sec=B * T * a.steps / total, step_sec_mean=total / a.steps, step_sec_min=min(times),
        step_sec_median=statistics.median(times), step_sec_max=max(times),
        peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, vm_hwm_bytes=vm_hwm(),
    )
    if a.profile_steps > 0:
        # Every weight matrix is in three products per token (forward, input and weight
        # gradients), 2 FLOPs per multiply-add; a tied embedding only as the LM head.
        matrices = sum(p.numel() for p in decay if p is not model.embed or model.head is None)
        out.update(profile(step, a.profile_steps, 6 * B * T * matrices, out["step_sec_median"]))
    json.dump(out, sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
