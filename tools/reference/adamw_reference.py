#!/usr/bin/env python3
"""Writes golden/adamw_reference.json: torch.optim.AdamW on fixed parameters and
gradients for a few steps, with a changing learning rate, one tensor decayed and
one not (as Simply decays matrices but not norm weights).

    python3 -m venv .venv && .venv/bin/pip install torch==2.13.0+cpu
    .venv/bin/python tools/reference/adamw_reference.py
"""
import json, os
import torch

torch.manual_seed(0)
cfg = dict(beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1)
lrs = [1e-3, 3e-3, 2e-3, 5e-4, 1e-2]
w = torch.randn(24, dtype=torch.float32) * 0.5    # decayed
n = torch.randn(8, dtype=torch.float32) + 1.0     # not decayed
grads = [(torch.randn(24) * (10 ** (k % 3 - 1)), torch.randn(8) * 0.1) for k in range(len(lrs))]
init = (w.clone(), n.clone())
pw, pn = torch.nn.Parameter(w.clone()), torch.nn.Parameter(n.clone())
opt = torch.optim.AdamW([{"params": [pw], "weight_decay": cfg["weight_decay"]},
                         {"params": [pn], "weight_decay": 0.0}],
                        lr=lrs[0], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"], foreach=False)
steps = []
for lr, (gw, gn) in zip(lrs, grads):
    for g in opt.param_groups:
        g["lr"] = lr
    pw.grad, pn.grad = gw.clone(), gn.clone()
    opt.step()
    steps.append(dict(lr=lr, grad_decayed=gw.tolist(), grad_plain=gn.tolist(),
                      decayed=pw.detach().tolist(), plain=pn.detach().tolist()))
out = dict(torch_version=torch.__version__, config=cfg, init_decayed=init[0].tolist(),
           init_plain=init[1].tolist(), steps=steps)
path = os.path.join(os.path.dirname(__file__), "..", "..", "golden", "adamw_reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
print("wrote", os.path.normpath(path))
