import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyRun
import SimplyTrain

/// Proximal policy optimization for language models (Schulman et al. 2017;
/// Ouyang et al. 2022; TRL `ppo_trainer.py`), on the shared loop.
///
/// Every num_ppo_epochs · num_mini_batches steps is one cycle. Its first step
/// samples a rollout: one completion of each of train.batch_size prompts
/// from the policy as it is then (the sampler's Philox counter is (rollout
/// index, prompt slot, 0, position)), scores it with the rewards
/// (`ppo.rewards`, as `grpo.rewards`; minus `missing_eos_penalty` when it
/// did not stop), and records per token the policy's log-probability, the
/// frozen reference's (the starting weights; skipped when kl_coef is 0) and
/// the value head's estimate. PPOLoss turns that into per-token rewards
/// −kl_coef · KL_t with the score at the last token, GAE advantages (then
/// whitened) and returns. Each step of the cycle is then one optimizer step
/// on one minibatch (epoch e, minibatch m of a Philox permutation keyed by
/// (train.seed, rollout, e)) of
///
///     L = mean_t max(−A_t ρ_t, −A_t clip(ρ_t, 1 ± cliprange))
///       + vf_coef · 0.5 · mean_t max((V_t − R_t)², (clip(V_t, V_old,t ± cliprange_value) − R_t)²)
///
/// over the minibatch's completion tokens, ρ_t = π(y_t)/π_old(y_t).
///
/// The value head is the model's score head (`model.score_head`,
/// `score.weight`) read at every completion position of the policy's own
/// trunk; it starts fresh when `--load_checkpoint` has none. The policy part
/// enters backward through `scaleLossGradient`, the value part through
/// `scoreGradients`: one forward and one backward per shard.
///
/// The rollout lives in `stateTensors` (F32: tokens, lengths, log-probs,
/// values, scores rounded to Float), which the loop checkpoints and hashes;
/// everything else is recomputed from them each step, so a run stopped in
/// the middle of a cycle resumes bit for bit.
///
/// Metrics (TRL names): objective/kl, objective/entropy,
/// objective/non_score_reward, objective/rlhf_reward, objective/scores,
/// policy/approxkl_avg, policy/clipfrac_avg, policy/entropy_avg,
/// loss/policy_avg, loss/value_avg, val/clipfrac_avg, val/ratio, val/mean,
/// val/var, val/num_eos_tokens, completions/mean_length. The objective/* and
/// val/mean, val/var describe the step's rollout; the rest its minibatch.
public final class PPOObjective: TrainingObjective {
    let config: ExperimentConfig
    let rollouts: PromptRollouts
    let settings: PPOLoss.Settings
    let missingEOSPenalty: Double
    /// The frozen KL reference (the starting weights; with LoRA the policy
    /// with its adapters off), nil when kl_coef = 0.
    let frozen: FrozenReference?
    /// The reference's own model (nil when kl_coef = 0 or with LoRA).
    public var reference: Transformer? { frozen?.model }
    let epochs: Int, miniBatches: Int, completions: Int, miniBatchSize: Int, responseLength: Int
    public let rowsPerShard: Int
    let permutationStream: RandomStream

    // The rollout, as checkpointed: [B, seq_len + 1] tokens; [B, 3] prompt
    // length, completion tokens (those inside the row), stopped (0/1); [B, R]
    // log π_old, log π_ref, V_old; [B] scores.
    let tokens: Tensor, lengths: Tensor, logps: Tensor, refLogps: Tensor, values: Tensor, scores: Tensor
    public let stateTensors: [CheckpointTensor]

    // Derived from the state each step.
    var rows: SequenceRows
    var rollout = PPOLoss.Rollout(kl: [], rewards: [], advantages: [], returns: [])
    var oldLogps: [[Double]] = [], oldValues: [[Double]] = []
    var miniRows: [Int] = []
    var miniTokens = 0
    var rolloutMetrics: [Metric] = []

