#!/usr/bin/env python3
"""End-to-end PyTorch references for every post-training objective.

For one real batch of each objective this script builds the Llama-style
decoder in plain PyTorch (float64, the conventions of torch_reference.py),
turns raw examples into rows, masks, gathered log-probabilities and score
positions itself (never reading Simply's code or outputs), computes the loss
the way TRL defines it (docs/posttraining/*.md state where Simply differs on
purpose), and takes the gradient of every parameter tensor by autograd.
It writes golden/objectives/NAME.safetensors:

  policy.<param>      F32  the weights the policy starts from
  reference.<param>   F32  DPO's reference, GRPO's KL reference, the
                           distillation teacher (absent when unused)
  state.<name>        F32  GRPO's and PPO's fixed rollout, in the layout of
                           their checkpointed state tensors
  tokens              I64  distillation: the token stream (batch windows)
  grad.<param>        F64  d loss / d policy weight
  loss                F64  [1]
  __metadata__        overrides (the config as key=value lines), examples
                      (JSON: the .ex shard to write, token ids), notes

Tests/SimplyPosttrainingTests/ObjectiveReferenceTests.swift trains one
gradient step of each through Simply's trainer (shards and tree sum included)
and compares every gradient. Regenerate with:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch==2.13.0+cpu safetensors numpy
    /tmp/venv/bin/python tools/reference/objectives_reference.py [OUT_DIR]   # default: golden/objectives
"""
import json, math, os, sys
import torch
from safetensors.torch import save_file

DT = torch.float64
PAD, EOS = 258, 257   # the byte tokenizer's <|pad|> and <|eos|>
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "golden", "objectives")


