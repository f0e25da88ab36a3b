#!/usr/bin/env python3
"""ORPO's end-to-end PyTorch reference (Hong et al. 2024; TRL `orpo_trainer.py`).

One batch of 4 preference pairs through the decoder of objectives_reference.py
(float64), the loss as TRL computes it:

    a        = mean log-prob of a completion's tokens      (average_log_prob=True)
    log odds = (a_c − a_r) − (log1p(−exp(a_c)) − log1p(−exp(a_r)))
    loss     = NLL(chosen tokens of the batch) − mean over pairs of β · log σ(log odds)

and the gradient of every parameter by autograd, written to
golden/objectives/orpo.safetensors in objectives_reference.py's layout
(ObjectiveReferenceTests checks Simply's trainer against it). Regenerate with:

    /tmp/venv/bin/python tools/reference/orpo_reference.py [OUT_DIR]
"""
import os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import objectives_reference as R   # noqa: E402


def orpo():
    m = R.Model(V=264, D=32, L=2, H=4, KV=2, F=56, T=20)
    p = m.weights(41)
    g = torch.Generator().manual_seed(42)
    pairs = R.preference_pairs(g)
    prompts = [a for a, _, _ in pairs for _ in (0, 1)]
    completions = [s for _, c, r in pairs for s in (c, r)]
    lp = m.completion_logps(p, prompts, completions)
    avg = torch.stack([x.sum() / len(x) for x in lp])
    ac, ar = avg[0::2], avg[1::2]
    beta = 0.25
    log_odds = (ac - ar) - (torch.log1p(-torch.exp(ac)) - torch.log1p(-torch.exp(ar)))
    ratio = torch.nn.functional.logsigmoid(log_odds)
    chosen = lp[0::2]
    nll = -torch.cat(chosen).sum() / sum(len(x) for x in chosen)
    loss = nll - (beta * ratio).mean()
    R.save("orpo", m, p, loss, {}, dict(
        mode="orpo", overrides=m.overrides() + ["train.training_mode=orpo", "train.batch_size=4", "train.grad_shards=2",
                                               f"orpo.beta={beta}"],
        kind="preference", examples=[dict(prompt=a, chosen=c, rejected=r) for a, c, r in pairs],
        notes="TRL ORPOTrainer.odds_ratio_loss with average log-probs; NLL averaged over the batch's chosen tokens"))


if __name__ == "__main__":
    torch.manual_seed(0)
    orpo()
