import SimplyCore
import SimplyData
import SimplyModel

/// How a reward model ranks held-out preference pairs.
public struct RewardModelEvaluation: Sendable, Equatable {
    public let pairs: Int
    /// Fraction of pairs with r_c > r_r (ties count as wrong).
    public let accuracy: Double
    /// Mean r_c − r_r.
    public let margin: Double
    public let meanChosen: Double
    public let meanRejected: Double
    /// The Bradley–Terry loss with margin 0 and no centering.
    public let loss: Double
    /// Pairs where the score could not see all of a sequence (longer than seq_len tokens).
    public let truncated: Int

    /// Scores every pair of a preference example shard with `model` (a score-head
    /// model), `pairsPerForward` pairs per forward. Deterministic: the result does
    /// not depend on the thread count.
    public static func evaluate(model: Transformer, examples: [PreparedExample], pad: Int32,
                                pairsPerForward: Int, parallel: Parallel) -> RewardModelEvaluation {
        precondition(model.config.scoreHead, "evaluate needs a score-head model")
        precondition(2 * pairsPerForward <= model.maxBatch, "model.maxBatch < 2 · pairsPerForward")
        let t = model.config.seqLen
        var chosen: [Double] = [], rejected: [Double] = []
        var truncated = 0
        var start = 0
        while start < examples.count {
            let k = min(pairsPerForward, examples.count - start)
            var rows = SequenceRows(rows: 2 * k, seqLen: t, pad: pad)
            for p in 0..<k {
                let e = examples[start + p]
                precondition(e.kind == .preference, "evaluate needs preference examples")
                rows.setPair(p, e)
                if e.sequences[0].count + max(e.sequences[1].count, e.sequences[2].count) > t { truncated += 1 }
            }
            _ = model.forward(tokens: rows.inputs, targets: rows.targets, weights: [Float](repeating: 0, count: 2 * k * t),
                              batch: 2 * k, seqLen: t, parallel: parallel, withLogits: false)
            let r = model.scores(rows: (0..<(2 * k)).map { rows.lastPosition(row: $0) })
            for p in 0..<k {
                chosen.append(Double(r[2 * p]))
                rejected.append(Double(r[2 * p + 1]))
            }
            start += k
        }
        let n = Double(max(examples.count, 1))
        var correct = 0.0, margin = 0.0, sc = 0.0, sr = 0.0, loss = 0.0
        for i in chosen.indices {
            loss += -ScalarMath.logSigmoid(chosen[i] - rejected[i])   // the Bradley–Terry loss, margin 0
            if chosen[i] > rejected[i] { correct += 1 }
            margin += chosen[i] - rejected[i]
            sc += chosen[i]; sr += rejected[i]
        }
        return RewardModelEvaluation(pairs: examples.count, accuracy: correct / n, margin: margin / n,
                          meanChosen: sc / n, meanRejected: sr / n,
                          loss: loss * (1 / n), truncated: truncated)
    }
}
