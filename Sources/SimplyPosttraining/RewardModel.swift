import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyRun
import SimplyTrain

/// The Bradley–Terry pairwise loss of a reward model (TRL `RewardTrainer`):
///
///     L = 1/N Σ_i [ −log σ(r_c,i − r_r,i − margin) + center_coefficient · (r_c,i + r_r,i)² ]
///
/// and its gradient with respect to each reward, in Double on ScalarMath (no
/// libm), summed in index order.
public enum BradleyTerry {
    public struct Result: Sendable, Equatable {
        /// The mean loss (Σ over the pairs given, divided by `divisor`).
        public let loss: Double
        public let dChosen: [Double]
        public let dRejected: [Double]
    }

    /// Loss and gradients of `chosen.count` pairs, divided by `divisor` pairs
    /// (default: the pairs given; a gradient shard passes the global batch, so
    /// summing the shards gives the batch mean).
    public static func loss(chosen: [Double], rejected: [Double], margin: Double = 0, centerCoefficient: Double = 0,
                            divisor: Int? = nil) -> Result {
        precondition(chosen.count == rejected.count, "chosen and rejected differ in count")
        let scale = 1 / Double(max(divisor ?? chosen.count, 1))
        var total = 0.0
        var dc = [Double](repeating: 0, count: chosen.count), dr = dc
        for i in chosen.indices {
            let z = chosen[i] - rejected[i] - margin, s = chosen[i] + rejected[i]
            total += -ScalarMath.logSigmoid(z) + centerCoefficient * s * s
            // d/dz −log σ(z) = −σ(−z); d/dr (c·s²) = 2c·s for both rewards.
            let g = ScalarMath.sigmoid(-z), center = 2 * centerCoefficient * s
            dc[i] = (-g + center) * scale
            dr[i] = (g + center) * scale
        }
        return Result(loss: total * scale, dChosen: dc, dRejected: dr)
    }
}

/// Reward modelling: the LM with a scalar score head (`model.score_head`)
/// learns r(prompt + completion) so that chosen completions outscore rejected
/// ones, with the Bradley–Terry loss above (margin `reward.margin`, centering
/// `reward.center_coefficient`), averaged over the pairs of the global batch.
///
/// Each preference pair becomes two rows, interleaved: row 2i is prompt +
/// chosen of pair i, row 2i + 1 is prompt + rejected. A gradient shard holds
/// batch_size / grad_shards whole pairs. A row's reward is the score head at
/// its last real token (cut to seq_len + 1 tokens as SFT does; the reward then
/// reads the last input position). The LM head is skipped.
///
/// Metrics: `accuracy` (r_c > r_r), `margin` (mean r_c − r_r), `reward_mean`,
/// `reward_min`, `reward_max` (over the 2·batch_size rewards).
public final class RewardObjective: TrainingObjective {
    let config: ExperimentConfig
    let settings: RewardConfig
    let examples: ExampleData
    var batch: SequenceRows
    let zeroWeights: [Float]
    let pairsPerShard: Int
    public let rowsPerShard: Int

    public init(_ context: ObjectiveContext) throws {
        config = context.config
        settings = try config.settings(RewardConfig.self)
        guard config.model.scoreHead else {
            throw ConfigError("model.score_head must be true for training_mode reward (the reward is read from the score head)")
        }
        examples = try ExampleData(config: config, kind: .preference)
        let tokenizer = examples.tokenizer
        pairsPerShard = config.train.batchSize / config.train.gradShards
        rowsPerShard = 2 * pairsPerShard
        batch = SequenceRows(rows: 2 * config.train.batchSize, seqLen: config.model.seqLen, pad: tokenizer.pad)
        zeroWeights = Array(repeating: 0, count: rowsPerShard * config.model.seqLen)
    }

    public var tokensPerStep: Int { 2 * config.train.batchSize * config.model.seqLen }
    public var data: DataIdentity { examples.identity }
    public var freshParameters: Set<String> { ["score.weight"] }
    public func dataCursor(step: Int) -> JSONValue { examples.dataCursor(step: step) }

    public func loadBatch(step: Int) -> String {
        for slot in 0..<config.train.batchSize {
            batch.setPair(slot, examples.example(step: step, slot: slot))
        }
        let h = SHA256Hasher()
        batch.hash(into: h)
        return h.finalizeHex()
    }

    /// Two shards may run at once: a shard's rows are its own arrays.
    public func prepareConcurrentShards() -> Bool { true }

