import SimplyCore
import SimplyData
import SimplyModel

/// Held-out DPO metrics: the implicit rewards β(log π − log π_ref) of each
/// pair's chosen and rejected completions, in batches of `batch` pairs.
public struct PreferenceEvaluation: Sendable {
    public let pairs: Int
    /// Fraction of pairs with reward(chosen) > reward(rejected).
    public let accuracy: Double
    public let meanMargin: Double
    public let meanChosenLogProb: Double
    public let meanRejectedLogProb: Double

    public static func evaluate(policy: Transformer, reference: Transformer, examples: [PreparedExample], beta: Double,
                                pad: Int32, batch: Int = 8, parallel: Parallel) -> PreferenceEvaluation {
        let t = policy.config.seqLen
        var wins = 0, margin = 0.0, lpc = 0.0, lpr = 0.0, count = 0
        var start = 0
        while start < examples.count {
            let chunk = examples[start..<min(start + batch, examples.count)]
            var rows = SequenceRows(rows: 2 * chunk.count, seqLen: t, pad: pad)
            for (i, e) in chunk.enumerated() {
                rows.setPair(i, e)
            }
            func logps(_ m: Transformer) -> [Double] {
                _ = m.forward(tokens: rows.inputs, targets: rows.targets, weights: rows.mask, batch: rows.rows, seqLen: t,
                              parallel: parallel)
                let l = m.positionLosses
                return (0..<rows.rows).map { r in
                    var s = 0.0
                    for j in 0..<t where rows.mask[r * t + j] != 0 { s -= Double(l[r * t + j]) }
                    return s
                }
            }
            let p = logps(policy), q = logps(reference)
            for i in 0..<chunk.count {
                let rc = beta * (p[2 * i] - q[2 * i]), rr = beta * (p[2 * i + 1] - q[2 * i + 1])
                if rc > rr { wins += 1 }
                margin += rc - rr
                lpc += p[2 * i]; lpr += p[2 * i + 1]
                count += 1
            }
            start += batch
        }
        let n = Double(max(count, 1))
        return PreferenceEvaluation(pairs: count, accuracy: Double(wins) / n, meanMargin: margin / n,
                                    meanChosenLogProb: lpc / n, meanRejectedLogProb: lpr / n)
    }
}