    /// `rewards`: the reward functions and their weights; nil reads them from `ppo.rewards`.
    public init(_ context: ObjectiveContext, rewards custom: [(reward: any RewardFunction, weight: Double)]? = nil) throws {
        config = context.config
        let p = try config.settings(PPOConfig.self)
        guard config.model.scoreHead else {
            throw ConfigError("model.score_head must be true for training_mode ppo (the value head is the score head)")
        }
        epochs = p.numPPOEpochs
        miniBatches = p.numMiniBatches
        completions = config.train.batchSize
        guard completions % miniBatches == 0 else {
            throw ConfigError("train.batch_size \(completions) must be a multiple of ppo.num_mini_batches \(miniBatches)")
        }
        miniBatchSize = completions / miniBatches
        guard miniBatchSize % config.train.gradShards == 0 else {
            throw ConfigError("the minibatch (train.batch_size / ppo.num_mini_batches = \(miniBatchSize)) must be a multiple of train.grad_shards \(config.train.gradShards)")
        }
        rowsPerShard = miniBatchSize / config.train.gradShards
        responseLength = p.responseLength
        rollouts = try PromptRollouts(context, section: "ppo", lengthKey: "ppo.response_length", promptsPerStep: completions,
                                      rows: completions, temperature: p.temperature, maxNewTokens: responseLength,
                                      rewardSpec: p.rewards, rewardModel: p.rewardModel, rewardBatch: max(1, rowsPerShard),
                                      custom: custom)
        settings = PPOLoss.Settings(klCoef: p.klCoef, klEstimator: PPOLoss.KLEstimator(rawValue: p.klEstimator)!,
                                    cliprange: p.cliprange, cliprangeValue: p.cliprangeValue, vfCoef: p.vfCoef,
                                    gamma: p.gamma, lam: p.lam, whitenRewards: p.whitenRewards)
        missingEOSPenalty = p.missingEOSPenalty
        frozen = p.klCoef > 0 ? try FrozenReference(context, maxBatch: rowsPerShard, fresh: ["score.weight"]) : nil
        permutationStream = RandomStream(seed: config.train.seed, name: "ppo.minibatch")

        let t = config.model.seqLen, b = completions, rl = responseLength
        tokens = Tensor(shape: [b, t + 1]); lengths = Tensor(shape: [b, 3])
        logps = Tensor(shape: [b, rl]); refLogps = Tensor(shape: [b, rl]); values = Tensor(shape: [b, rl])
        scores = Tensor(shape: [b])
        stateTensors = [("tokens", tokens), ("lengths", lengths), ("logprobs", logps), ("ref_logprobs", refLogps),
                        ("values", values), ("scores", scores)].map { CheckpointTensor(name: "ppo.rollout." + $0.0, tensor: $0.1) }
        rows = SequenceRows(rows: b, seqLen: t, pad: rollouts.examples.tokenizer.pad)
    }

    var examples: ExampleData { rollouts.examples }
    var rewards: [(reward: any RewardFunction, weight: Double)] { rollouts.rewards }

    var stepsPerRollout: Int { epochs * miniBatches }
    public var tokensPerStep: Int { miniBatchSize * config.model.seqLen }
    public var data: DataIdentity { examples.identity }
    public var freshParameters: Set<String> { ["score.weight"] }
    public func dataCursor(step: Int) -> JSONValue { examples.dataCursor(step: step / stepsPerRollout) }

    public func loadBatch(step: Int) -> String {
        preconditionFailure("PPO samples its rollouts from the policy: loadBatch(step:policy:parallel:)")
    }

    /// The minibatch of `step`: a new rollout at the start of each cycle, then
    /// the rows of epoch e, minibatch m.
    public func loadBatch(step: Int, policy: Transformer, parallel: Parallel) -> String {
        let index = step / stepsPerRollout, within = step % stepsPerRollout
        if within == 0 { sampleRollout(index, policy: policy, parallel: parallel) }
        prepare()
        let epoch = within / miniBatches, m = within % miniBatches
        let order = Self.permutation(completions, stream: permutationStream, rollout: index, epoch: epoch)
        miniRows = Array(order[(m * miniBatchSize)..<((m + 1) * miniBatchSize)])
        miniTokens = miniRows.reduce(0) { $0 + oldLogps[$1].count }
        // The batch: the rollout's bits and which rows this step trains on.
        let h = SHA256Hasher()
        for t in stateTensors { h.update(t.tensor) }
        for r in miniRows { h.update(Int64(r)) }
        return h.finalizeHex()
    }

