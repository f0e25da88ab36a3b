#!/usr/bin/env python3
"""PyTorch autograd reference for SimplyModel.

Builds the Llama-style decoder of docs/design.md in plain PyTorch (float64, no
`transformers`), with Hugging Face's parameter names and conventions (RMSNorm,
rotate_half RoPE, grouped-query attention via repeat_interleave, SwiGLU), runs
one forward and backward on fixed tokens with a weighted cross-entropy
Σ w_i·CE_i, and writes golden/reference_{untied,tied}.safetensors:

  <param name>        F32  the weights (random, rounded to float32)
  grad.<param name>   F64  d loss / d weight
  tokens, targets     I64  [B, T]
  weights             F64  [B, T]   (some zero: ignored positions)
  logits              F64  [B, T, V]
  loss                F64  [1]
  __metadata__        the model config

Tests/SimplyModelTests/ReferenceGradientTests.swift loads these files, so the
Swift tests need no Python. Regenerate with:

    python3 -m venv .venv && .venv/bin/pip install torch==2.13.0+cpu safetensors numpy \
        --extra-index-url https://download.pytorch.org/whl/cpu
    .venv/bin/python tools/reference/torch_reference.py [OUT_DIR]   # default: golden/

The tensors are a pure function of the script and the torch version (CPU,
float64, fixed seeds): rerunning rewrites bit-identical tensors. (The header's
__metadata__ order can change between runs — the safetensors library keeps it
in a hash map — so compare tensors, not file bytes.)
"""
import math, os, sys
import torch
from safetensors.torch import save_file

V, D, L, H, KV, F, T, B = 67, 32, 2, 4, 2, 56, 12, 2
HD, EPS, THETA = D // H, 1e-5, 10000.0
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "golden")


def build(tied):
    torch.manual_seed(1234 + int(tied))
    dt = torch.float64
    p = {"model.embed_tokens.weight": torch.randn(V, D, dtype=dt) * 0.5}
    for l in range(L):
        q = f"model.layers.{l}."
        p[q + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(D, dtype=dt)
        p[q + "self_attn.q_proj.weight"] = torch.randn(H * HD, D, dtype=dt) * 0.3
        p[q + "self_attn.k_proj.weight"] = torch.randn(KV * HD, D, dtype=dt) * 0.3
        p[q + "self_attn.v_proj.weight"] = torch.randn(KV * HD, D, dtype=dt) * 0.3
        p[q + "self_attn.o_proj.weight"] = torch.randn(D, H * HD, dtype=dt) * 0.3
        p[q + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(D, dtype=dt)
        p[q + "mlp.gate_proj.weight"] = torch.randn(F, D, dtype=dt) * 0.3
        p[q + "mlp.up_proj.weight"] = torch.randn(F, D, dtype=dt) * 0.3
        p[q + "mlp.down_proj.weight"] = torch.randn(D, F, dtype=dt) * 0.3
    p["model.norm.weight"] = 1 + 0.1 * torch.randn(D, dtype=dt)
    if not tied:
        p["lm_head.weight"] = torch.randn(V, D, dtype=dt) * 0.3
    # Both sides start from the same float32 weights.
    return {k: v.float().double().requires_grad_(True) for k, v in p.items()}


def rms_norm(x, g):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS) * g


def rotate_half(x):
    return torch.cat([-x[..., HD // 2:], x[..., :HD // 2]], -1)


def forward(p, tokens, tied):
    inv_freq = 1.0 / (THETA ** (torch.arange(0, HD, 2, dtype=torch.float64) / HD))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    x = p["model.embed_tokens.weight"][tokens]
    for l in range(L):
        q_ = f"model.layers.{l}."
        h = rms_norm(x, p[q_ + "input_layernorm.weight"])
        q = (h @ p[q_ + "self_attn.q_proj.weight"].T).view(B, T, H, HD).transpose(1, 2)
        k = (h @ p[q_ + "self_attn.k_proj.weight"].T).view(B, T, KV, HD).transpose(1, 2)
        v = (h @ p[q_ + "self_attn.v_proj.weight"].T).view(B, T, KV, HD).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(HD)
        a = (s.masked_fill(mask, float("-inf")).softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * HD)
        x = x + a @ p[q_ + "self_attn.o_proj.weight"].T
        h = rms_norm(x, p[q_ + "post_attention_layernorm.weight"])
        g, u = h @ p[q_ + "mlp.gate_proj.weight"].T, h @ p[q_ + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ p[q_ + "mlp.down_proj.weight"].T
    h = rms_norm(x, p["model.norm.weight"])
    return h @ (p["model.embed_tokens.weight"] if tied else p["lm_head.weight"]).T


def main():
    for tied in (False, True):
        p = build(tied)
        g = torch.Generator().manual_seed(99 + int(tied))
        tokens = torch.randint(0, V, (B, T), generator=g)
        targets = torch.randint(0, V, (B, T), generator=g)
        w = torch.rand(B, T, dtype=torch.float64, generator=g).float().double()
        w[0, 3] = 0
        w[1, 7] = 0
        logits = forward(p, tokens, tied)
        ce = torch.nn.functional.cross_entropy(logits.view(-1, V), targets.view(-1), reduction="none")
        loss = (ce * w.view(-1)).sum()
        loss.backward()
        out = {k: v.detach().float().contiguous() for k, v in p.items()}
        out.update({"grad." + k: v.grad.detach().contiguous() for k, v in p.items()})
        out.update(tokens=tokens, targets=targets, weights=w, logits=logits.detach().contiguous(),
                   loss=loss.detach().reshape(1))
        meta = dict(vocab_size=V, d_model=D, n_layers=L, n_heads=H, n_kv_heads=KV, d_ff=F, seq_len=T, batch=B,
                    tie_embeddings=str(tied).lower(), rope_theta=THETA, norm_eps=EPS, torch_version=torch.__version__)
        path = os.path.join(OUT, f"reference_{'tied' if tied else 'untied'}.safetensors")
        save_file(out, path, metadata={k: str(v) for k, v in meta.items()})
        print(f"wrote {os.path.normpath(path)}: loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