class Model:
    def __init__(self, V, D, L, H, KV, F, T, theta=10000.0, eps=1e-5, score_head=False):
        self.V, self.D, self.L, self.H, self.KV, self.F, self.T = V, D, L, H, KV, F, T
        self.HD, self.theta, self.eps, self.score_head = D // H, theta, eps, score_head

    def overrides(self):
        return [f"model.vocab_size={self.V}", f"model.d_model={self.D}", f"model.n_layers={self.L}",
                f"model.n_heads={self.H}", f"model.n_kv_heads={self.KV}", f"model.d_ff={self.F}",
                f"model.seq_len={self.T}", "model.tie_embeddings=true",
                f"model.score_head={'true' if self.score_head else 'false'}"]

    def weights(self, seed):
        g = torch.Generator().manual_seed(seed)
        D, F, H, KV, HD = self.D, self.F, self.H, self.KV, self.HD
        def rnd(*shape, scale):
            return torch.randn(*shape, dtype=DT, generator=g) * scale
        p = {"model.embed_tokens.weight": rnd(self.V, D, scale=0.5)}
        for l in range(self.L):
            q = f"model.layers.{l}."
            p[q + "input_layernorm.weight"] = 1 + rnd(D, scale=0.1)
            p[q + "self_attn.q_proj.weight"] = rnd(H * HD, D, scale=0.3)
            p[q + "self_attn.k_proj.weight"] = rnd(KV * HD, D, scale=0.3)
            p[q + "self_attn.v_proj.weight"] = rnd(KV * HD, D, scale=0.3)
            p[q + "self_attn.o_proj.weight"] = rnd(D, H * HD, scale=0.3)
            p[q + "post_attention_layernorm.weight"] = 1 + rnd(D, scale=0.1)
            p[q + "mlp.gate_proj.weight"] = rnd(F, D, scale=0.3)
            p[q + "mlp.up_proj.weight"] = rnd(F, D, scale=0.3)
            p[q + "mlp.down_proj.weight"] = rnd(D, F, scale=0.3)
        p["model.norm.weight"] = 1 + rnd(D, scale=0.1)
        if self.score_head:
            p["score.weight"] = rnd(1, D, scale=0.3)
        # Both sides start from the same float32 weights.
        return {k: v.float().double().requires_grad_(True) for k, v in p.items()}

    def forward(self, p, tokens):
        """tokens [B, T] -> (final normed hidden [B, T, D], logits [B, T, V])."""
        B, T = tokens.shape
        H, KV, HD = self.H, self.KV, self.HD
        inv = 1.0 / (self.theta ** (torch.arange(0, HD, 2, dtype=DT) / HD))
        ang = torch.arange(T, dtype=DT)[:, None] * inv[None, :]
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        norm = lambda x, w: x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps) * w
        rot = lambda x: torch.cat([-x[..., HD // 2:], x[..., :HD // 2]], -1)
        x = p["model.embed_tokens.weight"][tokens]
        for l in range(self.L):
            q_ = f"model.layers.{l}."
            h = norm(x, p[q_ + "input_layernorm.weight"])
            q = (h @ p[q_ + "self_attn.q_proj.weight"].T).view(B, T, H, HD).transpose(1, 2)
            k = (h @ p[q_ + "self_attn.k_proj.weight"].T).view(B, T, KV, HD).transpose(1, 2)
            v = (h @ p[q_ + "self_attn.v_proj.weight"].T).view(B, T, KV, HD).transpose(1, 2)
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(HD)
            a = (s.masked_fill(causal, float("-inf")).softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * HD)
            x = x + a @ p[q_ + "self_attn.o_proj.weight"].T
            h = norm(x, p[q_ + "post_attention_layernorm.weight"])
            x = x + (torch.nn.functional.silu(h @ p[q_ + "mlp.gate_proj.weight"].T) * (h @ p[q_ + "mlp.up_proj.weight"].T)) \
                @ p[q_ + "mlp.down_proj.weight"].T
        h = norm(x, p["model.norm.weight"])
        return h, h @ p["model.embed_tokens.weight"].T

    def rows(self, seqs):
        """Token lists -> [B, T] inputs, [B, T] targets (each cut to T + 1 tokens, padded)."""
        T = self.T
        inp = torch.full((len(seqs), T), PAD, dtype=torch.long)
        tgt = torch.full((len(seqs), T), PAD, dtype=torch.long)
        for i, s in enumerate(seqs):
            s = s[:T + 1]
            inp[i, :min(len(s), T)] = torch.tensor(s[:T])
            if len(s) > 1:
                tgt[i, :len(s) - 1] = torch.tensor(s[1:])
        return inp, tgt

    def completion_logps(self, p, prompts, completions):
        """Per sequence: log π of each completion token that fits in the row (prompt + completion cut to T + 1)."""
        _, logits = self.forward(p, self.rows([a + b for a, b in zip(prompts, completions)])[0])
        logp = logits.log_softmax(-1)
        out = []
        for i, (a, b) in enumerate(zip(prompts, completions)):
            n = min(len(b), self.T + 1 - len(a))
            # completion token k sits at sequence index len(a) + k and is predicted at position len(a) + k - 1.
            out.append(torch.stack([logp[i, len(a) + k - 1, b[k]] for k in range(n)]) if n > 0 else torch.zeros(0, dtype=DT))
        return out


def rand_tokens(g, n):
    return torch.randint(0, 256, (n,), generator=g).tolist()


def save(name, model, policy, loss, extra_tensors, metadata, reference=None):
    loss.backward()
    out = {"policy." + k: v.detach().float().contiguous() for k, v in policy.items()}
    out.update({"grad." + k: v.grad.detach().contiguous() for k, v in policy.items()})
    if reference is not None:
        out.update({"reference." + k: v.detach().float().contiguous() for k, v in reference.items()})
    out.update(extra_tensors)
    out["loss"] = loss.detach().reshape(1)
    meta = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in metadata.items()}
    meta["torch_version"] = torch.__version__
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"{name}.safetensors")
    save_file(out, path, metadata=meta)
    print(f"wrote {os.path.normpath(path)}: loss {loss.item():.9f}")


def examples_prompt_completion(g, n, lengths):
    """n (prompt, completion) pairs with the given (prompt length, completion length) list."""
    return [(rand_tokens(g, a), rand_tokens(g, b) + [EOS]) for a, b in lengths[:n]]


def sft():
    m = Model(V=264, D=32, L=2, H=4, KV=2, F=56, T=20)
    p = m.weights(11)
    g = torch.Generator().manual_seed(12)
    # One example runs past seq_len + 1 (cut), one is short (padded).
    pairs = examples_prompt_completion(g, 4, [(6, 5), (3, 2), (12, 14), (9, 1)])
    inp, tgt = m.rows([a + b for a, b in pairs])
    mask = torch.zeros(inp.shape, dtype=DT)
    for i, (a, b) in enumerate(pairs):
        n = min(len(a) + len(b), m.T + 1)
        for j in range(n - 1):
            mask[i, j] = 1.0 if j + 1 >= len(a) else 0.0   # the target is a completion token
    _, logits = m.forward(p, inp)
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, m.V), tgt.reshape(-1), reduction="none").view(inp.shape)
    loss = (ce * mask).sum() / mask.sum()
    save("sft", m, p, loss, {}, dict(
        mode="sft", overrides=m.overrides() + ["train.training_mode=sft", "train.batch_size=4", "train.grad_shards=2"],
        kind="supervised", examples=[dict(prompt=a, completion=b) for a, b in pairs]))


