import SimplyCore

/// The GRPO family's math (Shao et al. 2024; TRL `grpo_trainer.py`, Tunix
/// `grpo_learner.py`) as pure functions of log-probabilities,
/// in Double, so each piece is testable against PyTorch on its own:
/// group-normalized advantages, the clipped surrogate with k3 KL, the token- or
/// sequence-level (GSPO) importance ratio, and the three loss aggregations.
public enum GRPOLoss {
    /// How advantages are scaled (TRL `scale_rewards`).
    public enum RewardScaling: String, CaseIterable, Sendable {
        case group      // (r − mean_group) / (std_group + 1e-4)
        case batch      // (r − mean_group) / (std_batch + 1e-4)
        case none       // r − mean_group (Dr. GRPO)
    }

    /// How per-token losses become the batch loss (TRL `loss_type`).
    public enum Aggregation: String, CaseIterable, Sendable {
        case grpo       // mean over sequences of each sequence's token mean
        case drGRPO = "dr_grpo"   // Σ tokens / (B · max_completion_length)
        case dapo       // Σ tokens / tokens in the batch
    }

    /// Where the importance ratio lives (TRL `importance_sampling_level`).
    public enum Level: String, CaseIterable, Sendable {
        case token      // ρ_t = exp(log π_t − log π_old,t)
        case sequence   // GSPO: ρ = exp(mean_t (log π_t − log π_old,t)), one per sequence
    }

    public struct Settings: Sendable, Equatable {
        public var epsilonLow: Double = 0.2
        public var epsilonHigh: Double = 0.2
        public var beta: Double = 0.04
        public var aggregation: Aggregation = .grpo
        public var level: Level = .token
        public init(epsilonLow: Double = 0.2, epsilonHigh: Double = 0.2, beta: Double = 0.04,
                    aggregation: Aggregation = .grpo, level: Level = .token) {
            self.epsilonLow = epsilonLow; self.epsilonHigh = epsilonHigh; self.beta = beta
            self.aggregation = aggregation; self.level = level
        }
    }

    /// TRL's `1e-4` in the advantage denominator.
    public static let stdEpsilon = 1e-4

    /// Advantages of `rewards`, laid out as consecutive groups of `groupSize`
    /// completions of one prompt, and which groups have (near) zero reward
    /// spread (torch.isclose(std, 0): |std| ≤ 1e-8). Standard deviations are
    /// unbiased (ddof 1), as torch.std computes them.
    public static func advantages(_ rewards: [Double], groupSize: Int,
                                  scaling: RewardScaling) -> (advantages: [Double], zeroStd: [Bool]) {
        precondition(groupSize >= 2 && rewards.count % groupSize == 0, "rewards must be whole groups of ≥ 2")
        let groups = rewards.count / groupSize
        let batchStd = unbiasedStd(rewards[...])
        var adv = [Double](repeating: 0, count: rewards.count)
        var zero = [Bool](repeating: false, count: groups)
        for g in 0..<groups {
            let r = rewards[(g * groupSize)..<((g + 1) * groupSize)]
            let mean = r.reduce(0, +) / Double(groupSize)
            let std = scaling == .batch ? batchStd : unbiasedStd(r)
            zero[g] = abs(std) <= 1e-8
            for i in r.indices {
                adv[i] = scaling == .none ? r[i] - mean : (r[i] - mean) / (std + stdEpsilon)
            }
        }
        return (adv, zero)
    }

    /// Sample standard deviation (n − 1 in the denominator), summed in index order.
    static func unbiasedStd(_ x: ArraySlice<Double>) -> Double {
        guard x.count > 1 else { return 0 }
        let mean = x.reduce(0, +) / Double(x.count)
        let ss = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (ss / Double(x.count - 1)).squareRoot()
    }

