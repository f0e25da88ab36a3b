import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyRun
import SimplyTrain

/// Group relative policy optimization (Shao et al. 2024; TRL `grpo_trainer.py`,
/// Tunix `grpo_learner.py`) with verifiable rewards.
///
/// Every μ = `grpo.num_iterations` steps one rollout: `num_generations` (G)
/// completions of each of batch_size / G prompts, sampled from the policy as
/// it is then (the sampler's Philox stream is keyed by train.seed and counted
/// by (rollout index, prompt slot, sample, position), so a rollout is a
/// function of that step's state and resumes reproduce it), scored with the
/// configured rewards and turned into group-normalized advantages. Each of
/// the μ steps takes one gradient step on the whole rollout with
///
///     ℓ_t = −min(ρ_t A, clip(ρ_t, 1 − ε, 1 + ε_high) A) + β · KL_t
///
/// aggregated by `grpo.loss_type` (GRPOLoss has the math). log π_old are the
/// sampler's log-probabilities of the model (temperature 1), bit-identical
/// to the policy's forward at the rollout weights: on a rollout's first step
/// ρ is exactly 1 and the clip never acts; on the later ones (μ > 1, TRL's
/// num_iterations) the policy has moved and the clip bounds the update.
/// With μ > 1 the rollout lives in `stateTensors`, which the loop checkpoints
/// and hashes, so a run stopped mid-cycle resumes bit for bit (PPO does the
/// same); with μ = 1 there is no state and nothing is rounded.
/// The reference for the k3 KL is the starting weights (`--load_checkpoint`),
/// run only when β > 0. Log-probabilities are the model's at temperature 1
/// (TRL divides the logits by the sampling temperature; the same at 1).
///
/// Metrics (TRL names): reward, reward_std, rewards/NAME/mean,
/// frac_reward_zero_std, kl, entropy, clip_ratio/low_mean,
/// clip_ratio/high_mean, clip_ratio/region_mean, completions/mean_length,
/// completions/min_length, completions/max_length, completions/clipped_ratio.
public final class GRPOObjective: TrainingObjective {
    let config: ExperimentConfig
    let rollouts: PromptRollouts
    let settings: GRPOLoss.Settings
    let scaling: GRPOLoss.RewardScaling
    /// The frozen KL reference (the starting weights; with LoRA the policy
    /// with its adapters off), nil when β = 0.
    let frozen: FrozenReference?
    /// The reference's own model (nil when β = 0 or with LoRA).
    public var reference: Transformer? { frozen?.model }
    let groupSize: Int, prompts: Int, completions: Int
    let dynamicSampling: Bool
    /// μ: optimizer steps per rollout (TRL `num_iterations`).
    let iterations: Int
    public let rowsPerShard: Int

    // μ > 1: the rollout, as checkpointed (F32): [B, seq_len + 1] prompt +
    // completion tokens; [B, 4] prompt and completion tokens in the row, the
    // completion's length, stopped (0/1); [B, max_completion_length] log π_old;
    // [rewards, B] each reward function's scores. Empty when μ = 1.
    let rolloutTokens: Tensor, rolloutLengths: Tensor, rolloutLogps: Tensor, rolloutRewards: Tensor
    public let stateTensors: [CheckpointTensor]

    // The step's rollout: one row per completion (prompt + completion, loss
    // mask on the completion), its advantage, and the batch-level metrics.
    var rows: SequenceRows
    public private(set) var advantages: [Double]
    var oldLogps: [[Double]]
    public private(set) var completionTokens: [Int]
    /// Completions in the loss: all, or with dynamic sampling those of groups whose rewards differ.
    public private(set) var kept: [Bool]
    var keptCompletions = 0
    public private(set) var batchTokens = 0
    var rolloutMetrics: [Metric] = []