def preference_pairs(g):
    out = []
    for a, c, r in [(5, 4, 6), (8, 3, 3), (4, 9, 2), (7, 12, 13)]:   # the last pair runs past seq_len + 1
        out.append((rand_tokens(g, a), rand_tokens(g, c) + [EOS], rand_tokens(g, r) + [EOS]))
    return out


def reward():
    m = Model(V=264, D=32, L=2, H=4, KV=2, F=56, T=20, score_head=True)
    p = m.weights(21)
    g = torch.Generator().manual_seed(22)
    pairs = preference_pairs(g)
    seqs = [s for a, c, r in pairs for s in (a + c, a + r)]
    inp, _ = m.rows(seqs)
    h, _ = m.forward(p, inp)
    # The reward is the score head at the last input position holding a token of the (cut) sequence.
    last = torch.tensor([min(len(s), m.T) - 1 for s in seqs])
    r = (h[torch.arange(len(seqs)), last] @ p["score.weight"].T).squeeze(-1)
    rc, rr = r[0::2], r[1::2]
    center = 0.01
    loss = (-torch.nn.functional.logsigmoid(rc - rr)).mean() + center * ((rc + rr) ** 2).mean()
    save("reward", m, p, loss, {}, dict(
        mode="reward", overrides=m.overrides() + ["train.training_mode=reward", "train.batch_size=4", "train.grad_shards=2",
                                                 "reward.margin=0", f"reward.center_coefficient={center}"],
        kind="preference", examples=[dict(prompt=a, chosen=c, rejected=r) for a, c, r in pairs]))