    public func shardGradient(_ shard: Int, model: Transformer, parallel: Parallel) -> ShardResult {
        let t = config.model.seqLen, n = rowsPerShard * t, lo = shard * n
        let (shardInputs, shardTargets, _) = batch.shard(shard, rows: rowsPerShard)
        _ = model.forward(tokens: shardInputs, targets: shardTargets,
                          weights: zeroWeights, batch: rowsPerShard, seqLen: t, parallel: parallel, withLogits: false)
        // Score positions relative to this shard's forward.
        let positions = (0..<rowsPerShard).map { batch.lastPosition(row: shard * rowsPerShard + $0) - lo }
        let r = model.scores(rows: positions).map(Double.init)
        let chosen = stride(from: 0, to: r.count, by: 2).map { r[$0] }
        let rejected = stride(from: 1, to: r.count, by: 2).map { r[$0] }
        let bt = BradleyTerry.loss(chosen: chosen, rejected: rejected, margin: settings.margin,
                                   centerCoefficient: settings.centerCoefficient,
                                   divisor: config.train.batchSize)
        var grads: [(row: Int, gradient: Float)] = []
        for i in 0..<pairsPerShard {
            grads.append((positions[2 * i], Float(bt.dChosen[i])))
            grads.append((positions[2 * i + 1], Float(bt.dRejected[i])))
        }
        model.backward(parallel: parallel, scoreGradients: grads)

        let pairs = Double(config.train.batchSize)
        var correct = 0.0, margin = 0.0, sum = 0.0
        for i in 0..<pairsPerShard {
            if chosen[i] > rejected[i] { correct += 1 }
            margin += chosen[i] - rejected[i]
            sum += chosen[i] + rejected[i]
        }
        return ShardResult(loss: Float(bt.loss), metrics: [
            Metric("accuracy", correct / pairs),
            Metric("margin", margin / pairs),
            Metric("reward_mean", sum / (2 * pairs)),
            Metric("reward_min", r.min() ?? 0, .min),
            Metric("reward_max", r.max() ?? 0, .max),
        ])
    }

    // MARK: - Evaluation

    /// A checkpoint's model as a reward model: the config of the run that wrote
    /// it (`checkpoint` is a run directory or one of its step-N checkpoints),
    /// its weights, and — when the run had no score head (a pretrained LM) — a
    /// fresh `score.weight` from the run's train.seed, which is where a reward
    /// run with that seed starts. Returns the config and whether the head is fresh.
    public static func loadModel(checkpoint: URL, maxRows: Int) throws -> (model: Transformer, config: ExperimentConfig, freshHead: Bool) {
        let m = try TrainedModel(checkpoint, maxBatch: maxRows) { model in
            defer { model.scoreHead = true }
            return model.scoreHead ? [] : ["score.weight"]
        }
        return (m.model, m.config, !m.freshParameters.isEmpty)
    }

    /// `RewardModelEvaluation.evaluate` on a prepared preference shard, checked against the model's tokenizer.
    public static func evaluate(model: Transformer, config: ExperimentConfig, data: URL, pairsPerForward: Int,
                                parallel: Parallel) throws -> RewardModelEvaluation {
        let shard = try ExampleShard.read(data)
        guard shard.kind == .preference else {
            throw ConfigError("\(data.path) holds \(shard.kind.rawValue) examples; a reward model is evaluated on preference examples")
        }
        let tokenizer = try TrainingData.loadTokenizer(config)
        guard shard.tokenizerName == tokenizer.name else {
            throw ConfigError("\(data.path) was prepared with tokenizer '\(shard.tokenizerName)' but the model's data.tokenizer is '\(tokenizer.name)'")
        }
        return RewardModelEvaluation.evaluate(model: model, examples: shard.examples, pad: tokenizer.pad,
                                              pairsPerForward: pairsPerForward, parallel: parallel)
    }
}

/// The reward model's settings (TRL `RewardConfig`): the Bradley–Terry loss
/// −log σ(r_c − r_r − margin) + center_coefficient · mean((r_c + r_r)²).
public struct RewardConfig: ConfigSettings, Equatable {
    public var margin: Double = 0.0
    public var centerCoefficient: Double = 0.0
    public init() {}
    public static let section = "reward"
    public static let keys: [ConfigKey<RewardConfig>] = [
        .double("reward.margin", \.margin, "subtracted from r_chosen − r_rejected in the Bradley–Terry loss"),
        .double("reward.center_coefficient", \.centerCoefficient, range: 0...1e6, "weight of the (r_chosen + r_rejected)² penalty that centres rewards at 0"),
    ]
}

extension ExperimentConfig {
    /// The reward section (its defaults where the config has none).
    public var reward: RewardConfig {
        get { (try? settings(RewardConfig.self)) ?? RewardConfig() }
        set { setSettings(newValue) }
    }
}

extension Algorithm {
    public static let reward = Algorithm(name: "reward", summary: "a scalar reward from preference pairs (Bradley–Terry)",
                                     section: ConfigSection(RewardConfig.self), needs: [.scoreHead, .preferencePairs],
                                     alwaysRecorded: true) { try RewardObjective($0) }
}

extension ModelReward {
    /// The reward model of a `training_mode reward` run (a run directory or a
    /// checkpoint), `batch` completions per forward. A checkpoint without a
    /// trained score head is an error.
    public static func load(checkpoint: URL, batch: Int) throws -> ModelReward {
        let (model, config, fresh) = try RewardObjective.loadModel(checkpoint: checkpoint, maxRows: batch)
        if fresh {
            throw ConfigError("\(checkpoint.path): no score.weight in this checkpoint; a reward model comes from a training_mode reward run")
        }
        let tokenizer = try TrainingData.loadTokenizer(config)
        let template = ChatTemplate(tokenizer: tokenizer)
        return ModelReward(model: model, pad: tokenizer.pad,
                           turnEnd: (template.endOfTurn, template.afterFinalTurn))
    }
}