    /// `rewards`: the reward functions and their weights; nil reads them from
    /// `grpo.rewards`. A library user plugs in their own `RewardFunction` here.
    public init(_ context: ObjectiveContext, rewards custom: [(reward: any RewardFunction, weight: Double)]? = nil) throws {
        config = context.config
        let p = try config.settings(GRPOConfig.self)
        groupSize = p.numGenerations
        completions = config.train.batchSize
        guard completions % groupSize == 0 else {
            throw ConfigError("train.batch_size \(completions) must be a multiple of grpo.num_generations \(groupSize) (batch_size counts completions)")
        }
        prompts = completions / groupSize
        dynamicSampling = p.dynamicSampling
        guard completions % config.train.gradShards == 0 else {
            throw ConfigError("train.batch_size \(completions) must be a multiple of train.grad_shards \(config.train.gradShards)")
        }
        rowsPerShard = completions / config.train.gradShards
        rollouts = try PromptRollouts(context, section: "grpo", lengthKey: "grpo.max_completion_length", promptsPerStep: prompts,
                                      rows: completions, temperature: p.temperature, topK: p.topK, topP: p.topP,
                                      maxNewTokens: p.maxCompletionLength, rewardSpec: p.rewards, rewardModel: p.rewardModel,
                                      rewardBatch: max(1, rowsPerShard), custom: custom)
        settings = GRPOLoss.Settings(epsilonLow: p.epsilon, epsilonHigh: p.epsilonHigh, beta: p.beta,
                                     aggregation: GRPOLoss.Aggregation(rawValue: p.lossType)!,
                                     level: GRPOLoss.Level(rawValue: p.importanceSamplingLevel)!)
        scaling = GRPOLoss.RewardScaling(rawValue: p.scaleRewards)!
        frozen = p.beta > 0 ? try FrozenReference(context, maxBatch: rowsPerShard) : nil
        let t = config.model.seqLen
        iterations = p.numIterations
        let b = iterations > 1 ? completions : 0
        rolloutTokens = Tensor(shape: [b, t + 1]); rolloutLengths = Tensor(shape: [b, 4])
        rolloutLogps = Tensor(shape: [b, rollouts.sampling.maxNewTokens]); rolloutRewards = Tensor(shape: [rollouts.rewards.count, b])
        stateTensors = iterations == 1 ? [] : [("tokens", rolloutTokens), ("lengths", rolloutLengths), ("logprobs", rolloutLogps),
                                               ("rewards", rolloutRewards)].map { CheckpointTensor(name: "grpo.rollout." + $0.0, tensor: $0.1) }
        rows = SequenceRows(rows: completions, seqLen: t, pad: rollouts.examples.tokenizer.pad)
        advantages = Array(repeating: 0, count: completions)
        oldLogps = Array(repeating: [], count: completions)
        completionTokens = Array(repeating: 0, count: completions)
        kept = Array(repeating: true, count: completions)
    }

    var examples: ExampleData { rollouts.examples }
    var sampling: SamplingConfig { rollouts.sampling }
    var rewards: [(reward: any RewardFunction, weight: Double)] { rollouts.rewards }

    public var tokensPerStep: Int { completions * config.model.seqLen }
    public var data: DataIdentity { examples.identity }
    public func dataCursor(step: Int) -> JSONValue { examples.dataCursor(step: step / iterations) }

    public func loadBatch(step: Int) -> String {
        preconditionFailure("GRPO samples its batch from the policy: loadBatch(step:policy:parallel:)")
    }

    /// The step's batch: with μ = 1 a new rollout each step; with μ > 1 a new
    /// rollout every μ steps, kept in the state tensors, and every step of the
    /// cycle trains on it as read back from them (so a resume mid-cycle and an
    /// uninterrupted run see the same bits).
    public func loadBatch(step: Int, policy: Transformer, parallel: Parallel) -> String {
        let index = step / iterations
        if iterations == 1 {
            use(sample(index, policy: policy, parallel: parallel))
        } else {
            if step % iterations == 0 { store(sample(index, policy: policy, parallel: parallel)) }
            use(restore())
        }
        // The batch: rows, then each completion's advantage and log π_old (their bits decide the update too).
        let h = SHA256Hasher()
        rows.hash(into: h)
        advantages.withUnsafeBytes { h.update($0) }
        for l in oldLogps { l.withUnsafeBytes { h.update($0) } }
        return h.finalizeHex()
    }

    /// One rollout as the loss needs it, per completion: its prompt and
    /// completion tokens, the completion's length, whether it stopped, log
    /// π_old of its tokens, and each reward function's score
    /// ([function][completion]).
    struct Rollout {
        var prompts: [[Int32]] = [], completions: [[Int32]] = [], lengths: [Int] = []
        var stopped: [Bool] = [], oldLogps: [[Double]] = [], rewards: [[Double]] = []
    }

