import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun
import SimplyTrain

/// Supervised fine-tuning: next-token cross-entropy on the completion
/// (assistant) tokens only — the loss masks of `simply data prepare` — averaged
/// over the loss tokens of the global batch (TRL's default for SFT). One
/// example per row, cut to seq_len + 1 tokens and padded; no packing across
/// examples, so attention never crosses from one example into another.
///
/// Metrics (TRL names): `num_tokens` (loss tokens in the batch),
/// `mean_token_accuracy` (greedy next token = target, over loss tokens).
public final class SFTObjective: TrainingObjective {
    let config: ExperimentConfig
    let examples: ExampleData
    var batch: SequenceRows
    var lossTokens = 0
    public let rowsPerShard: Int

    public init(_ context: ObjectiveContext) throws {
        config = context.config
        examples = try ExampleData(config: config, kind: .supervised)
        let tokenizer = examples.tokenizer
        rowsPerShard = config.train.batchSize / config.train.gradShards
        batch = SequenceRows(rows: config.train.batchSize, seqLen: config.model.seqLen, pad: tokenizer.pad)
    }

    public var tokensPerStep: Int { config.train.batchSize * config.model.seqLen }
    public var data: DataIdentity { examples.identity }
    public func dataCursor(step: Int) -> JSONValue { examples.dataCursor(step: step) }

    public func loadBatch(step: Int) -> String {
        for slot in 0..<config.train.batchSize {
            batch.set(row: slot, examples.example(step: step, slot: slot).sequences[0])
        }
        lossTokens = batch.mask.reduce(0) { $0 + Int($1) }
        let h = SHA256Hasher()
        batch.hash(into: h)
        return h.finalizeHex()
    }

    /// Two shards may run at once: a shard's rows are its own arrays.
    public func prepareConcurrentShards() -> Bool { true }
    /// One forward and one backward per shard.
    public var backwardOncePerShard: Bool { true }

    public func shardGradient(_ shard: Int, model: Transformer, parallel: Parallel) -> ShardResult {
        let t = config.model.seqLen, n = rowsPerShard * t
        let (shardInputs, shardTargets, shardMask) = batch.shard(shard, rows: rowsPerShard)
        // The mean over the global batch's loss tokens.
        let scale = 1 / Float(max(lossTokens, 1))
        let shardWeights = shardMask.map { $0 * scale }
        let loss = model.forward(tokens: shardInputs, targets: shardTargets, weights: shardWeights,
                                 batch: rowsPerShard, seqLen: t, parallel: parallel)
        let predicted = model.predictedTokens()
        var correct = 0, count = 0
        for i in 0..<n where shardMask[i] != 0 {
            count += 1
            if predicted[i] == shardTargets[i] { correct += 1 }
        }
        model.backward(parallel: parallel)
        return ShardResult(loss: loss, metrics: [
            Metric("num_tokens", Double(count)),
            Metric("mean_token_accuracy", Double(correct) / Double(max(lossTokens, 1))),
        ])
    }
}

extension Algorithm {
    public static let sft = Algorithm(name: "sft", summary: "next-token prediction on the completions of prompt/completion examples",
                                      section: nil) { try SFTObjective($0) }
}
