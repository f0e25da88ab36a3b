#!/usr/bin/env python3
"""DPO loss reference values from PyTorch autograd (float64), for
Tests/SimplyPosttrainingTests/DPOTests.swift. Writes golden/dpo_reference.json.

The formulas are TRL's (dpo_trainer.py): Δ = (π_c − ρ_c) − (π_r − ρ_r)
with summed log-probs (per-token means for ipo);
sigmoid −(1−ε)·logσ(βΔ) − ε·logσ(−βΔ); hinge relu(1 − βΔ); ipo (Δ − 1/(2β))².
Run: /work/pyenv/bin/python tools/reference/dpo_reference.py
"""
import json, os
import torch
import torch.nn.functional as F

torch.manual_seed(0)
cases = []
for kind in ["sigmoid", "ipo", "hinge"]:
    for beta, eps in [(0.1, 0.0), (0.5, 0.0), (0.1, 0.2), (2.0, 0.1)]:
        if kind != "sigmoid" and eps != 0.0:
            continue
        for _ in range(4):
            pc, pr, rc, rr = (torch.randn(4, dtype=torch.float64) * 8 - 20).tolist()
            lc, lr = int(torch.randint(1, 30, (1,))), int(torch.randint(1, 30, (1,)))
            pct = torch.tensor(pc, dtype=torch.float64, requires_grad=True)
            prt = torch.tensor(pr, dtype=torch.float64, requires_grad=True)
            if kind == "ipo":
                delta = (pct - rc) / lc - (prt - rr) / lr
            else:
                delta = (pct - rc) - (prt - rr)
            if kind == "sigmoid":
                loss = -(1 - eps) * F.logsigmoid(beta * delta) - eps * F.logsigmoid(-beta * delta)
            elif kind == "hinge":
                loss = torch.relu(1 - beta * delta)
            else:
                loss = (delta - 1 / (2 * beta)) ** 2
            loss.backward()
            cases.append(dict(kind=kind, beta=beta, label_smoothing=eps, policy_chosen=pc, policy_rejected=pr,
                              reference_chosen=rc, reference_rejected=rr, chosen_length=lc, rejected_length=lr,
                              loss=loss.item(), d_chosen=pct.grad.item(), d_rejected=prt.grad.item()))
out = os.path.join(os.path.dirname(__file__), "..", "..", "golden", "dpo_reference.json")
with open(out, "w") as f:
    json.dump({"generator": "tools/reference/dpo_reference.py", "torch": torch.__version__, "cases": cases}, f, indent=1)
print(f"wrote {out}: {len(cases)} cases")
