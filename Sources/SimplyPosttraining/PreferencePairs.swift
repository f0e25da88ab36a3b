import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun
import SimplyTrain

/// The batch of the pair objectives (DPO, ORPO, SimPO): train.batch_size
/// preference pairs from `data.dataset`, two rows each, prompt+chosen at row
/// 2i and prompt+rejected at 2i + 1, loss masks on the completions. A pair
/// objective reads each row's completion log-probability from a forward and
/// hands back ∂loss/∂CE per row, which `backward` turns into the gradient.
final class PreferencePairs {
    let seqLen: Int
    let examples: ExampleData
    let pairs: Int
    let rowsPerShard: Int
    var rows: SequenceRows
    /// Loss tokens of the batch's chosen completions (for NLL terms averaged over them).
    private(set) var chosenTokens = 0

    init(_ config: ExperimentConfig) throws {
        seqLen = config.model.seqLen
        examples = try ExampleData(config: config, kind: .preference)
        pairs = config.train.batchSize
        rowsPerShard = 2 * pairs / config.train.gradShards
        rows = SequenceRows(rows: 2 * pairs, seqLen: seqLen, pad: examples.tokenizer.pad)
    }

    var tokensPerStep: Int { 2 * pairs * seqLen }

    /// Loads the pairs of `step`; returns batch_sha256.
    func load(step: Int) -> String {
        for slot in 0..<pairs {
            rows.setPair(slot, examples.example(step: step, slot: slot))
        }
        let t = seqLen
        chosenTokens = (0..<pairs).reduce(0) { acc, p in
            acc + rows.mask[(2 * p * t)..<((2 * p + 1) * t)].reduce(0) { $0 + Int($1) }
        }
        let h = SHA256Hasher()
        rows.hash(into: h)
        return h.finalizeHex()
    }

    /// A forward of `model` on the rows of gradient shard `shard`; per row, the
    /// summed completion log-prob (−Σ CE over the masked targets) and its token count.
    func logProbs(_ shard: Int, model: Transformer, parallel: Parallel) -> [(logp: Double, tokens: Int)] {
        let t = seqLen
        let (inputs, targets, mask) = rows.shard(shard, rows: rowsPerShard)
        _ = model.forward(tokens: inputs, targets: targets, weights: mask, batch: rowsPerShard, seqLen: t, parallel: parallel)
        let losses = model.positionLosses
        return (0..<rowsPerShard).map { r in
            var s = 0.0, n = 0
            for j in 0..<t where mask[r * t + j] != 0 {
                s -= Double(losses[r * t + j])
                n += 1
            }
            return (s, n)
        }
    }

    /// The gradient of the shard's loss into `model.grads`, from ∂loss/∂CE of
    /// each row's masked positions (`dCE[r]`; for a summed log-prob that is
    /// −∂loss/∂log π(row)). `model`'s last forward must be `logProbs` of this shard.
    func backward(_ model: Transformer, dCE: [Float], parallel: Parallel) {
        let t = seqLen
        var scale = [Float](repeating: 0, count: rowsPerShard * t)
        for r in 0..<rowsPerShard {
            for j in 0..<t { scale[r * t + j] = dCE[r] }
        }
        model.scaleLossGradient(scale, parallel: parallel)
        model.backward(parallel: parallel)
    }
}

/// A pair objective (DPO, ORPO, SimPO) trains on `PreferencePairs`: its rows,
/// tokens, data, cursor and batch are the batch's.
protocol PairObjective: TrainingObjective {
    var batch: PreferencePairs { get }
}

extension PairObjective {
    public var rowsPerShard: Int { batch.rowsPerShard }
    public var tokensPerStep: Int { batch.tokensPerStep }
    public var data: DataIdentity { batch.examples.identity }
    public func dataCursor(step: Int) -> JSONValue { batch.examples.dataCursor(step: step) }
    public func loadBatch(step: Int) -> String { batch.load(step: step) }
}
