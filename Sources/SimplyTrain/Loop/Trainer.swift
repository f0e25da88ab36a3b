import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun

/// What one finished step produced.
public struct StepRecord: Sendable {
    public let step: Int          // 1-based: the state after `step` updates
    public let loss: Float
    public let lr: Double
    public let gradNorm: Double
    public let batchSHA256: String
    /// The state hash after this step ("" on workers other than 0).
    public let stateSHA256: String
    /// The objective's metrics (metrics.jsonl only; not hashed).
    public var metrics: [Metric] = []

    /// The hashes.jsonl line: only bit-exact facts, no times.
    public var hashLine: JSONValue {
        Self.hashLine(step: step, loss: loss, stateSHA256: stateSHA256, batchSHA256: batchSHA256)
    }

    static func hashLine(step: Int, loss: Float, stateSHA256: String, batchSHA256: String) -> JSONValue {
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

/// The shared training loop: the objective's batch, gradient shards summed in
/// a fixed tree, global-norm clipping, AdamW, then the step's hashes. What is
/// trained (pretraining, SFT, DPO, …) is the objective's business.
public final class Trainer {
    public let config: ExperimentConfig
    public let model: Transformer
    public let optimizer: AdamW
    public let objective: any TrainingObjective
    let tree: GradientTree
    /// Set when several workers (MPI ranks) share the gradient shards.
    let exchange: GradientExchange?
    public let workers: Workers
    let parallel: Parallel
    /// A second model on the same parameters (its own activations and
    /// gradients) when two sibling gradient shards run at once, one per
    /// half of the threads: set for one worker, ≥ 2 threads, ≥ 2 shards and an
    /// objective that allows it. Each shard's bits are the same on any thread
    /// count, so which model and how many threads ran it never shows.
    let sibling: Transformer?
    /// Gradient shards that run at once (2 with a sibling model, else 1).
    public var concurrentShardLanes: Int { sibling == nil ? 1 : 2 }
    /// Two shards, one after the other in one gradient buffer: the second's
    /// backward adds into the first's gradient (`Transformer.addsGradients`),
    /// which gives the tree's g₀ + g₁ bits without a second parameter-sized
    /// buffer. Chosen with gradient checkpointing (memory first) when the
    /// objective runs one backward per shard and the model trains all its
    /// parameters; the two-lane sibling is then not made.
    public let inPlaceShardPair: Bool
    let segments: [AdamW.Segment]
    public private(set) var step = 0
    /// The last step's state hash: how many of its pieces AdamW's threads
    /// hashed during their pass, of how many (`simply bench` reports it).
    public private(set) var lastStateHashPieces = (inAdamW: 0, total: 0)
    /// Set by `simply bench` to see where a step's time goes (nil: no clock reads).
    public var phaseTimer: PhaseTimer?

    public init(config: ExperimentConfig, objective: any TrainingObjective, runtime: RuntimeOptions,
                workers: Workers = .single) {
        self.config = config
        self.workers = workers
        self.objective = objective
        // With lora.rank ≥ 1 the base is frozen and only the adapters (and a
        // score head) train: the optimizer, shards and hashes see only them.
        // (The config was checked when it was read; trainRun reads the section first.)
        let lora = (try? config.loraSettings()) ?? LoRAConfig()
        let every = config.train.checkpointEvery
        model = lora.rank > 0 ? Transformer(config: config.model, maxBatch: objective.rowsPerShard, lora: lora, checkpointEvery: every)
            : Transformer(config: config.model, maxBatch: objective.rowsPerShard, checkpointEvery: every)
        model.initialize(seed: config.train.seed)
        let trainable = model.trainableGrads.count
        optimizer = AdamW(parameterCount: trainable, config: config.train)
        exchange = workers.size > 1
            ? GradientExchange(shards: config.train.gradShards, parameterCount: trainable, workers: workers) : nil
        parallel = Parallel(threads: runtime.threads, deterministic: runtime.deterministic)
        // A LoRA run keeps one set of activations: a second lane's would be the
        // largest thing it holds (its weights have no gradient or moments), and
        // memory is what LoRA is for. Lanes never change bits.
        inPlaceShardPair = workers.size == 1 && config.train.gradShards == 2 && lora.rank == 0
            && config.train.checkpointEvery > 0 && objective.backwardOncePerShard
        sibling = workers.size == 1 && runtime.threads >= 2 && config.train.gradShards >= 2 && lora.rank == 0
            && !inPlaceShardPair && objective.prepareConcurrentShards()
            ? Transformer(sharingParametersOf: model) : nil
        // Two shards: shard 0 runs on the sibling, straight into the tree's one
        // buffer (its own gradients), shard 1 on `model` into the result.
        tree = GradientTree(shards: config.train.gradShards, parameterCount: trainable,
                            firstBuffer: config.train.gradShards == 2 ? sibling?.trainableGrads : nil)
        segments = model.trainableEntries.map { AdamW.Segment(offset: $0.offset, count: $0.count, decay: $0.decay) }
    }

    /// Pretraining on `data`.
    public convenience init(config: ExperimentConfig, data: TrainingData, runtime: RuntimeOptions) throws {
        self.init(config: config, objective: try PretrainObjective(config: config, data: data), runtime: runtime)
    }

    /// The state hash (StateHasher: SHA-256 over the SHA-256 digests of 1 MiB
    /// pieces) of the trained parameters (every parameter, or with LoRA the
    /// adapters and score head), then AdamW's m and v, in buffer order, then
    /// the objective's state tensors (none for most objectives).
    public func stateHash() -> String {
        StateHasher.digest(of: stateHashTensors, parallel: parallel)
    }

    /// The tensors `stateHash` hashes, in order.
    var stateHashTensors: [Tensor] { stateHashTensors(objectiveState: objective.stateTensors) }

    private func stateHashTensors(objectiveState: [CheckpointTensor]) -> [Tensor] {
        [model.trainableParams, optimizer.m, optimizer.v] + objectiveState.map(\.tensor)
    }

    /// The training state in checkpoint order: the trained parameters
    /// (Hugging Face names; with LoRA, PEFT's adapter names and no base
    /// weight), then AdamW's first and second moments, then the objective's
    /// state tensors. Their bytes in this order are exactly what `stateHash` hashes.
    public func stateTensors() -> [CheckpointTensor] {
        var out: [CheckpointTensor] = []
        for (prefix, flat) in [("", model.trainableParams), ("optimizer.exp_avg.", optimizer.m), ("optimizer.exp_avg_sq.", optimizer.v)] {
            for e in model.trainableEntries {
                out.append(CheckpointTensor(name: prefix + e.name,
                                            tensor: Tensor(storage: flat.storage, offset: flat.offset + e.offset, shape: e.shape)))
            }
        }
        return out + objective.stateTensors
    }

    /// Where a resume continues: the data position is a function of the step alone.
    public var dataCursor: JSONValue { objective.dataCursor(step: step) }

    /// Continues from a checkpoint's state (already loaded into `stateTensors()`).
    public func resume(atStep step: Int) {
        self.step = step
        optimizer.setStep(step)
    }

    /// Seconds the last step spent exchanging gradients between workers (0 for one worker).
    public var communicationSeconds: Double { exchange?.seconds ?? 0 }
    /// Seconds the last step waited for the slowest worker before the exchange (0 for one worker).
    public var waitSeconds: Double { exchange?.waitSeconds ?? 0 }

    /// The gradients of one leaf, or of two sibling leaves at once (one on
    /// `model`, one on `sibling`), each written into its leaf's output.
    func shardGradients(_ leaves: [GradientTree.Leaf]) -> [ShardResult] {
        guard leaves.count == 2, let sibling else {
            return leaves.map { Self.shardGradient($0, objective: objective, on: model, dropout: dropoutKey($0.shard), parallel) }
        }
        // The leaf whose output is model.grads runs on `model` (no copy).
        let first = leaves[1].into.storage === model.trainableGrads.storage ? 1 : 0
        let half = Parallel(threads: parallel.threads / 2, deterministic: parallel.deterministic)
        let lanes = [ConcurrentLane(objective: objective, model: model, leaf: leaves[first], dropout: dropoutKey(leaves[first].shard)),
                     ConcurrentLane(objective: objective, model: sibling, leaf: leaves[1 - first],
                                    dropout: dropoutKey(leaves[1 - first].shard))]
        Parallel.concurrently(2) { i in
            let lane = lanes[i]
            lane.result = Self.shardGradient(lane.leaf, objective: lane.objective, on: lane.model,
                                             dropout: lane.dropout, half)
        }
        let results = lanes.map { $0.result! }
        return first == 0 ? results : results.reversed()
    }

    /// Which mask LoRA dropout draws in shard `shard` of this step.
    func dropoutKey(_ shard: Int) -> LoRADropoutKey {
        LoRADropoutKey(seed: config.train.seed, step: step, shard: shard)
    }

    static func shardGradient(_ leaf: GradientTree.Leaf, objective: any TrainingObjective, on m: Transformer,
                              dropout: LoRADropoutKey, _ parallel: Parallel) -> ShardResult {
        m.zeroGrads()
        m.adapters?.dropoutKey = dropout
        let r = objective.shardGradient(leaf.shard, model: m, parallel: parallel)
        m.adapters?.dropoutKey = nil
        if leaf.into.storage !== m.trainableGrads.storage { leaf.into.copy(from: m.trainableGrads) }
        return r
    }

    /// Runs one optimizer step and returns its record. With several workers
    /// every worker applies the same update; only worker 0 hashes the state
    /// (`stateSHA256` is empty on the others).
    public func trainStep() -> StepRecord {
        let timer = phaseTimer
        func phase<T>(_ name: String, _ body: () -> T) -> T { timer.map { $0.time(name, body) } ?? body() }
        let stateTensors = objective.stateTensors
        let (batchHash, loss, metrics) = batchGradient()
        // Clipping's scale is applied by AdamW as it reads each gradient.
        // The gradient tree's last addition measured the norm where it ran.
        let norm = phase("clip") { tree.takeSumNorm() ?? globalNorm(model.trainableGrads, parallel: parallel) }
        let lr = learningRate(step: step, config: config.train)
        // The state hash (of the same bytes as stateHash(), with the objective's
        // state tensors as they were before this step's batch), on the step's
        // own threads: AdamW's threads hash each state piece as soon as their
        // chunk has written it, while it is in cache; `finish` hashes the rest.
        let pieces = workers.isRoot ? StatePieces(stateHashTensors(objectiveState: stateTensors)) : nil
        var hashEarly: (@Sendable (Range<Int>, Range<Int>) -> Void)? = nil
        if let pieces, StatePieces.hashesEarly {   // else finish hashes every piece, without AdamW in chunks
            hashEarly = { thread, chunk in pieces.hashCompleted(lockstep: 3, thread: thread, chunk: chunk) }
        }
        phase("adamw") { optimizer.step(params: model.trainableParams, grads: model.trainableGrads,
                                        gradScale: clipScale(norm: norm, maxNorm: config.train.gradClip),
                                        segments: segments, lr: lr, parallel: parallel, afterChunk: hashEarly) }
        step += 1
        if let pieces { lastStateHashPieces = (pieces.hashedCount, pieces.count) }
        let state = pieces.map { p in phase("state_hash") { p.finish(parallel: parallel) } } ?? ""
        return StepRecord(step: step, loss: loss, lr: lr, gradNorm: norm,
                          batchSHA256: batchHash, stateSHA256: state, metrics: metrics)
    }

    /// The step's batch and its gradient in `model.grads`: every shard's
    /// gradient summed by the fixed tree (or across workers), with the loss
    /// and metrics. Nothing is updated; trainStep is this, then the clip and
    /// AdamW. (The end-to-end reference tests compare these gradients.)
    public func batchGradient() -> (batchSHA256: String, loss: Float, metrics: [Metric]) {
        let timer = phaseTimer
        func phase<T>(_ name: String, _ body: () -> T) -> T { timer.map { $0.time(name, body) } ?? body() }
        let batchHash = phase("load_batch") { objective.loadBatch(step: step, policy: model, parallel: parallel) }
        let loss: Float, metrics: [Metric]
        if let exchange {
            (loss, metrics) = phase("shards_and_tree_sum") {
                exchange.reduce(into: model.trainableGrads, parallel: parallel) { shard, into in
                    phase("shard_forward_backward") {
                        model.zeroGrads()
                        model.adapters?.dropoutKey = dropoutKey(shard)
                        let r = objective.shardGradient(shard, model: model, parallel: parallel)
                        model.adapters?.dropoutKey = nil
                        into.copy(from: model.trainableGrads)
                        return r
                    }
                }
            }
        } else if inPlaceShardPair {
            // The tree of two leaves, result = g₀ + g₁, with g₁ added in place.
            (loss, metrics) = phase("shards_and_tree_sum") {
                let first = phase("shard_forward_backward") {
                    Self.shardGradient((0, model.trainableGrads), objective: objective, on: model, dropout: dropoutKey(0), parallel)
                }
                model.addsGradients = true
                let second = phase("shard_forward_backward") { objective.shardGradient(1, model: model, parallel: parallel) }
                model.addsGradients = false
                return (first.loss + second.loss, Metric.combine([first.metrics, second.metrics]))
            }
        } else {
            var shardMetrics = [[Metric]](repeating: [], count: config.train.gradShards)
            loss = phase("shards_and_tree_sum") {
                tree.reduce(into: model.trainableGrads, parallel: parallel) { leaves in
                    let results = phase("shard_forward_backward") { shardGradients(leaves) }
                    for (leaf, r) in zip(leaves, results) { shardMetrics[leaf.shard] = r.metrics }
                    return results.map(\.loss)
                }
            }
            metrics = Metric.combine(shardMetrics)
        }
        return (batchHash, loss, metrics)
    }
}

/// One lane of `Trainer.shardGradients`: a leaf, the model it runs on, and
/// the slot its result goes to (written by that lane's thread alone).
private final class ConcurrentLane: @unchecked Sendable {
    let objective: any TrainingObjective
    let model: Transformer
    let leaf: GradientTree.Leaf
    let dropout: LoRADropoutKey
    var result: ShardResult?
    init(objective: any TrainingObjective, model: Transformer, leaf: GradientTree.Leaf, dropout: LoRADropoutKey) {
        self.objective = objective; self.model = model; self.leaf = leaf; self.dropout = dropout
    }
}