def dpo():
    m = Model(V=264, D=32, L=2, H=4, KV=2, F=56, T=20)
    p, ref = m.weights(31), m.weights(32)
    g = torch.Generator().manual_seed(33)
    pairs = preference_pairs(g)
    prompts = [a for a, _, _ in pairs for _ in (0, 1)]
    completions = [s for _, c, r in pairs for s in (c, r)]
    lp = [x.sum() for x in m.completion_logps(p, prompts, completions)]
    with torch.no_grad():
        lr = [x.sum() for x in m.completion_logps(ref, prompts, completions)]
    beta, alpha = 0.1, 0.5
    logits = torch.stack([(lp[2 * i] - lr[2 * i]) - (lp[2 * i + 1] - lr[2 * i + 1]) for i in range(len(pairs))])
    dpo_loss = (-torch.nn.functional.logsigmoid(beta * logits)).mean()
    # RPO (TRL rpo_alpha): α · the NLL of the chosen completions, averaged over their tokens in the batch.
    chosen = m.completion_logps(p, prompts[0::2], completions[0::2])
    nll = -torch.cat(chosen).sum() / sum(len(x) for x in chosen)
    loss = dpo_loss + alpha * nll
    save("dpo", m, p, loss, {}, dict(
        mode="dpo", overrides=m.overrides() + ["train.training_mode=dpo", "train.batch_size=4", "train.grad_shards=2",
                                              f"dpo.beta={beta}", "dpo.loss_type=sigmoid", f"dpo.rpo_alpha={alpha}"],
        kind="preference", examples=[dict(prompt=a, chosen=c, rejected=r) for a, c, r in pairs]), reference=ref)


