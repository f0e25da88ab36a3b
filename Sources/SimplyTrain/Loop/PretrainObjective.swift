import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun

/// Next-token prediction on packed windows of a token stream (or a weighted
/// mixture of streams): every position counts, the loss is the mean over the
/// global batch.
public final class PretrainObjective: TrainingObjective {
    public let config: ExperimentConfig
    public let trainingData: TrainingData
    let windows: [PretrainWindows]    // one per dataset of the mixture
    let cursors: [DataCursor]
    let mixture: MixtureSampler
    public let rowsPerShard: Int

    // Batch buffers, allocated once: [batchSize, seqLen] and per shard.
    var inputs: [Int32], targets: [Int32]
    /// Gradient shard `k` of the loaded batch after `loadShard(k)`:
    /// [rowsPerShard · seqLen] inputs and targets, and the weight of each
    /// position, 1 / (batch_size · seq_len) (the mean over the global batch).
    public internal(set) var shardInputs: [Int32], shardTargets: [Int32], shardWeights: [Float]

    public init(config: ExperimentConfig, data: TrainingData) throws {
        self.config = config
        self.trainingData = data
        let t = config.model.seqLen, b = config.train.batchSize
        rowsPerShard = b / config.train.gradShards
        windows = try data.parts.map { try PretrainWindows(tokens: $0.tokens, seqLen: t) }
        // Dataset d walks its own permutation (seed + d); one dataset is the plain cursor.
        cursors = windows.enumerated().map { d, w in
            DataCursor(numExamples: w.numExamples, batchSize: b, seed: config.train.seed &+ UInt64(d))
        }
        mixture = MixtureSampler(weights: data.parts.map(\.weight), seed: config.train.seed)
        inputs = Array(repeating: 0, count: b * t)
        targets = Array(repeating: 0, count: b * t)
        shardInputs = Array(repeating: 0, count: rowsPerShard * t)
        shardTargets = Array(repeating: 0, count: rowsPerShard * t)
        // Every position counts; the loss is the mean over the global batch.
        shardWeights = Array(repeating: 1 / Float(b * t), count: rowsPerShard * t)
    }

    public var tokensPerStep: Int { config.train.batchSize * config.model.seqLen }

    public var data: DataIdentity {
        DataIdentity(source: trainingData.source, sha256: trainingData.sha256, tokens: trainingData.tokenCount,
                     tokenizerName: trainingData.tokenizerName)
    }

    /// Fills the global batch of `step` (0-based) from the hashed cursor.
    public func loadBatch(step: Int) -> String {
        let t = config.model.seqLen
        for slot in 0..<config.train.batchSize {
            let d = mixture.choose(step: step, slot: slot)
            let e = cursors[d].exampleIndex(step: step, slot: slot)
            windows[d].fill(example: e, inputs: &inputs, targets: &targets, at: slot * t)
        }
        let h = SHA256Hasher()
        inputs.withUnsafeBytes { h.update($0) }
        targets.withUnsafeBytes { h.update($0) }
        return h.finalizeHex()
    }

    /// Copies gradient shard `shard` of the loaded batch into `shardInputs` and
    /// `shardTargets` (objectives that train on the same windows reuse it).
    public func loadShard(_ shard: Int) {
        (shardInputs, shardTargets) = shardRows(shard)
    }

    /// Gradient shard `shard` of the loaded batch: [rowsPerShard · seqLen] inputs and targets.
    public func shardRows(_ shard: Int) -> (inputs: [Int32], targets: [Int32]) {
        let n = rowsPerShard * config.model.seqLen, lo = shard * n
        return (Array(inputs[lo..<(lo + n)]), Array(targets[lo..<(lo + n)]))
    }

    /// One forward and one backward per shard.
    public var backwardOncePerShard: Bool { true }

    /// Two shards may run at once: a shard's rows are its own arrays.
    public func prepareConcurrentShards() -> Bool { true }

    public func shardGradient(_ shard: Int, model: Transformer, parallel: Parallel) -> ShardResult {
        let (inputs, targets) = shardRows(shard)
        let l = model.forward(tokens: inputs, targets: targets, weights: shardWeights,
                              batch: rowsPerShard, seqLen: config.model.seqLen, parallel: parallel, keepLogits: false)
        model.backward(parallel: parallel)
        return ShardResult(loss: l)
    }

    /// The data position is a function of the step alone.
    public func dataCursor(step: Int) -> JSONValue {
        .object([("step", .int(step)),
                 ("epochs", .array(cursors.map { .int($0.epoch(step: step)) })),
                 ("examples_per_epoch", .array(windows.map { .int($0.numExamples) }))])
    }
}
