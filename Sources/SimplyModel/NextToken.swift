import SimplyCore

/// One sampled token with its log-probabilities.
public struct TokenChoice: Sendable, Equatable {
    public let token: Int32
    /// log p(token) under the sampling distribution (temperature, top-k,
    /// top-p); 0 for greedy decoding, whose distribution is a point mass.
    public let logProb: Float
    /// log softmax(logits)[token]: the unmodified model at temperature 1 over
    /// the whole vocabulary, the "old log-probability" of PPO/GRPO. Its bits
    /// are −(the cross-entropy `Transformer.forward` computes for this token
    /// with weight 1): (max + log Σ exp(l − max)) − l[token], negated.
    public let modelLogProb: Float
}

/// The choice of one next token from one row of logits: a pure function of
/// (logits, config, uniform), with fixed-order sums and DetMath exp/log.
///
/// With u uniform in [0, 1), the token is the first kept id j (ascending ids)
/// with u·S < Σ_{kept i ≤ j} e_i, where e_i = exp(z_i − max z), z = logits /
/// temperature, and S = Σ_kept e_i summed in id order (when u·S rounds up to
/// S, the last id with e_i > 0).
public enum NextToken {
    /// The token for `logits[0..<vocab]`.
    public static func choose(_ logits: UnsafePointer<Float>, vocab: Int, config: SamplingConfig,
                              uniform u: Float) -> TokenChoice {
        precondition(vocab >= 1)
        // Each pass first writes the exponentials (no chain between elements, so
        // they run side by side), then sums them in id order: the sums' bits are
        // those of adding each exp as it is computed.
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: vocab) { scratch in
            let e = scratch.baseAddress!
            // The model's own log-partition, as CrossEntropy computes it.
            var mx = -Float.infinity
            for j in 0..<vocab { mx = max(mx, logits[j]) }
            for j in 0..<vocab { e[j] = DetMath.exp(logits[j] - mx) }
            var sum: Float = 0
            for j in 0..<vocab { sum += e[j] }
            let logZ = mx + DetMath.log(sum)
            func modelLogProb(_ j: Int) -> Float { -(logZ - logits[j]) }

            if config.isGreedy {
                var best = 0
                for j in 1..<vocab where logits[j] > logits[best] { best = j }
                return TokenChoice(token: Int32(best), logProb: 0, modelLogProb: modelLogProb(best))
            }
            let t = config.temperature
            func choice(_ pick: Int, _ mz: Float, _ s: Float) -> TokenChoice {
                TokenChoice(token: Int32(pick), logProb: -((mz + DetMath.log(s)) - logits[pick] / t),
                            modelLogProb: modelLogProb(pick))
            }
            // Draws from softmax(logits / t) over `ids`, summed in their order.
            func draw(_ ids: [Int]) -> TokenChoice {
                var mz = -Float.infinity
                for j in ids { mz = max(mz, logits[j] / t) }
                var s: Float = 0
                for j in ids { s += DetMath.exp(logits[j] / t - mz) }
                let target = u * s
                var acc: Float = 0, pick = -1, lastPositive = ids[0]
                for j in ids {
                    let ej = DetMath.exp(logits[j] / t - mz)
                    acc += ej
                    if target < acc { pick = j; break }
                    if ej > 0 { lastPositive = j }
                }
                if pick < 0 { pick = lastPositive }   // u·S rounded up to S
                return choice(pick, mz, s)
            }
            // No filter: every token, the same arithmetic as `draw(Array(0..<vocab))`
            // with the exponentials computed once.
            guard let kept = keptTokens(logits, vocab: vocab, config: config) else {
                var mz = -Float.infinity
                for j in 0..<vocab { mz = max(mz, logits[j] / t) }
                for j in 0..<vocab { e[j] = DetMath.exp(logits[j] / t - mz) }
                var s: Float = 0
                for j in 0..<vocab { s += e[j] }
                let target = u * s
                var acc: Float = 0, pick = -1, lastPositive = 0
                for j in 0..<vocab {
                    acc += e[j]
                    if target < acc { pick = j; break }
                    if e[j] > 0 { lastPositive = j }
                }
                if pick < 0 { pick = lastPositive }
                return choice(pick, mz, s)
            }
            return draw(kept)
        }
    }

    /// The ids top-k and top-p keep, ascending; nil when neither filters.
    /// Candidates are ranked by logit (higher first, then lower id), which is
    /// their rank after any temperature.
    static func keptTokens(_ logits: UnsafePointer<Float>, vocab: Int, config: SamplingConfig) -> [Int]? {
        let k = config.topK > 0 && config.topK < vocab ? config.topK : vocab
        guard k < vocab || config.topP < 1 else { return nil }
        var order = Array(0..<vocab)
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        var kept = Array(order.prefix(k))
        if config.topP < 1 {
            let t = config.temperature, mz = logits[kept[0]] / t
            var total: Float = 0
            for j in kept { total += DetMath.exp(logits[j] / t - mz) }
            let goal = config.topP * total
            var mass: Float = 0, n = 0
            for j in kept {
                n += 1
                mass += DetMath.exp(logits[j] / t - mz)
                if mass >= goal { break }
            }
            kept.removeSubrange(n...)
        }
        kept.sort()
        return kept
    }

    /// The `count` most likely tokens under the unmodified model (higher
    /// logit first, then lower id) with their log softmax, computed as
    /// `TokenChoice.modelLogProb` is: what OpenAI's `top_logprobs` reports.
    public static func topLogProbs(_ logits: UnsafePointer<Float>, vocab: Int, count: Int) -> [(token: Int32, logProb: Float)] {
        let k = min(max(count, 0), vocab)
        guard k > 0 else { return [] }
        var mx = -Float.infinity
        for j in 0..<vocab { mx = max(mx, logits[j]) }
        var sum: Float = 0
        for j in 0..<vocab { sum += DetMath.exp(logits[j] - mx) }
        let logZ = mx + DetMath.log(sum)
        // Insertion into a short ranked list: k is at most 20.
        var best: [Int] = []
        best.reserveCapacity(k + 1)
        for j in 0..<vocab {
            if best.count == k, logits[j] <= logits[best[k - 1]] { continue }
            var at = best.count
            while at > 0, logits[j] > logits[best[at - 1]] { at -= 1 }
            best.insert(j, at: at)
            if best.count > k { best.removeLast() }
        }
        return best.map { (Int32($0), -(logZ - logits[$0])) }
    }

    public static func choose(logits: [Float], config: SamplingConfig, uniform u: Float) -> TokenChoice {
        logits.withUnsafeBufferPointer { choose($0.baseAddress!, vocab: $0.count, config: config, uniform: u) }
    }

    /// The sampling distribution itself, p[j] for every id (0 outside the
    /// kept set; one-hot for greedy): what `choose` draws from.
    public static func probabilities(logits: [Float], config: SamplingConfig) -> [Float] {
        logits.withUnsafeBufferPointer { lb -> [Float] in
            let l = lb.baseAddress!, v = lb.count
            var p = [Float](repeating: 0, count: v)
            if config.isGreedy {
                p[Int(choose(l, vocab: v, config: config, uniform: 0).token)] = 1
                return p
            }
            let t = config.temperature
            let kept = keptTokens(l, vocab: v, config: config) ?? Array(0..<v)
            var mz = -Float.infinity
            for j in kept { mz = max(mz, l[j] / t) }
            var s: Float = 0
            for j in kept { s += DetMath.exp(l[j] / t - mz) }
            for j in kept { p[j] = DetMath.exp(l[j] / t - mz) / s }
            return p
        }
    }
}
