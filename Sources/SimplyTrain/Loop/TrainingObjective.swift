import Foundation
import SimplyCore
import SimplyModel
import SimplyRun

/// One named number a step reports (metrics.jsonl). Shards' values are
/// combined in shard order: summed (objectives pre-divide by the global batch,
/// so sums are means), or the min / max taken.
public struct Metric: Sendable, Equatable {
    public enum Combine: Sendable { case sum, min, max }
    public let name: String
    public let value: Double
    public let combine: Combine
    public init(_ name: String, _ value: Double, _ combine: Combine = .sum) {
        self.name = name; self.value = value; self.combine = combine
    }

    /// Element-wise combination of per-shard lists (same names, same order).
    public static func combine(_ shards: [[Metric]]) -> [Metric] {
        guard var out = shards.first else { return [] }
        for s in shards.dropFirst() {
            precondition(s.map(\.name) == out.map(\.name), "shards report different metrics")
            for i in out.indices {
                let a = out[i].value, b = s[i].value
                let v: Double
                switch out[i].combine {
                case .sum: v = a + b
                case .min: v = Swift.min(a, b)
                case .max: v = Swift.max(a, b)
                }
                out[i] = Metric(out[i].name, v, out[i].combine)
            }
        }
        return out
    }
}

/// What one gradient shard produced: its share of the loss (already divided
/// by the global batch) and its metrics.
public struct ShardResult: Sendable {
    public let loss: Float
    public let metrics: [Metric]
    public init(loss: Float, metrics: [Metric] = []) { self.loss = loss; self.metrics = metrics }
}

/// What a run's data is, for config.json's `run` section and resume checks.
public struct DataIdentity: Sendable {
    public let source: String
    public let sha256: String
    public let tokens: Int
    public let tokenizerName: String
    public init(source: String, sha256: String, tokens: Int, tokenizerName: String) {
        self.source = source; self.sha256 = sha256; self.tokens = tokens; self.tokenizerName = tokenizerName
    }
}

/// A training algorithm, seen by the shared loop (`Trainer`): the loop owns the
/// policy model, AdamW, gradient shards, clipping, hashes and checkpoints; the
/// objective owns its data, its batch, and the forward/backward of one shard.
/// Everything it computes must be a function of (config, step, shard).
public protocol TrainingObjective: AnyObject {
    /// Rows (sequences of model.seq_len) one gradient shard runs at once.
    var rowsPerShard: Int { get }
    /// Tokens a step processes (for tokens/s).
    var tokensPerStep: Int { get }
    var data: DataIdentity { get }
    /// Parameters a `--load_checkpoint` may lack; they keep their fresh
    /// initialization (a reward model's `score.weight` on a pre-trained LM).
    var freshParameters: Set<String> { get }
    /// Loads the global batch of `step` (0-based); returns batch_sha256.
    func loadBatch(step: Int) -> String
    /// The loop calls this one: the batch of `step` may depend on the
    /// policy's weights at the start of the step (RL rollouts sampled from
    /// it), which are themselves a function of the step. Default: `loadBatch(step:)`.
    func loadBatch(step: Int, policy: Transformer, parallel: Parallel) -> String
    /// Forward and backward of gradient shard `shard` of the loaded batch,
    /// adding into the (zeroed) `model.grads`.
    func shardGradient(_ shard: Int, model: Transformer, parallel: Parallel) -> ShardResult
    /// Where a resume continues (recorded in checkpoints).
    func dataCursor(step: Int) -> JSONValue
    /// State the objective carries from step to step (PPO's rollout, reused
    /// for several steps), allocated once with fixed shapes. The loop saves
    /// and loads it with the checkpoint and hashes it after AdamW's moments,
    /// so a resume mid-way through it continues bit for bit. Default: none.
    var stateTensors: [CheckpointTensor] { get }
    /// Asked once, by a Trainer that would run two shards at once (lane 0 on
    /// its model, lane 1 on a second model sharing the parameters; `model.lane`
    /// says which): true when `shardGradient` may then run for two shards at
    /// once. It must keep no per-shard buffers in the objective and write
    /// nothing but the model it is given (a frozen model of its own needs one
    /// per lane, made here). Default: false (shards run one after another).
    func prepareConcurrentShards() -> Bool
    /// True when `shardGradient` runs exactly one backward pass and writes
    /// the gradient through it alone: then the Trainer may compute the second
    /// of two shards adding into the first's buffer (`Transformer.addsGradients`)
    /// instead of a buffer of its own. Default: false.
    var backwardOncePerShard: Bool { get }
}

extension TrainingObjective {
    public var freshParameters: Set<String> { [] }
    public var stateTensors: [CheckpointTensor] { [] }
    public func prepareConcurrentShards() -> Bool { false }
    public var backwardOncePerShard: Bool { false }
    public func loadBatch(step: Int, policy: Transformer, parallel: Parallel) -> String { loadBatch(step: step) }
}

/// What an objective may need to build itself.
public struct ObjectiveContext: Sendable {
    public let config: ExperimentConfig
    public let runtime: RuntimeOptions
    /// The checkpoint the run's weights started from (`--load_checkpoint`), if any:
    /// DPO's frozen reference.
    public let initCheckpoint: URL?
    /// The run's workers (MPI ranks): an objective may split work that is not
    /// per shard among them (GRPO's rollouts), as long as every worker ends
    /// with the same batch.
    public let workers: Workers
    public init(config: ExperimentConfig, runtime: RuntimeOptions, initCheckpoint: URL?, workers: Workers = .single) {
        self.config = config; self.runtime = runtime; self.initCheckpoint = initCheckpoint; self.workers = workers
    }
}

/// The objective of `Algorithm.pretrain`.
public func pretrainingObjectiveFactory(_ context: ObjectiveContext) throws -> any TrainingObjective {
    guard context.config.train.mode == Algorithm.pretrain.name else {
        throw ConfigError("train.training_mode \(context.config.train.mode) needs the post-training objectives (the simply command has them)")
    }
    return try PretrainObjective(config: context.config, data: TrainingData.load(context.config))
}