    /// Samples G completions of each of the rollout's prompts and scores them.
    func sample(_ index: Int, policy: Transformer, parallel: Parallel) -> Rollout {
        let (_, promptTokens, sampled, scores) = rollouts.sample(index, prompts: prompts, samplesPerPrompt: groupSize,
                                                                 policy: policy, parallel: parallel)
        var r = Rollout()
        r.prompts = sampled.map { promptTokens[$0.promptIndex] }
        r.completions = sampled.map(\.tokens)
        r.lengths = sampled.map(\.count)
        r.stopped = sampled.map { $0.finishReason == .stop }
        r.oldLogps = sampled.map { $0.modelLogProbs.map(Double.init) }
        r.rewards = scores
        return r
    }

    /// Scores → group-normalized advantages; fills the rows the shards train on.
    func use(_ r: Rollout) {
        var total = [Double](repeating: 0, count: completions)
        var perReward: [Metric] = []
        for (k, (reward, weight)) in rewards.enumerated() {
            for i in total.indices { total[i] += weight * r.rewards[k][i] }
            perReward.append(Metric("rewards/\(reward.name)/mean", r.rewards[k].reduce(0, +) / Double(completions)))
        }
        let (adv, zeroStd) = GRPOLoss.advantages(total, groupSize: groupSize, scaling: scaling)
        advantages = adv
        for i in 0..<completions {
            let prompt = r.prompts[i], completion = r.completions[i]
            rows.set(row: i, MaskedTokens(tokens: prompt + completion,
                                          mask: Array(repeating: false, count: prompt.count) + Array(repeating: true, count: completion.count)))
            completionTokens[i] = r.lengths[i]
            oldLogps[i] = r.oldLogps[i]
        }
        for i in 0..<completions { kept[i] = !(dynamicSampling && zeroStd[i / groupSize]) }
        keptCompletions = kept.filter { $0 }.count
        batchTokens = 0
        for i in 0..<completions where kept[i] { batchTokens += completionTokens[i] }
        let lengths = completionTokens.map(Double.init)
        let mean = total.reduce(0, +) / Double(completions)
        rolloutMetrics = [
            Metric("reward", mean),
            Metric("reward_std", GRPOLoss.unbiasedStd(total[...])),
        ] + perReward + [
            Metric("frac_reward_zero_std", Double(zeroStd.filter { $0 }.count) / Double(zeroStd.count)),
            Metric("completions/mean_length", lengths.reduce(0, +) / Double(completions)),
            Metric("completions/min_length", lengths.min() ?? 0),
            Metric("completions/max_length", lengths.max() ?? 0),
            Metric("completions/clipped_ratio", Double(r.stopped.filter { !$0 }.count) / Double(completions)),
        ]
    }

    /// μ > 1: the rollout into the state tensors; rewards are rounded to Float.
    /// init refuses prompts and completions that do not fit a row, so the
    /// `min`s below never cut and the two length columns are equal; the
    /// layout keeps both (changing it would move grpo-mu2's golden bits).
    func store(_ r: Rollout) {
        let w = config.model.seqLen + 1, n = sampling.maxNewTokens
        for i in 0..<completions {
            let p = min(r.prompts[i].count, w), c = min(r.completions[i].count, w - p)
            let row = rolloutTokens.pointer + i * w
            for j in 0..<w { row[j] = Float(j < p ? r.prompts[i][j] : j < p + c ? r.completions[i][j - p] : 0) }
            let l = rolloutLengths.pointer + i * 4
            l[0] = Float(p); l[1] = Float(c); l[2] = Float(r.lengths[i]); l[3] = r.stopped[i] ? 1 : 0
            for j in 0..<n { rolloutLogps.pointer[i * n + j] = j < r.oldLogps[i].count ? Float(r.oldLogps[i][j]) : 0 }
            for k in rewards.indices { rolloutRewards.pointer[k * completions + i] = Float(r.rewards[k][i]) }
        }
    }

