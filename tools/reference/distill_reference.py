#!/usr/bin/env python3
"""Writes golden/distill_reference.json: the knowledge-distillation loss
Σ_n w_n · T² · KL(softmax(t_n/T) ‖ softmax(s_n/T)) and its gradient with
respect to the student logits s, by PyTorch autograd in float64, for fixed
random float32 student/teacher logits, weights (one row weighted 0) and
temperatures. Tests/SimplyPosttrainingTests/DistillationTests.swift feeds the
same logits through Simply's kernel (Sources/SimplyModel/Distillation.swift).

    /work/pyenv/bin/python tools/reference/distill_reference.py
    (or: python3 -m venv .venv && .venv/bin/pip install torch==2.13.0+cpu)
"""
import json, os
import torch
import torch.nn.functional as F

torch.manual_seed(0)


def case(rows, vocab, temperature, scale, spread):
    # float32 values (what the Swift side reads exactly), computed in float64.
    s = (torch.randn(rows, vocab, dtype=torch.float32) * scale).double()
    t = (torch.randn(rows, vocab, dtype=torch.float32) * scale * spread + 0.5 * s.float()).double()
    w = torch.rand(rows, dtype=torch.float32).double() / rows
    w[1] = 0.0                                  # a masked position: no loss, no gradient
    s.requires_grad_(True)
    log_ps = F.log_softmax(s / temperature, dim=-1)
    log_pt = F.log_softmax(t / temperature, dim=-1)
    kl = F.kl_div(log_ps, log_pt, reduction="none", log_target=True).sum(-1)   # KL(p_t ‖ p_s) per row
    loss = (w * temperature ** 2 * kl).sum()
    loss.backward()
    return dict(rows=rows, vocab=vocab, temperature=temperature,
                student=s.detach().float().flatten().tolist(), teacher=t.float().flatten().tolist(),
                weights=w.float().tolist(), loss=loss.item(), row_kl=kl.detach().tolist(),
                grad=s.grad.flatten().tolist())


cases = [
    case(rows=6, vocab=37, temperature=2.0, scale=1.0, spread=1.0),
    case(rows=5, vocab=64, temperature=1.0, scale=3.0, spread=0.5),
    case(rows=4, vocab=50, temperature=0.5, scale=2.0, spread=1.0),
    # Large logits: only a max-subtracting softmax survives exp of these in float32.
    case(rows=3, vocab=29, temperature=4.0, scale=60.0, spread=1.0),
]
out = dict(torch_version=torch.__version__, cases=cases)
path = os.path.join(os.path.dirname(__file__), "..", "..", "golden", "distill_reference.json")
with open(path, "w") as f:
    json.dump(out, f, sort_keys=True)
    f.write("\n")
print("wrote", os.path.normpath(path))
