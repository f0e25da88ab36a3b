import SimplyCore

/// Which dataset of a weighted mixture feeds (step, slot): a pure function of
/// (seed, step, slot) through the Philox stream "data.mixture", so weights can
/// change without re-tokenizing and a resume lands on the same examples.
/// Within the chosen dataset the example comes from that dataset's own hashed
/// cursor at the same (step, slot), so no count of earlier choices is needed.
public struct MixtureSampler: Sendable {
    public let weights: [Double]
    let cumulative: [Double]
    let stream: RandomStream

    public init(weights: [Double], seed: UInt64) {
        precondition(!weights.isEmpty && weights.allSatisfy { $0 >= 0 && $0.isFinite } && weights.reduce(0, +) > 0)
        self.weights = weights
        let total = weights.reduce(0, +)
        var acc = 0.0
        cumulative = weights.map { acc += $0 / total; return acc }
        stream = RandomStream(seed: seed, name: "data.mixture")
    }

    /// The dataset index for (step, slot).
    public func choose(step: Int, slot: Int) -> Int {
        if weights.count == 1 { return 0 }
        // 53 random bits → u in [0, 1).
        let u = Double(stream.uint64(UInt64(step), UInt64(slot)) >> 11) * (1.0 / 9_007_199_254_740_992.0)
        for (i, c) in cumulative.enumerated() where u < c && weights[i] > 0 { return i }
        // Rounding can leave the last cumulative value a hair below 1.
        return weights.lastIndex(where: { $0 > 0 })!
    }
}