    /// Fisher–Yates over 0..<n with Philox draws at counter (rollout, epoch << 32 | i).
    static func permutation(_ n: Int, stream: RandomStream, rollout: Int, epoch: Int) -> [Int] {
        var p = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(stream.uint64(UInt64(rollout), UInt64(epoch) << 32 | UInt64(i)) % UInt64(i + 1))
            p.swapAt(i, j)
        }
        return p
    }

    /// Samples, scores and evaluates rollout `index` into the state tensors.
    func sampleRollout(_ index: Int, policy: Transformer, parallel: Parallel) {
        let (_, prompts, sampled, perReward) = rollouts.sample(index, prompts: completions, samplesPerPrompt: 1,
                                                               policy: policy, parallel: parallel)
        var total = [Double](repeating: 0, count: completions)
        for (k, (_, weight)) in rewards.enumerated() {
            for i in total.indices { total[i] += weight * perReward[k][i] }
        }
        let t = config.model.seqLen, rl = responseLength
        for (i, c) in sampled.enumerated() {
            let seq = prompts[c.promptIndex] + c.tokens
            let row = tokens.pointer + i * (t + 1)
            for j in 0...t { row[j] = Float(j < seq.count ? seq[j] : examples.tokenizer.pad) }
            let stopped = c.finishReason == .stop
            lengths.pointer[i * 3] = Float(prompts[c.promptIndex].count)
            lengths.pointer[i * 3 + 1] = Float(min(c.count, t + 1 - prompts[c.promptIndex].count))
            lengths.pointer[i * 3 + 2] = stopped ? 1 : 0
            scores.pointer[i] = Float(total[i] - (stopped ? 0 : missingEOSPenalty))
        }
        for j in 0..<(completions * rl) { logps.pointer[j] = 0; refLogps.pointer[j] = 0; values.pointer[j] = 0 }
        fillRows()
        // log π_old and V_old from the policy's forward, log π_ref from the reference's, rowsPerShard rows at a time.
        var start = 0
        while start < completions {
            let k = min(rowsPerShard, completions - start), n = k * t, lo = start * t
            let inputs = Array(rows.inputs[lo..<(lo + n)]), targets = Array(rows.targets[lo..<(lo + n)])
            let mask = Array(rows.mask[lo..<(lo + n)])
            _ = policy.forward(tokens: inputs, targets: targets, weights: mask, batch: k, seqLen: t, parallel: parallel)
            let positions = (0..<n).filter { mask[$0] != 0 }
            let v = policy.scores(rows: positions)
            // Copied out: with LoRA the reference's forward runs on the policy's own buffers.
            let policyLogps = positions.map { -policy.positionLosses[$0] }
            var ref: [Float] = []
            if let frozen {
                ref = frozen.run(for: policy) { reference in
                    _ = reference.forward(tokens: inputs, targets: targets, weights: mask, batch: k, seqLen: t, parallel: parallel)
                    return positions.map { -reference.positionLosses[$0] }
                }
            }
            var counts = [Int](repeating: 0, count: k)
            for (q, pos) in positions.enumerated() {
                let r = pos / t, slot = (start + r) * rl + counts[r]
                logps.pointer[slot] = policyLogps[q]
                values.pointer[slot] = v[q]
                refLogps.pointer[slot] = frozen == nil ? policyLogps[q] : ref[q]
                counts[r] += 1
            }
            start += k
        }
    }

    /// rows := the state's token sequences, the completion tokens masked.
    func fillRows() {
        let t = config.model.seqLen
        for i in 0..<completions {
            let p = Int(lengths.pointer[i * 3]), c = Int(lengths.pointer[i * 3 + 1])
            let row = tokens.pointer + i * (t + 1)
            let seq = (0..<(p + c)).map { Int32(row[$0]) }
            rows.set(row: i, MaskedTokens(tokens: seq, mask: Array(repeating: false, count: p) + Array(repeating: true, count: c)))
        }
    }

    /// Everything training needs, recomputed from the state tensors.
    func prepare() {
        fillRows()
        let rl = responseLength
        var samples: [PPOLoss.Sample] = []
        for i in 0..<completions {
            let c = Int(lengths.pointer[i * 3 + 1])
            func read(_ x: Tensor) -> [Double] { (0..<c).map { Double(x.pointer[i * rl + $0]) } }
            samples.append(PPOLoss.Sample(logps: read(logps), refLogps: read(refLogps), values: read(values),
                                          score: Double(scores.pointer[i])))
        }
        oldLogps = samples.map(\.logps)
        oldValues = samples.map(\.values)
        rollout = PPOLoss.rollout(samples, settings: settings)

        let b = Double(completions)
        var kl = 0.0, entropy = 0.0, score = 0.0, tokenCount = 0, valueSum = 0.0, stopped = 0.0
        for (i, x) in samples.enumerated() {
            kl += rollout.kl[i].reduce(0, +)
            entropy -= x.logps.reduce(0, +)
            score += x.score
            valueSum += x.values.reduce(0, +)
            tokenCount += x.logps.count
            stopped += Double(lengths.pointer[i * 3 + 2])
        }
        let valueMean = valueSum / Double(max(tokenCount, 1))
        var valueSS = 0.0
        for x in samples { for v in x.values { valueSS += (v - valueMean) * (v - valueMean) } }
        let nonScore = -settings.klCoef * kl / b
        rolloutMetrics = [
            Metric("objective/kl", kl / b),
            Metric("objective/entropy", entropy / b),
            Metric("objective/non_score_reward", nonScore),
            Metric("objective/rlhf_reward", nonScore + score / b),
            Metric("objective/scores", score / b),
            Metric("val/mean", valueMean),
            Metric("val/var", tokenCount > 1 ? valueSS / Double(tokenCount - 1) : 0),
            Metric("val/num_eos_tokens", stopped),
            Metric("completions/mean_length", Double(tokenCount) / b),
        ]
    }

    /// Two shards may run at once: a shard's rows are its own arrays, and the
    /// rollout (reference log-probs included) is only read here.
    public func prepareConcurrentShards() -> Bool { true }

    public func shardGradient(_ shard: Int, model: Transformer, parallel: Parallel) -> ShardResult {
        let t = config.model.seqLen, n = rowsPerShard * t
        var shardInputs = [Int32](repeating: 0, count: n), shardTargets = shardInputs
        var shardMask = [Float](repeating: 0, count: n), scale = shardMask
        let mine = Array(miniRows[(shard * rowsPerShard)..<((shard + 1) * rowsPerShard)])
        for (r, g) in mine.enumerated() {
            for j in 0..<t {
                shardInputs[r * t + j] = rows.inputs[g * t + j]
                shardTargets[r * t + j] = rows.targets[g * t + j]
                shardMask[r * t + j] = rows.mask[g * t + j]
            }
        }
        _ = model.forward(tokens: shardInputs, targets: shardTargets, weights: shardMask, batch: rowsPerShard, seqLen: t,
                          parallel: parallel)
        let positions = (0..<(rowsPerShard * t)).filter { shardMask[$0] != 0 }
        let v = model.scores(rows: positions), losses = model.positionLosses
        let entropy = PromptRollouts.entropySum(model, mask: shardMask)

        let w = 1 / Double(max(miniTokens, 1))
        var policyLoss = 0.0, valueLoss = 0.0, policyClipped = 0, valueClipped = 0, approxKL = 0.0, ratio = 0.0
        var scoreGradients: [(row: Int, gradient: Float)] = []
        scoreGradients.reserveCapacity(positions.count)
        var q = 0
        for (r, g) in mine.enumerated() {
            // The row's completion positions come in order, one per token of the rollout.
            for k in 0..<oldLogps[g].count {
                let pos = positions[q]
                precondition(pos / t == r, "row \(g): completion tokens and mask disagree")
                let logp = -Double(losses[pos])
                let x = PPOLoss.token(logp: logp, oldLogp: oldLogps[g][k], advantage: rollout.advantages[g][k],
                                      value: Double(v[q]), oldValue: oldValues[g][k], ret: rollout.returns[g][k],
                                      settings: settings, weight: w)
                policyLoss += x.policyLoss; valueLoss += x.valueLoss
                if x.policyClipped { policyClipped += 1 }
                if x.valueClipped { valueClipped += 1 }
                let diff = logp - oldLogps[g][k]
                approxKL += 0.5 * diff * diff
                ratio += DetMath.exp(diff)
                // log π_t = −CE_t, so ∂L/∂CE_t = −∂L/∂log π_t.
                scale[pos] = Float(-x.dLogp)
                scoreGradients.append((pos, Float(x.dValue)))
                q += 1
            }
        }
        model.scaleLossGradient(scale, parallel: parallel)
        model.backward(parallel: parallel, scoreGradients: scoreGradients)

        var metrics = shard == 0 ? rolloutMetrics : rolloutMetrics.map { Metric($0.name, 0, $0.combine) }
        metrics += [
            Metric("policy/approxkl_avg", approxKL * w),
            Metric("policy/clipfrac_avg", Double(policyClipped) * w),
            Metric("policy/entropy_avg", entropy * w),
            Metric("loss/policy_avg", policyLoss),
            Metric("loss/value_avg", valueLoss),
            Metric("val/clipfrac_avg", Double(valueClipped) * w),
            Metric("val/ratio", ratio * w),
        ]
        return ShardResult(loss: Float(policyLoss + settings.vfCoef * valueLoss), metrics: metrics)
    }
}

