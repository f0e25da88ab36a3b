import SimplyCore
import SimplyModel

/// A model's raw outputs on fixed token rows, for comparing with another
/// implementation (transformers): the logits, the next-token loss as
/// transformers computes it with labels = input_ids (the mean CE over the
/// B·(T−1) shifted positions), and the score head at every position.
public struct ModelOutputs {
    /// [B, T, vocab]
    public let logits: Tensor
    public let loss: Double
    /// [B, T] when the model has a score head.
    public let scores: Tensor?

    /// `tokens` is [B, T] row-major, T <= model.seq_len, B <= the model's maxBatch.
    public init(model: Transformer, tokens: [Int32], batch: Int, seqLen t: Int, parallel: Parallel) {
        let v = model.config.vocabSize, n = batch * t
        var targets = [Int32](repeating: 0, count: n), weights = [Float](repeating: 0, count: n)
        for b in 0..<batch {
            for i in 0..<(t - 1) { targets[b * t + i] = tokens[b * t + i + 1]; weights[b * t + i] = 1 }
        }
        _ = model.forward(tokens: tokens, targets: targets, weights: weights, batch: batch, seqLen: t, parallel: parallel)
        let out = Tensor(shape: [batch, t, v])
        out.pointer.update(from: model.logits.pointer, count: n * v)
        // Summed in position order in float64: independent of threads.
        var total = 0.0
        let losses = model.positionLosses
        for i in 0..<n where weights[i] != 0 { total += Double(losses[i]) }
        logits = out
        loss = batch * (t - 1) > 0 ? total / Double(batch * (t - 1)) : 0
        if model.config.scoreHead {
            scores = Tensor(shape: [batch, t], values: model.scores(rows: Array(0..<n)))
        } else {
            scores = nil
        }
    }
}
