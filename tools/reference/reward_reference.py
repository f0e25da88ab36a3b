#!/usr/bin/env python3
"""Writes golden/reward_reference.json: the reward-model (Bradley-Terry) loss of
TRL's RewardTrainer and its gradient with respect to each reward, by PyTorch
autograd in float64, for a few batches of chosen/rejected rewards:

    loss = mean(-logsigmoid(r_c - r_r - margin)) + center * mean((r_c + r_r)^2)

Simply's BradleyTerry.loss must match it (Tests/SimplyPosttrainingTests).

    /work/pyenv/bin/python tools/reference/reward_reference.py   (torch 2.13.0+cpu)
"""
import json, os
import torch
import torch.nn.functional as F

torch.manual_seed(0)
cases = []


def add(name, chosen, rejected, margin, center):
    c = torch.tensor(chosen, dtype=torch.float64, requires_grad=True)
    r = torch.tensor(rejected, dtype=torch.float64, requires_grad=True)
    loss = -F.logsigmoid(c - r - margin).mean()
    if center:
        loss = loss + center * torch.mean((c + r) ** 2)
    loss.backward()
    cases.append(dict(name=name, chosen=c.detach().tolist(), rejected=r.detach().tolist(),
                      margin=margin, center_coefficient=center, loss=loss.item(),
                      d_chosen=c.grad.tolist(), d_rejected=r.grad.tolist()))


add("plain", (torch.randn(8, dtype=torch.float64)).tolist(), (torch.randn(8, dtype=torch.float64)).tolist(), 0.0, 0.0)
add("margin_center", (torch.randn(16, dtype=torch.float64) * 2).tolist(),
    (torch.randn(16, dtype=torch.float64) * 2).tolist(), 0.5, 0.01)
# Large gaps both ways (stability), ties, and a negative margin.
add("extremes", [30.0, -30.0, 5.0, 0.0, 1e-3, 12.5, -7.25, 0.0],
    [-30.0, 30.0, -5.0, 0.0, 0.0, 12.5, 3.0, 20.0], -0.3, 0.1)
add("single", [0.7], [1.9], 1.0, 0.0)

out = os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reward_reference.json")
with open(out, "w") as f:
    json.dump(dict(generator="tools/reference/reward_reference.py", torch=torch.__version__, cases=cases),
              f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", os.path.normpath(out), len(cases), "cases")