    /// μ > 1: the rollout as the state tensors hold it.
    func restore() -> Rollout {
        let w = config.model.seqLen + 1, n = sampling.maxNewTokens
        var r = Rollout()
        for i in 0..<completions {
            let row = rolloutTokens.pointer + i * w, l = rolloutLengths.pointer + i * 4
            let p = Int(l[0]), c = Int(l[1]), length = Int(l[2])
            r.prompts.append((0..<p).map { Int32(row[$0]) })
            r.completions.append((p..<(p + c)).map { Int32(row[$0]) })
            r.lengths.append(length)
            r.stopped.append(l[3] != 0)
            r.oldLogps.append((0..<length).map { Double(rolloutLogps.pointer[i * n + $0]) })
        }
        r.rewards = rewards.indices.map { k in (0..<completions).map { Double(rolloutRewards.pointer[k * completions + $0]) } }
        return r
    }

    /// Per row of the last forward: the completion tokens' log-probabilities (−CE).
    func completionLogProbs(_ model: Transformer, mask shardMask: [Float]) -> [[Double]] {
        let t = config.model.seqLen, losses = model.positionLosses
        return (0..<rowsPerShard).map { r in
            (0..<t).compactMap { j in shardMask[r * t + j] != 0 ? -Double(losses[r * t + j]) : nil }
        }
    }

    /// Two shards may run at once: a shard's rows are its own arrays, and
    /// lane 1 gets a reference model of its own on the same parameters.
    public func prepareConcurrentShards() -> Bool {
        frozen?.prepareConcurrentShards()
        return true
    }

    public func shardGradient(_ shard: Int, model: Transformer, parallel: Parallel) -> ShardResult {
        let t = config.model.seqLen, n = rowsPerShard * t
        let (shardInputs, shardTargets, shardMask) = rows.shard(shard, rows: rowsPerShard)
        var scale = [Float](repeating: 0, count: n)
        var refLogps: [[Double]]? = nil
        if let frozen {
            refLogps = frozen.run(for: model) { reference in
                _ = reference.forward(tokens: shardInputs, targets: shardTargets, weights: shardMask, batch: rowsPerShard,
                                      seqLen: t, parallel: parallel)
                return completionLogProbs(reference, mask: shardMask)
            }
        }
        _ = model.forward(tokens: shardInputs, targets: shardTargets, weights: shardMask, batch: rowsPerShard, seqLen: t,
                          parallel: parallel)
        let logps = completionLogProbs(model, mask: shardMask)
        let entropy = PromptRollouts.entropySum(model, mask: shardMask)

        var loss = 0.0, kl = 0.0, low = 0, high = 0
        for r in 0..<rowsPerShard {
            let g = shard * rowsPerShard + r
            guard kept[g] else { continue }     // dynamic sampling dropped its group: no loss, no gradient
            let c = GRPOLoss.Completion(logps: logps[r], oldLogps: Array(oldLogps[g].prefix(logps[r].count)), refLogps: refLogps?[r] ?? logps[r],
                                        advantage: advantages[g])
            let w = GRPOLoss.weight(settings.aggregation, tokens: completionTokens[g], sequences: keptCompletions,
                                    batchTokens: batchTokens, maxCompletionLength: sampling.maxNewTokens)
            let v = GRPOLoss.sequence(c, settings: settings, weight: w)
            loss += v.loss; kl += v.klSum; low += v.lowClipped; high += v.highClipped
            // log π_t = −CE_t, so ∂L/∂CE_t = −∂L/∂log π_t at the row's completion positions, in order.
            var k = 0
            for j in 0..<t where shardMask[r * t + j] != 0 {
                scale[r * t + j] = Float(-v.dLogps[k])
                k += 1
            }
        }
        model.scaleLossGradient(scale, parallel: parallel)
        model.backward(parallel: parallel)

        let nt = Double(max(batchTokens, 1))
        var metrics = shard == 0 ? rolloutMetrics : rolloutMetrics.map { Metric($0.name, 0, $0.combine) }
        if frozen != nil { metrics.append(Metric("kl", kl / nt)) }
        metrics += [
            Metric("entropy", entropy / Double(max(completionTokens.reduce(0, +), 1))),
            Metric("clip_ratio/low_mean", Double(low) / nt),
            Metric("clip_ratio/high_mean", Double(high) / nt),
            Metric("clip_ratio/region_mean", Double(low + high) / nt),
        ]
        return ShardResult(loss: Float(loss), metrics: metrics)
    }
}

