#!/usr/bin/env python3
"""GRPO reference values from PyTorch autograd (float64), for
Tests/SimplyPosttrainingTests/GRPOTests.swift. Writes golden/grpo_reference.json.

Written the way TRL's grpo_trainer.py computes them, on padded
[B, T] tensors with a completion mask:
  advantages: r - mean_group, divided by (std + 1e-4) with torch.std (unbiased)
    over the group (`group`) or the batch (`batch`), or not (`none`);
  log_ratio = logp - old; token level: log_w = log_ratio; sequence level (GSPO):
    log_w = sum(log_ratio * mask) / mask.sum() per sequence;
  coef_1 = exp(log_w); coef_2 = clamp(coef_1, 1 - eps_low, 1 + eps_high);
  per_token = -min(coef_1 * A, coef_2 * A) + beta * (exp(ref - logp) - (ref - logp) - 1);
  grpo: mean over sequences of (per_token * mask).sum(-1) / mask.sum(-1);
  dr_grpo: (per_token * mask).sum() / (B * T); dapo: (per_token * mask).sum() / mask.sum().
Run: /work/pyenv/bin/python tools/reference/grpo_reference.py
"""
import json, os
import torch

torch.manual_seed(0)
D = torch.float64

adv_cases = []
for scaling in ["group", "batch", "none"]:
    for _ in range(3):
        g = int(torch.randint(2, 6, (1,)))
        groups = int(torch.randint(1, 4, (1,)))
        rewards = torch.randint(0, 3, (groups * g,)).to(D) * 0.5
        rewards[:g] = 1.0 if groups > 1 else rewards[:g]   # a zero-spread group when there are several
        grouped = rewards.view(-1, g)
        mean = grouped.mean(dim=1).repeat_interleave(g)
        if scaling == "batch":
            std = rewards.std().expand_as(rewards)
            group_std = grouped.std(dim=1).repeat_interleave(g)
        else:
            std = grouped.std(dim=1).repeat_interleave(g)
            group_std = std
        adv = rewards - mean
        if scaling != "none":
            adv = adv / (std + 1e-4)
        zero = torch.isclose(grouped.std(dim=1) if scaling != "batch" else rewards.std().expand(groups),
                             torch.zeros(groups, dtype=D))
        adv_cases.append(dict(scaling=scaling, group_size=g, rewards=rewards.tolist(),
                              advantages=adv.tolist(), zero_std=zero.tolist()))

loss_cases = []
for level in ["token", "sequence"]:
    for agg in ["grpo", "dr_grpo", "dapo"]:
        for beta, eps_low, eps_high in [(0.0, 0.2, 0.2), (0.04, 0.2, 0.28), (0.5, 0.1, 0.3)]:
            B, T = 4, 6
            lengths = [int(x) for x in torch.randint(1, T + 1, (B,))]
            mask = torch.zeros(B, T, dtype=D)
            for i, n in enumerate(lengths):
                mask[i, :n] = 1
            base = -torch.rand(B, T, dtype=D) * 3
            logp = base.clone().requires_grad_(True)
            old = base + torch.randn(B, T, dtype=D) * 0.25    # ratios spread across the clip range
            ref = base + torch.randn(B, T, dtype=D) * 0.5
            adv = torch.randn(B, dtype=D)
            log_ratio = logp - old
            if level == "token":
                log_w = log_ratio
            else:
                log_w = ((log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).unsqueeze(-1)
            coef_1 = torch.exp(log_w)
            coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
            l1 = coef_1 * adv.unsqueeze(1)
            l2 = coef_2 * adv.unsqueeze(1)
            per_token = -torch.min(l1, l2)
            kl = torch.exp(ref - logp) - (ref - logp) - 1
            if beta != 0.0:
                per_token = per_token + beta * kl
            if agg == "grpo":
                loss = ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
            elif agg == "dr_grpo":
                loss = (per_token * mask).sum() / (B * T)
            else:
                loss = (per_token * mask).sum() / mask.sum().clamp(min=1.0)
            loss.backward()
            low = ((coef_1 < 1 - eps_low) & (adv.unsqueeze(1) < 0)).expand(B, T).to(D)
            high = ((coef_1 > 1 + eps_high) & (adv.unsqueeze(1) > 0)).expand(B, T).to(D)
            seqs = []
            for i, n in enumerate(lengths):
                seqs.append(dict(logps=base[i, :n].tolist(), old_logps=old[i, :n].tolist(), ref_logps=ref[i, :n].tolist(),
                                 advantage=adv[i].item(), d_logps=logp.grad[i, :n].tolist()))
            loss_cases.append(dict(level=level, aggregation=agg, beta=beta, epsilon_low=eps_low, epsilon_high=eps_high,
                                   max_completion_length=T, sequences=seqs, loss=loss.item(),
                                   kl_mean=((kl * mask).sum() / mask.sum()).item(),
                                   low_clipped=int((low * mask).sum().item()), high_clipped=int((high * mask).sum().item())))

out = os.path.join(os.path.dirname(__file__), "..", "..", "golden", "grpo_reference.json")
with open(out, "w") as f:
    json.dump({"generator": "tools/reference/grpo_reference.py", "torch": torch.__version__,
               "advantages": adv_cases, "losses": loss_cases}, f, indent=1)
print(f"wrote {out}: {len(adv_cases)} advantage cases, {len(loss_cases)} loss cases")
