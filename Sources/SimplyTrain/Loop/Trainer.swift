import Foundation
import SimplyCore
import SimplyData
import SimplyModel

/// What one finished step produced.
public struct StepRecord: Sendable {
    public let step: Int          // 1-based: the state after `step` updates
    public let loss: Float
    public let lr: Double
    public let gradNorm: Double
    public let batchSHA256: String
    public let stateSHA256: String

    /// The hashes.jsonl line: only bit-exact facts, no times.
    public var hashLine: JSONValue {
        .object([("step", .int(step)),
                 ("loss_bits", .string(hexBits(loss))),
                 ("state_sha256", .string(stateSHA256)),
                 ("batch_sha256", .string(batchSHA256))])
    }
}

public func hexBits(_ x: Float) -> String {
    let h = String(x.bitPattern, radix: 16)
    return String(repeating: "0", count: 8 - h.count) + h
}

/// Options that change speed, never bits.
public struct RuntimeOptions: Sendable {
    public var threads: Int
    public var deterministic: Bool
    public init(threads: Int, deterministic: Bool) { self.threads = threads; self.deterministic = deterministic }
}

/// The pre-training loop: batch from the hashed cursor, gradient shards summed
/// in a fixed tree, global-norm clipping, AdamW, then the step's hashes.
public final class Trainer {
    public let config: ExperimentConfig
    public let model: Transformer
    public let optimizer: AdamW
    public let data: TrainingData
    let windows: [PretrainWindows]    // one per dataset of the mixture
    let cursors: [DataCursor]
    let mixture: MixtureSampler
    let tree: GradientTree
    let parallel: Parallel
    let segments: [AdamW.Segment]
    public private(set) var step = 0

    // Batch buffers, allocated once: [batchSize, seqLen] and per shard.
    var inputs: [Int32], targets: [Int32]
    var shardInputs: [Int32], shardTargets: [Int32], shardWeights: [Float]

    public init(config: ExperimentConfig, data: TrainingData, runtime: RuntimeOptions) throws {
        self.config = config
        self.data = data
        let t = config.model.seqLen, b = config.train.batchSize
        let perShard = b / config.train.gradShards
        windows = try data.parts.map { try PretrainWindows(tokens: $0.tokens, seqLen: t) }
        // Dataset d walks its own permutation (seed + d); one dataset is the plain cursor.
        cursors = windows.enumerated().map { d, w in
            DataCursor(numExamples: w.numExamples, batchSize: b, seed: config.train.seed &+ UInt64(d))
        }
        mixture = MixtureSampler(weights: data.parts.map(\.weight), seed: config.train.seed)
        model = Transformer(config: config.model, maxBatch: perShard)
        model.initialize(seed: config.train.seed)
        optimizer = AdamW(parameterCount: model.layout.count, config: config.train)
        tree = GradientTree(shards: config.train.gradShards, parameterCount: model.layout.count)
        parallel = Parallel(threads: runtime.threads, deterministic: runtime.deterministic)
        segments = model.layout.entries.map { AdamW.Segment(offset: $0.offset, count: $0.count, decay: $0.decay) }
        inputs = Array(repeating: 0, count: b * t)
        targets = Array(repeating: 0, count: b * t)
        shardInputs = Array(repeating: 0, count: perShard * t)
        shardTargets = Array(repeating: 0, count: perShard * t)
        // Every position counts; the loss is the mean over the global batch.
        shardWeights = Array(repeating: 1 / Float(b * t), count: perShard * t)
    }

    /// Fills the global batch of `step` (0-based) from the hashed cursor.
    func loadBatch(step: Int) -> String {
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

    /// SHA-256 over parameters, then AdamW's m and v, in layout order.
    public func stateHash() -> String {
        let h = SHA256Hasher()
        h.update(model.params)
        h.update(optimizer.m)
        h.update(optimizer.v)
        return h.finalizeHex()
    }

    /// The training state in checkpoint order: parameters (Hugging Face names),
    /// then AdamW's first and second moments. Their bytes in this order are
    /// exactly what `stateHash` hashes.
    public func stateTensors() -> [CheckpointTensor] {
        var out: [CheckpointTensor] = []
        for (prefix, flat) in [("", model.params), ("optimizer.exp_avg.", optimizer.m), ("optimizer.exp_avg_sq.", optimizer.v)] {
            for e in model.layout.entries {
                out.append(CheckpointTensor(name: prefix + e.name,
                                            tensor: Tensor(storage: flat.storage, offset: flat.offset + e.offset, shape: e.shape)))
            }
        }
        return out
    }

    /// Where a resume continues: the data position is a function of the step alone.
    public var dataCursor: JSONValue {
        .object([("step", .int(step)),
                 ("epochs", .array(cursors.map { .int($0.epoch(step: step)) })),
                 ("examples_per_epoch", .array(windows.map { .int($0.numExamples) }))])
    }

    /// Continues from a checkpoint's state (already loaded into `stateTensors()`).
    public func resume(atStep step: Int) {
        self.step = step
        optimizer.setStep(step)
    }

    /// Runs one optimizer step and returns its record.
    public func trainStep() -> StepRecord {
        let t = config.model.seqLen
        let perShard = config.train.batchSize / config.train.gradShards
        let batchHash = loadBatch(step: step)
        let loss = tree.reduce(into: model.grads, parallel: parallel) { shard, into in
            let lo = shard * perShard * t
            for i in 0..<(perShard * t) {
                shardInputs[i] = inputs[lo + i]
                shardTargets[i] = targets[lo + i]
            }
            model.zeroGrads()
            let l = model.forward(tokens: shardInputs, targets: shardTargets, weights: shardWeights,
                                  batch: perShard, seqLen: t, parallel: parallel)
            model.backward(parallel: parallel)
            if into.storage !== model.grads.storage { into.copy(from: model.grads) }
            return l
        }
        let norm = clipGradients(model.grads, maxNorm: config.train.gradClip, parallel: parallel)
        let lr = learningRate(step: step, config: config.train)
        optimizer.step(params: model.params, grads: model.grads, segments: segments, lr: lr, parallel: parallel)
        step += 1
        return StepRecord(step: step, loss: loss, lr: lr, gradNorm: norm,
                          batchSHA256: batchHash, stateSHA256: stateHash())
    }
}