    /// The weight w_i of sequence i's per-token losses in the batch loss
    /// L = Σ_i w_i Σ_t ℓ_i,t, given the batch's shape.
    public static func weight(_ aggregation: Aggregation, tokens: Int, sequences: Int, batchTokens: Int,
                              maxCompletionLength: Int) -> Double {
        switch aggregation {
        case .grpo: return 1 / (Double(sequences) * Double(max(tokens, 1)))
        case .drGRPO: return 1 / (Double(sequences) * Double(maxCompletionLength))
        case .dapo: return 1 / Double(max(batchTokens, 1))
        }
    }

    /// One completion's completion tokens: the policy's, the rollout (old)
    /// policy's and the reference's log-probabilities, and its advantage.
    public struct Completion: Sendable {
        public var logps: [Double]
        public var oldLogps: [Double]
        public var refLogps: [Double]
        public var advantage: Double
        public init(logps: [Double], oldLogps: [Double], refLogps: [Double], advantage: Double) {
            precondition(logps.count == oldLogps.count && logps.count == refLogps.count)
            self.logps = logps; self.oldLogps = oldLogps; self.refLogps = refLogps; self.advantage = advantage
        }
    }

    /// A completion's share of the batch loss and its derivatives.
    public struct SequenceValue: Sendable {
        /// w · Σ_t ℓ_t.
        public var loss: Double
        /// ∂loss/∂log π_t per token.
        public var dLogps: [Double]
        /// Σ_t k3 KL_t (unweighted; for the `kl` metric).
        public var klSum: Double
        /// Tokens whose ratio is clipped below (ρ < 1 − ε, A < 0) / above (ρ > 1 + ε_high, A > 0).
        public var lowClipped: Int
        public var highClipped: Int
    }

    /// ℓ_t = −min(ρA, clip(ρ, 1 − ε, 1 + ε_high)A) + β·KL_t, with
    /// KL_t = exp(ref_t − log π_t) − (ref_t − log π_t) − 1 (k3, Schulman).
    /// The min passes the gradient of ρA where the ratio is not clipped
    /// against the advantage's sign, and none where it is (torch.min picks
    /// the clipped constant).
    public static func sequence(_ c: Completion, settings s: Settings, weight w: Double) -> SequenceValue {
        let n = c.logps.count
        var loss = 0.0, kl = 0.0, low = 0, high = 0
        var d = [Double](repeating: 0, count: n)
        let a = c.advantage
        // The ratio per token (token level) or one shared ratio (sequence level).
        var seqRatio = 0.0
        if s.level == .sequence && n > 0 {
            var lr = 0.0
            for t in 0..<n { lr += c.logps[t] - c.oldLogps[t] }
            seqRatio = DetMath.exp(lr / Double(n))
        }
        for t in 0..<n {
            let rho = s.level == .token ? DetMath.exp(c.logps[t] - c.oldLogps[t]) : seqRatio
            let clipped = min(max(rho, 1 - s.epsilonLow), 1 + s.epsilonHigh)
            let unclippedTerm = rho * a, clippedTerm = clipped * a
            // −min(ρA, clip(ρ)A): the gradient flows through ρA unless the clipped constant is smaller.
            let surrogate = min(unclippedTerm, clippedTerm)
            let passes = unclippedTerm <= clippedTerm
            if rho < 1 - s.epsilonLow && a < 0 { low += 1 }
            if rho > 1 + s.epsilonHigh && a > 0 { high += 1 }
            let diff = c.refLogps[t] - c.logps[t]
            let e = DetMath.exp(diff)
            let k3 = e - diff - 1
            kl += k3
            loss += w * (-surrogate + s.beta * k3)
            // ∂k3/∂log π = −e^{ref − log π} + 1.
            d[t] += w * s.beta * (1 - e)
            if passes {
                switch s.level {
                case .token: d[t] += -w * a * rho
                case .sequence:
                    // ρ = exp(mean (log π − old)): ∂ρ/∂log π_u = ρ / n for every u.
                    for u in 0..<n { d[u] += -w * a * rho / Double(n) }
                }
            }
        }
        return SequenceValue(loss: loss, dLogps: d, klSum: kl, lowClipped: low, highClipped: high)
    }
}
