#!/usr/bin/env python3
"""PPO reference values from PyTorch autograd (float64), for
Tests/SimplyPosttrainingTests/PPOTests.swift. Writes golden/ppo_reference.json.

Written the way TRL's ppo_trainer.py computes them, on padded
[B, T] tensors with padding_mask (True after a completion's last token):
  logr = ref_logprobs - logprobs; kl = -logr (k1) or (exp(logr) - 1) - logr (k3);
  rewards = -kl_coef * kl, plus the score at the last completion token
    (Simply adds it there; TRL adds it one position later, see docs/posttraining/ppo.md);
  whiten_rewards: masked_whiten(rewards, mask, shift_mean=False);
  GAE backwards over t: delta = r_t + gamma * V_{t+1} - V_t (V = 0 after the end),
    A_t = delta + gamma * lam * A_{t+1}; returns = A + V; advantages = masked_whiten(A, mask);
  then for new log-probs and values (autograd leaves):
    ratio = exp(new - old); pg = max(-A * ratio, -A * clamp(ratio, 1 - c, 1 + c)), masked mean;
    vf = 0.5 * masked mean of max((V - R)^2, (clamp(V, V_old - cv, V_old + cv) - R)^2);
    loss = pg + vf_coef * vf; d loss / d new log-probs and d loss / d V.
Run: /work/pyenv/bin/python tools/reference/ppo_reference.py
"""
import json, os
import torch

torch.manual_seed(0)
D = torch.float64


# TRL's trl/trainer/utils.py (core.py) helpers.
def masked_mean(values, mask):
    return (values * mask).sum() / mask.sum()


def masked_var(values, mask, unbiased=True):
    mean = masked_mean(values, mask)
    centered = values - mean
    variance = masked_mean(centered ** 2, mask)
    if unbiased:
        s = mask.sum()
        variance = variance * (s / (s - 1))
    return variance


def masked_whiten(values, mask, shift_mean=True):
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened += mean
    return whitened


def ragged(x, lengths):
    return [x[i, :n].tolist() for i, n in enumerate(lengths)]


cases = []
settings = [
    dict(kl_estimator="k1", kl_coef=0.05, whiten_rewards=False, gamma=1.0, lam=0.95, cliprange=0.2, cliprange_value=0.2, vf_coef=0.1),
    dict(kl_estimator="k3", kl_coef=0.05, whiten_rewards=False, gamma=1.0, lam=0.95, cliprange=0.2, cliprange_value=0.2, vf_coef=0.1),
    dict(kl_estimator="k1", kl_coef=0.2, whiten_rewards=True, gamma=0.9, lam=0.8, cliprange=0.1, cliprange_value=0.5, vf_coef=0.5),
    dict(kl_estimator="k3", kl_coef=0.1, whiten_rewards=True, gamma=0.99, lam=1.0, cliprange=0.3, cliprange_value=0.05, vf_coef=1.0),
    dict(kl_estimator="k1", kl_coef=0.0, whiten_rewards=False, gamma=1.0, lam=0.95, cliprange=0.2, cliprange_value=0.2, vf_coef=0.1),
]
for s in settings:
    for variant in range(2):
        B = int(torch.randint(2, 6, (1,)))
        T = 7
        lengths = [int(torch.randint(1, T + 1, (1,))) for _ in range(B)]
        idx = torch.arange(T).repeat(B, 1)
        padding_mask = idx >= torch.tensor(lengths).unsqueeze(1)
        mask = (~padding_mask).to(D)
        logprobs = -torch.rand(B, T, dtype=D) * 3
        ref_logprobs = logprobs + torch.randn(B, T, dtype=D) * 0.3
        values = torch.randn(B, T, dtype=D)
        scores = torch.randn(B, dtype=D) * 2
        logprobs = logprobs.masked_fill(padding_mask, 1.0)       # TRL's INVALID_LOGPROB
        ref_logprobs = ref_logprobs.masked_fill(padding_mask, 1.0)
        values = values.masked_fill(padding_mask, 0)

        logr = ref_logprobs - logprobs
        kl = -logr if s["kl_estimator"] == "k1" else (logr.exp() - 1) - logr
        rewards = -s["kl_coef"] * kl
        rewards[torch.arange(B), torch.tensor(lengths) - 1] += scores
        if s["whiten_rewards"]:
            rewards = masked_whiten(rewards, mask, shift_mean=False)
            rewards = rewards.masked_fill(padding_mask, 0)
        lastgaelam = 0
        rev = []
        for t in reversed(range(T)):
            nextvalues = values[:, t + 1] if t < T - 1 else 0.0
            delta = rewards[:, t] + s["gamma"] * nextvalues - values[:, t]
            lastgaelam = delta + s["gamma"] * s["lam"] * lastgaelam
            rev.append(lastgaelam)
        advantages = torch.stack(rev[::-1], axis=1)
        returns = advantages + values
        advantages = masked_whiten(advantages, mask)
        advantages = advantages.masked_fill(padding_mask, 0)

        # New log-probs and values: a first-epoch case (equal to the old ones:
        # ratio 1, value unclipped) and a later-epoch one that moved.
        if variant == 0:
            new_lp = logprobs.clone()
            new_v = values.clone()
        else:
            new_lp = logprobs + torch.randn(B, T, dtype=D) * 0.25
            new_v = values + torch.randn(B, T, dtype=D) * 0.3
        new_lp = new_lp.masked_fill(padding_mask, 1.0).requires_grad_(True)
        new_v = new_v.masked_fill(padding_mask, 0).requires_grad_(True)

        vclip = torch.clamp(new_v, values - s["cliprange_value"], values + s["cliprange_value"])
        vf1 = torch.square(new_v - returns)
        vf2 = torch.square(vclip - returns)
        vf_loss = 0.5 * masked_mean(torch.max(vf1, vf2), mask)
        vf_clipfrac = masked_mean((vf2 > vf1).to(D), mask)
        diff = new_lp - logprobs
        ratio = torch.exp(diff)
        pg1 = -advantages * ratio
        pg2 = -advantages * torch.clamp(ratio, 1.0 - s["cliprange"], 1.0 + s["cliprange"])
        pg_loss = masked_mean(torch.max(pg1, pg2), mask)
        pg_clipfrac = masked_mean((pg2 > pg1).to(D), mask)
        loss = pg_loss + s["vf_coef"] * vf_loss
        loss.backward()

        cases.append(dict(settings=s, lengths=lengths, scores=scores.tolist(),
                          logps=ragged(logprobs, lengths), ref_logps=ragged(ref_logprobs, lengths),
                          values=ragged(values, lengths),
                          kl=ragged(kl, lengths), rewards=ragged(rewards, lengths),
                          advantages=ragged(advantages, lengths), returns=ragged(returns, lengths),
                          new_logps=ragged(new_lp.detach(), lengths), new_values=ragged(new_v.detach(), lengths),
                          policy_loss=pg_loss.item(), value_loss=vf_loss.item(), loss=loss.item(),
                          policy_clipfrac=pg_clipfrac.item(), value_clipfrac=vf_clipfrac.item(),
                          d_logps=ragged(new_lp.grad, lengths), d_values=ragged(new_v.grad, lengths)))

out = os.path.join(os.path.dirname(__file__), "..", "..", "golden", "ppo_reference.json")
with open(out, "w") as f:
    json.dump({"generator": "tools/reference/ppo_reference.py", "torch": torch.__version__, "cases": cases}, f, indent=1)
print(f"wrote {len(cases)} cases to {os.path.normpath(out)}")
