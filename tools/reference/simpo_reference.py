#!/usr/bin/env python3
"""SimPO's end-to-end PyTorch reference (Meng et al. 2024; TRL `cpo_trainer.py`
with loss_type="simpo").

One batch of 4 preference pairs through the decoder of objectives_reference.py
(float64), the loss as TRL's CPOTrainer computes it for SimPO:

    a      = mean log-prob of a completion's tokens      (average_log_prob=True for simpo)
    z      = β · (a_c − a_r) − γ                           (TRL: logits − simpo_gamma / β, times β)
    loss   = mean over pairs of −(1 − ε) log σ(z) − ε log σ(−z)  +  cpo_alpha · NLL(chosen tokens of the batch)

and the gradient of every parameter by autograd, written to
golden/objectives/simpo.safetensors in objectives_reference.py's layout
(ObjectiveReferenceTests checks Simply's trainer against it). Regenerate with:

    /tmp/venv/bin/python tools/reference/simpo_reference.py [OUT_DIR]
"""
import os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import objectives_reference as R   # noqa: E402


def simpo():
    m = R.Model(V=264, D=32, L=2, H=4, KV=2, F=56, T=20)
    p = m.weights(51)
    g = torch.Generator().manual_seed(52)
    pairs = R.preference_pairs(g)
    prompts = [a for a, _, _ in pairs for _ in (0, 1)]
    completions = [s for _, c, r in pairs for s in (c, r)]
    lp = m.completion_logps(p, prompts, completions)
    avg = torch.stack([x.sum() / len(x) for x in lp])
    ac, ar = avg[0::2], avg[1::2]
    beta, gamma, eps, alpha = 2.0, 1.0, 0.1, 0.5
    logits = (ac - ar) - gamma / beta
    losses = (-torch.nn.functional.logsigmoid(beta * logits) * (1 - eps)
              - torch.nn.functional.logsigmoid(-beta * logits) * eps)
    chosen = lp[0::2]
    nll = -torch.cat(chosen).sum() / sum(len(x) for x in chosen)
    loss = losses.mean() + alpha * nll
    R.save("simpo", m, p, loss, {}, dict(
        mode="simpo", overrides=m.overrides() + ["train.training_mode=simpo", "train.batch_size=4", "train.grad_shards=2",
                                                f"simpo.beta={beta}", f"simpo.gamma={gamma}", f"simpo.label_smoothing={eps}",
                                                f"simpo.cpo_alpha={alpha}"],
        kind="preference", examples=[dict(prompt=a, chosen=c, rejected=r) for a, c, r in pairs],
        notes="TRL CPOTrainer.cpo_loss, loss_type simpo, with label smoothing and the CPO NLL term (cpo_alpha)"))


if __name__ == "__main__":
    torch.manual_seed(0)
    simpo()
