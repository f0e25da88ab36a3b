extension ExperimentConfig {
    /// One line of meaning per base config key, for `simply config keys` (a test
    /// checks that every key has one). Defaults and accepted values come from
    /// the key table itself; an algorithm's keys carry their own.
    static let keyHelp: [String: String] = [
        "model.vocab_size": "token ids the model knows (at least the tokenizer's vocabulary)",
        "model.d_model": "width of the residual stream",
        "model.n_layers": "decoder layers",
        "model.n_heads": "attention (query) heads; d_model must divide by it",
        "model.n_kv_heads": "key/value heads (grouped-query attention); n_heads must divide by it",
        "model.d_ff": "hidden width of each SwiGLU MLP",
        "model.seq_len": "tokens per training row (the longest context)",
        "model.tie_embeddings": "the LM head reuses the token embedding matrix",
        "model.score_head": "a scalar head on the last hidden state (reward models, PPO's value head)",
        "model.rope_theta": "RoPE base frequency",
        "model.norm_eps": "RMSNorm epsilon",
        "model.init_std": "standard deviation of the seeded weight initialization",
        "train.steps": "optimizer steps",
        "train.batch_size": "rows per step (sequences; pairs for DPO and reward; completions for GRPO)",
        "train.grad_shards": "gradient shards the batch is cut into; the bits depend on it, never on threads or workers",
        "train.lr": "peak learning rate (after warm-up; cosine decay to min_lr)",
        "train.min_lr": "learning rate at the last step",
        "train.warmup_steps": "linear warm-up steps",
        "train.weight_decay": "AdamW decoupled weight decay (matrices only)",
        "train.beta1": "AdamW β1",
        "train.beta2": "AdamW β2",
        "train.eps": "AdamW ε",
        "train.grad_clip": "clip the global gradient norm to this (0: off)",
        "train.seed": "seeds the initialization, the data order and sampling",
        "train.training_mode": "the objective",
        "data.dataset": "builtin:synthetic, a token shard from simply data prepare, an example shard (.ex), or a mixture 'a.tokens@0.7,b.tokens@0.3'",
        "data.synthetic_bytes": "size of the built-in synthetic corpus",
        "data.tokenizer": "byte, or a tokenizer.json file",
        "checkpoint.interval": "steps between checkpoints (0: only at the end and on a signal)",
        "checkpoint.keep_last": "checkpoints kept (0: all)",
        "checkpoint.shard_mb": "largest checkpoint shard, in MB",
        "checkpoint.compression_level": "zstd level of checkpoint shards",
    ]
}