def grpo():
    m = Model(V=264, D=32, L=2, H=4, KV=2, F=56, T=24)
    p, ref = m.weights(41), m.weights(42)
    g = torch.Generator().manual_seed(43)
    G, R = 4, 8                      # completions per prompt; grpo.max_completion_length
    prompts = [rand_tokens(g, 7), rand_tokens(g, 10)]
    lens = [3, 8, 1, 5, 6, 2, 8, 4]
    completions = [rand_tokens(g, n - 1) + [EOS] for n in lens]
    rows_prompts = [prompts[i // G] for i in range(len(lens))]
    rewards = torch.tensor([1, 0, 0, 1, 0.5, 0, 1, 1], dtype=DT)
    logps = m.completion_logps(p, rows_prompts, completions)
    with torch.no_grad():
        ref_logps = m.completion_logps(ref, rows_prompts, completions)
        # The rollout's log π_old: the policy's, moved (the policy changed since the rollout), rounded to float32.
        old = [(x + 0.3 * torch.randn(len(x), dtype=DT, generator=g)).float().double() for x in logps]
    grouped = rewards.view(-1, G)
    adv = ((grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + 1e-4)).view(-1)
    beta, eps = 0.1, 0.2
    per_seq = []
    for i in range(len(lens)):
        ratio = torch.exp(logps[i] - old[i])
        surrogate = torch.min(ratio * adv[i], torch.clamp(ratio, 1 - eps, 1 + eps) * adv[i])
        d = ref_logps[i] - logps[i]
        kl = torch.exp(d) - d - 1
        per_seq.append((-surrogate + beta * kl).mean())   # loss_type grpo: each sequence's token mean
    loss = torch.stack(per_seq).mean()
    # The state tensors of grpo.num_iterations = 2 (GRPOObjective): tokens [B, T + 1]; lengths [B, 4]
    # (prompt and completion tokens in the row, the completion's length, stopped); log π_old [B, R]; rewards [1, B].
    B = len(lens)
    tokens = torch.zeros(B, m.T + 1)
    lengths = torch.zeros(B, 4)
    logprobs = torch.zeros(B, R)
    for i in range(B):
        seq = rows_prompts[i] + completions[i]
        tokens[i, :len(seq)] = torch.tensor(seq, dtype=torch.float32)
        lengths[i] = torch.tensor([len(rows_prompts[i]), lens[i], lens[i], 1])
        logprobs[i, :lens[i]] = old[i].float()
    state = {"state.grpo.rollout.tokens": tokens, "state.grpo.rollout.lengths": lengths,
             "state.grpo.rollout.logprobs": logprobs, "state.grpo.rollout.rewards": rewards.float().view(1, B)}
    save("grpo", m, p, loss, state, dict(
        mode="grpo", overrides=m.overrides() + ["train.training_mode=grpo", f"train.batch_size={B}", "train.grad_shards=2",
                                               f"grpo.num_generations={G}", "grpo.num_iterations=2", f"grpo.max_completion_length={R}",
                                               f"grpo.beta={beta}", f"grpo.epsilon={eps}", f"grpo.epsilon_high={eps}",
                                               "grpo.loss_type=grpo", "grpo.scale_rewards=group", "grpo.rewards=exact_match"],
        kind="prompt", examples=[dict(prompt=a, answer="0") for a in prompts]), reference=ref)


def ppo():
    m = Model(V=264, D=32, L=2, H=4, KV=2, F=56, T=24, score_head=True)
    p = m.weights(51)
    g = torch.Generator().manual_seed(52)
    R = 8                                      # ppo.response_length
    prompts = [rand_tokens(g, n) for n in (6, 9, 4, 12)]
    lens = [5, 8, 2, 7]
    completions = [rand_tokens(g, n - 1) + [EOS] for n in lens]
    scores = torch.tensor([1.0, -0.5, 0.25, 2.0], dtype=DT).float().double()
    inp, _ = m.rows([a + b for a, b in zip(prompts, completions)])
    h, logits = m.forward(p, inp)
    logp_all = logits.log_softmax(-1)
    v_all = (h @ p["score.weight"].T).squeeze(-1)
    B = len(lens)
    mask = torch.zeros(B, R, dtype=DT)
    new_lp = torch.zeros(B, R, dtype=DT)
    new_v = torch.zeros(B, R, dtype=DT)
    rows_lp, rows_v = [], []
    for i in range(B):
        a, b = prompts[i], completions[i]
        for k in range(lens[i]):
            # Token k of the completion: its log-probability and its value at the position that predicts it.
            mask[i, k] = 1
            rows_lp.append((i, k, logp_all[i, len(a) + k - 1, b[k]]))
            rows_v.append((i, k, v_all[i, len(a) + k - 1]))
    new_lp = torch.stack([torch.stack([next((x for (r, c, x) in rows_lp if r == i and c == k), torch.tensor(1.0, dtype=DT))
                                       for k in range(R)]) for i in range(B)])
    new_v = torch.stack([torch.stack([next((x for (r, c, x) in rows_v if r == i and c == k), torch.tensor(0.0, dtype=DT))
                                      for k in range(R)]) for i in range(B)])
    with torch.no_grad():
        old_lp = (new_lp + 0.25 * torch.randn(B, R, dtype=DT, generator=g)).float().double()
        ref_lp = (new_lp + 0.3 * torch.randn(B, R, dtype=DT, generator=g)).float().double()
        old_v = (new_v + 0.3 * torch.randn(B, R, dtype=DT, generator=g)).float().double()
    pad = mask == 0
    old_lp, ref_lp, old_v = old_lp.masked_fill(pad, 1.0), ref_lp.masked_fill(pad, 1.0), old_v.masked_fill(pad, 0)
    kl_coef, gamma, lam, cr, crv, vf_coef = 0.05, 1.0, 0.95, 0.2, 0.2, 0.1

    def mmean(x):
        return (x * mask).sum() / mask.sum()

    def whiten(x):
        mean = mmean(x)
        var = mmean((x - mean) ** 2) * (mask.sum() / (mask.sum() - 1))
        return (x - mean) * torch.rsqrt(var + 1e-8)

    kl = old_lp - ref_lp                                    # k1
    rewards = -kl_coef * kl
    rewards = rewards.masked_fill(pad, 0)
    rewards[torch.arange(B), torch.tensor(lens) - 1] += scores   # the score at the last completion token
    last, rev = 0, []
    for t in reversed(range(R)):
        nv = old_v[:, t + 1] if t < R - 1 else 0.0
        delta = rewards[:, t] + gamma * nv - old_v[:, t]
        last = delta + gamma * lam * last
        rev.append(last)
    adv = torch.stack(rev[::-1], 1)
    returns = adv + old_v
    adv = whiten(adv).masked_fill(pad, 0)
    ratio = torch.exp(new_lp - old_lp)
    pg = mmean(torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - cr, 1 + cr)))
    vclip = torch.clamp(new_v, old_v - crv, old_v + crv)
    vf = 0.5 * mmean(torch.max((new_v - returns) ** 2, (vclip - returns) ** 2))
    loss = pg + vf_coef * vf
    # The state tensors of PPOObjective: tokens [B, T + 1]; lengths [B, 3] (prompt length, completion
    # tokens in the row, stopped); log π_old, log π_ref, V_old [B, R]; scores [B].
    tokens = torch.zeros(B, m.T + 1)
    lengths = torch.zeros(B, 3)
    for i in range(B):
        seq = prompts[i] + completions[i]
        tokens[i, :] = PAD
        tokens[i, :len(seq)] = torch.tensor(seq, dtype=torch.float32)
        lengths[i] = torch.tensor([len(prompts[i]), lens[i], 1])
    z = lambda x: x.masked_fill(pad, 0).float()
    state = {"state.ppo.rollout.tokens": tokens, "state.ppo.rollout.lengths": lengths,
             "state.ppo.rollout.logprobs": z(old_lp), "state.ppo.rollout.ref_logprobs": z(ref_lp),
             "state.ppo.rollout.values": z(old_v), "state.ppo.rollout.scores": scores.float()}
    save("ppo", m, p, loss, state, dict(
        mode="ppo", overrides=m.overrides() + ["train.training_mode=ppo", f"train.batch_size={B}", "train.grad_shards=2",
                                              "ppo.num_ppo_epochs=2", "ppo.num_mini_batches=1", f"ppo.response_length={R}",
                                              f"ppo.kl_coef={kl_coef}", "ppo.kl_estimator=k1", "ppo.whiten_rewards=false",
                                              f"ppo.gamma={gamma}", f"ppo.lam={lam}", f"ppo.cliprange={cr}",
                                              f"ppo.cliprange_value={crv}", f"ppo.vf_coef={vf_coef}", "ppo.rewards=exact_match"],
        kind="prompt", examples=[dict(prompt=a, answer="0") for a in prompts]))