/// GRPO's settings (TRL `GRPOConfig` names): G completions per prompt, sampled
/// with temperature / top-k / top-p up to max_completion_length tokens; k3 KL
/// weight β (Tunix and DeepSeekMath's 0.04; TRL's default is 0); clip ε and
/// ε_high; loss aggregation grpo | dr_grpo | dapo; reward scaling group |
/// batch | none; ratio per token or per sequence (GSPO); the rewards,
/// comma-separated `name` or `name:weight`; DAPO's dynamic sampling (Yu et al.
/// 2025) as a filter (groups whose rewards are all equal leave the loss); μ,
/// optimizer steps on each rollout (TRL `num_iterations`); a reward-model run
/// for the `reward_model` reward.
public struct GRPOConfig: ConfigSettings, Equatable {
    public var numGenerations: Int = 8
    public var maxCompletionLength: Int = 16
    public var temperature: Double = 1.0
    public var topK: Int = 0
    public var topP: Double = 1.0
    public var beta: Double = 0.04
    public var epsilon: Double = 0.2
    public var epsilonHigh: Double = 0.2
    public var lossType: String = "dapo"
    public var scaleRewards: String = "group"
    public var importanceSamplingLevel: String = "token"
    public var rewards: String = "exact_match"
    public var dynamicSampling: Bool = false
    public var numIterations: Int = 1
    public var rewardModel: String = ""
    public init() {}
    public static let section = "grpo"
    public static let keys: [ConfigKey<GRPOConfig>] = [
        .int("grpo.num_generations", \.numGenerations, min: 2, max: 1 << 12, "G: completions sampled per prompt"),
        .int("grpo.max_completion_length", \.maxCompletionLength, min: 1, max: ModelConfig.maxSeqLen, "longest completion, in tokens"),
        .double("grpo.temperature", \.temperature, range: 0...100, "sampling temperature"),
        .int("grpo.top_k", \.topK, max: ModelConfig.maxVocabSize, "sample from the k likeliest tokens (0: all)"),
        .double("grpo.top_p", \.topP, range: 1e-6...1, "nucleus sampling mass (1: off)"),
        .double("grpo.beta", \.beta, range: 0...1e3, "weight of the k3 KL to the starting weights (0: no reference model)"),
        .double("grpo.epsilon", \.epsilon, range: 0...1, "lower clip range ε of the ratio"),
        .double("grpo.epsilon_high", \.epsilonHigh, range: 0...100, "upper clip range of the ratio (DAPO's clip-higher: 0.28)"),
        .choice("grpo.loss_type", \.lossType, ["grpo", "dr_grpo", "dapo"], "grpo (per-sequence mean), dr_grpo (÷ B·max length) or dapo (÷ tokens in the batch)"),
        .choice("grpo.scale_rewards", \.scaleRewards, ["group", "batch", "none"], "advantages divided by the group's std, the batch's, or not at all"),
        .choice("grpo.importance_sampling_level", \.importanceSamplingLevel, ["token", "sequence"], "token ratios, or one per sequence (GSPO)"),
        .string("grpo.rewards", \.rewards, "comma-separated name or name:weight: exact_match, numeric_match, format, reward_model"),
        .bool("grpo.dynamic_sampling", \.dynamicSampling, "drop groups whose rewards are all equal from the loss (DAPO)"),
        .int("grpo.num_iterations", \.numIterations, min: 1, max: 1 << 12, "μ: optimizer steps on each rollout"),
        .string("grpo.reward_model", \.rewardModel, "a reward run or checkpoint, for the reward_model reward"),
    ]
}

extension ExperimentConfig {
    /// The grpo section (its defaults where the config has none).
    public var grpo: GRPOConfig {
        get { (try? settings(GRPOConfig.self)) ?? GRPOConfig() }
        set { setSettings(newValue) }
    }
}

extension Algorithm {
    public static let grpo = Algorithm(name: "grpo", summary: "the policy from group-normalized rewards of its own samples (GRPO, Dr. GRPO, DAPO, GSPO)",
                                     section: ConfigSection(GRPOConfig.self), needs: [.rollouts, .reference],
                                     alwaysRecorded: true) { try GRPOObjective($0) }
}