/// PPO's settings (TRL `PPOConfig` names): `num_ppo_epochs` passes over each
/// rollout of train.batch_size completions in `num_mini_batches` minibatches
/// (one optimizer step each); per-token KL penalty kl_coef (k1 or k3) to the
/// starting weights; GAE γ, λ; clip ranges of the policy ratio and the value;
/// value-loss weight vf_coef; completions of up to response_length tokens at
/// `temperature`; the rewards as grpo.rewards; missing_eos_penalty subtracted
/// from the score of a completion that did not stop (0: off).
public struct PPOConfig: ConfigSettings, Equatable {
    public var numPPOEpochs: Int = 4
    public var numMiniBatches: Int = 1
    public var klCoef: Double = 0.05
    public var klEstimator: String = "k1"
    public var cliprange: Double = 0.2
    public var cliprangeValue: Double = 0.2
    public var vfCoef: Double = 0.1
    public var gamma: Double = 1.0
    public var lam: Double = 0.95
    public var whitenRewards: Bool = false
    public var responseLength: Int = 16
    public var temperature: Double = 1.0
    public var rewards: String = "reward_model"
    public var rewardModel: String = ""
    public var missingEOSPenalty: Double = 0.0
    public init() {}
    public static let section = "ppo"
    public static let keys: [ConfigKey<PPOConfig>] = [
        .int("ppo.num_ppo_epochs", \.numPPOEpochs, min: 1, max: 1 << 12, "passes over each rollout"),
        .int("ppo.num_mini_batches", \.numMiniBatches, min: 1, max: 1 << 20, "minibatches per pass (one optimizer step each)"),
        .double("ppo.kl_coef", \.klCoef, range: 0...1e3, "per-token KL penalty to the starting weights"),
        .choice("ppo.kl_estimator", \.klEstimator, ["k1", "k3"], "k1 (log-ratio) or k3"),
        .double("ppo.cliprange", \.cliprange, range: 0...1, "clip range of the policy ratio"),
        .double("ppo.cliprange_value", \.cliprangeValue, range: 0...1e6, "clip range of the value around its rollout estimate"),
        .double("ppo.vf_coef", \.vfCoef, range: 0...1e3, "weight of the value loss"),
        .double("ppo.gamma", \.gamma, range: 0...1, "GAE discount γ"),
        .double("ppo.lam", \.lam, range: 0...1, "GAE λ"),
        .bool("ppo.whiten_rewards", \.whitenRewards, "whiten the per-token rewards before GAE"),
        .int("ppo.response_length", \.responseLength, min: 1, max: ModelConfig.maxSeqLen, "longest completion, in tokens"),
        .double("ppo.temperature", \.temperature, range: 0...100, "sampling temperature"),
        .string("ppo.rewards", \.rewards, "as grpo.rewards"),
        .string("ppo.reward_model", \.rewardModel, "a reward run or checkpoint, for the reward_model reward"),
        .double("ppo.missing_eos_penalty", \.missingEOSPenalty, range: 0...1e6, "subtracted from the score of a completion that did not stop (0: off)"),
    ]
}

extension ExperimentConfig {
    /// The ppo section (its defaults where the config has none).
    public var ppo: PPOConfig {
        get { (try? settings(PPOConfig.self)) ?? PPOConfig() }
        set { setSettings(newValue) }
    }
}

extension Algorithm {
    public static let ppo = Algorithm(name: "ppo", summary: "the policy and a value head from rewards of its own samples (PPO with GAE)",
                                     section: ConfigSection(PPOConfig.self), needs: [.rollouts, .reference, .scoreHead],
                                     alwaysRecorded: true) { try PPOObjective($0) }
}