def distill():
    # The teacher has the shape of golden/data/teacher (the checkpoint the test loads, then overwrites).
    m = Model(V=512, D=32, L=2, H=4, KV=2, F=56, T=16)
    teacher = Model(V=512, D=16, L=1, H=2, KV=1, F=32, T=16)
    p, tp = m.weights(61), teacher.weights(62)
    g = torch.Generator().manual_seed(63)
    B = 4
    stream = torch.randint(0, 256, (B * m.T + 1,), generator=g)
    # Window e is stream[e·T : e·T + T + 1]: inputs its first T tokens, targets its last T.
    inp = torch.stack([stream[e * m.T: e * m.T + m.T] for e in range(B)])
    tgt = torch.stack([stream[e * m.T + 1: e * m.T + m.T + 1] for e in range(B)])
    _, logits = m.forward(p, inp)
    with torch.no_grad():
        _, tlogits = teacher.forward(tp, inp)
    T_, alpha = 2.0, 0.25
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, m.V), tgt.reshape(-1))
    kd = (torch.nn.functional.kl_div((logits / T_).log_softmax(-1), (tlogits / T_).log_softmax(-1), log_target=True,
                                      reduction="none").sum(-1)).mean() * T_ * T_
    loss = alpha * ce + (1 - alpha) * kd
    save("distill", m, p, loss, {"tokens": stream.clone()}, dict(
        mode="distill", overrides=m.overrides() + ["train.training_mode=distill", f"train.batch_size={B}", "train.grad_shards=2",
                                                  f"distill.temperature={T_}", f"distill.alpha={alpha}",
                                                  "distill.teacher_checkpoint=golden/data/teacher"],
        kind="tokens", examples=[]), reference=tp)


if __name__ == "__main__":
    torch.manual_seed(0)
    for f in (sft, reward, dpo, grpo, ppo, distill):
        f()
