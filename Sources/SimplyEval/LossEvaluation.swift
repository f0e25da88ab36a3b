import SimplyCore
import SimplyData
import SimplyModel

/// Held-out next-token loss (mean NLL; perplexity = e^loss) of a model, on
/// token windows or on the loss-masked tokens of examples. Each position's
/// cross-entropy is added in stream order in float64, so neither the batch
/// size nor the thread count groups the sum: the result is a function of the
/// weights and the data.
public enum LossEvaluation {
    public struct Result: Sendable, Equatable {
        /// Mean NLL per counted token.
        public let loss: Double
        public let tokens: Int
        /// Examples whose masked tokens ran past model.seq_len + 1 (cut).
        public let truncated: Int
        public var perplexity: Double { DetMath.exp(loss) }
    }

    /// Every position of the first `count` windows, `batch` windows per forward.
    public static func windows(_ model: Transformer, _ windows: PretrainWindows, count: Int, batch: Int,
                               parallel: Parallel) -> Result {
        let t = windows.seqLen
        var inputs = [Int32](repeating: 0, count: batch * t), targets = inputs
        let weights = [Float](repeating: 1, count: batch * t)
        var total = 0.0, first = 0
        while first < count {
            let rows = min(batch, count - first)
            for r in 0..<rows { windows.fill(example: first + r, inputs: &inputs, targets: &targets, at: r * t) }
            _ = model.forward(tokens: inputs, targets: targets, weights: weights, batch: rows, seqLen: t, parallel: parallel)
            let losses = model.positionLosses
            for i in 0..<(rows * t) { total += Double(losses[i]) }
            first += rows
        }
        return Result(loss: total / Double(count * t), tokens: count * t, truncated: 0)
    }

    /// The loss-masked target tokens of `sequences` (a supervised example's
    /// sequence, or a preference pair's prompt + chosen), `batch` per forward,
    /// each cut to model.seq_len + 1 tokens.
    public static func maskedTokens(_ model: Transformer, _ sequences: [MaskedTokens], batch: Int, pad: Int32,
                                    parallel: Parallel) -> Result {
        let t = model.config.seqLen
        var rows = SequenceRows(rows: batch, seqLen: t, pad: pad)
        var total = 0.0, tokens = 0, truncated = 0, first = 0
        while first < sequences.count {
            let n = min(batch, sequences.count - first)
            for r in 0..<batch {
                if r < n { if !rows.set(row: r, sequences[first + r]) { truncated += 1 } }
                else { rows.set(row: r, MaskedTokens()) }
            }
            let size = n * t
            _ = model.forward(tokens: Array(rows.inputs[..<size]), targets: Array(rows.targets[..<size]),
                              weights: Array(rows.mask[..<size]), batch: n, seqLen: t, parallel: parallel)
            let losses = model.positionLosses
            for i in 0..<size where rows.mask[i] != 0 { total += Double(losses[i]); tokens += 1 }
            first += n
        }
        return Result(loss: tokens > 0 ? total / Double(tokens) : 0, tokens: tokens, truncated: truncated)
    }
}
