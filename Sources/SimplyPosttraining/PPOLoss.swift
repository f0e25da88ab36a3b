import SimplyCore

/// PPO's math (Schulman et al. 2017; Ouyang et al. 2022; TRL `ppo_trainer.py`)
/// as pure functions in Double, each testable against PyTorch
/// on its own: per-token KL reward shaping, GAE, masked whitening, and the
/// clipped policy and value losses with their derivatives.
///
/// A rollout is a batch of completions; completion i has n_i tokens. Per
/// token t of a completion, log π_old,t is the rollout policy's
/// log-probability of the token, log π_ref,t the frozen reference's, and V_t
/// the value head's estimate of the return from the state before token t.
public enum PPOLoss {
    /// Per-token KL estimator (Schulman, "Approximating KL divergence"), with
    /// log r = log π_ref − log π_old: k1 = −log r, k3 = (r − 1) − log r.
    public enum KLEstimator: String, CaseIterable, Sendable {
        case k1, k3
    }

    public struct Settings: Sendable, Equatable {
        public var klCoef = 0.05
        public var klEstimator = KLEstimator.k1
        public var cliprange = 0.2
        public var cliprangeValue = 0.2
        public var vfCoef = 0.1
        public var gamma = 1.0
        public var lam = 0.95
        public var whitenRewards = false
        public init(klCoef: Double = 0.05, klEstimator: KLEstimator = .k1, cliprange: Double = 0.2,
                    cliprangeValue: Double = 0.2, vfCoef: Double = 0.1, gamma: Double = 1, lam: Double = 0.95,
                    whitenRewards: Bool = false) {
            self.klCoef = klCoef; self.klEstimator = klEstimator; self.cliprange = cliprange
            self.cliprangeValue = cliprangeValue; self.vfCoef = vfCoef; self.gamma = gamma; self.lam = lam
            self.whitenRewards = whitenRewards
        }
    }

    /// One sampled completion as the rollout saw it.
    public struct Sample: Sendable {
        public var logps: [Double]
        public var refLogps: [Double]
        public var values: [Double]
        /// The reward function's score of the whole completion.
        public var score: Double
        public init(logps: [Double], refLogps: [Double], values: [Double], score: Double) {
            precondition(logps.count == refLogps.count && logps.count == values.count, "per-token arrays differ in length")
            self.logps = logps; self.refLogps = refLogps; self.values = values; self.score = score
        }
    }

    /// What training on a rollout needs, per completion and token.
    public struct Rollout: Sendable {
        public var kl: [[Double]]
        /// −kl_coef · KL_t, plus the score at the last token (whitened when asked).
        public var rewards: [[Double]]
        /// GAE advantages, whitened over all tokens of the rollout.
        public var advantages: [[Double]]
        /// Unwhitened advantages + values: the value head's targets.
        public var returns: [[Double]]
    }

    /// TRL's `masked_whiten`: (x − mean) / sqrt(var + 1e-8) over every token
    /// of the batch, var unbiased (n − 1); without `shiftMean` the mean is added back.
    public static func whiten(_ x: [[Double]], shiftMean: Bool = true) -> [[Double]] {
        var n = 0, sum = 0.0
        for row in x { for v in row { sum += v; n += 1 } }
        guard n > 1 else { return x }
        let mean = sum / Double(n)
        var ss = 0.0
        for row in x { for v in row { ss += (v - mean) * (v - mean) } }
        let variance = ss / Double(n) * (Double(n) / Double(n - 1))
        let inv = 1 / (variance + 1e-8).squareRoot()
        return x.map { row in row.map { shiftMean ? ($0 - mean) * inv : ($0 - mean) * inv + mean } }
    }

    /// Per-token KL_t of log π_old against log π_ref.
    public static func kl(logps: [Double], refLogps: [Double], estimator: KLEstimator) -> [Double] {
        zip(logps, refLogps).map { lp, ref in
            let logr = ref - lp
            switch estimator {
            case .k1: return -logr
            case .k3: return (DetMath.exp(logr) - 1) - logr
            }
        }
    }

    /// GAE with terminal value 0 after the last token:
    /// δ_t = r_t + γV_{t+1} − V_t, A_t = δ_t + γλA_{t+1}; returns A + V.
    public static func gae(rewards: [Double], values: [Double], gamma: Double,
                           lam: Double) -> (advantages: [Double], returns: [Double]) {
        let n = rewards.count
        var adv = [Double](repeating: 0, count: n)
        var last = 0.0
        for t in stride(from: n - 1, through: 0, by: -1) {
            let next = t + 1 < n ? values[t + 1] : 0
            let delta = rewards[t] + gamma * next - values[t]
            last = delta + gamma * lam * last
            adv[t] = last
        }
        return (adv, zip(adv, values).map { $0 + $1 })
    }

    /// Rewards, advantages and returns of a rollout (TRL's steps 4–6).
    public static func rollout(_ samples: [Sample], settings s: Settings) -> Rollout {
        let kl = samples.map { Self.kl(logps: $0.logps, refLogps: $0.refLogps, estimator: s.klEstimator) }
        var rewards = kl.map { $0.map { -s.klCoef * $0 } }
        for (i, x) in samples.enumerated() where !rewards[i].isEmpty {
            rewards[i][rewards[i].count - 1] += x.score
        }
        if s.whitenRewards { rewards = whiten(rewards, shiftMean: false) }
        var adv: [[Double]] = [], ret: [[Double]] = []
        for (i, x) in samples.enumerated() {
            let g = gae(rewards: rewards[i], values: x.values, gamma: s.gamma, lam: s.lam)
            adv.append(g.advantages); ret.append(g.returns)
        }
        return Rollout(kl: kl, rewards: rewards, advantages: whiten(adv), returns: ret)
    }

    /// One token's part of a minibatch loss and its derivatives.
    public struct TokenValue: Sendable, Equatable {
        /// w · max(−Aρ, −A·clip(ρ, 1 ± ε)).
        public var policyLoss: Double
        /// w · 0.5 · max((V − R)², (clip(V, V_old ± ε_v) − R)²), before vf_coef.
        public var valueLoss: Double
        /// ∂(policyLoss + vf_coef · valueLoss)/∂log π and ∂/∂V.
        public var dLogp: Double
        public var dValue: Double
        /// The clipped terms are the larger (TRL's clipfrac counts).
        public var policyClipped: Bool
        public var valueClipped: Bool
    }

    /// PPO's per-token loss with weight w (TRL: w = 1 / tokens in the
    /// minibatch, a masked mean). Derivatives follow torch: max passes the
    /// gradient to the larger term, half to each on a tie; clamp passes it
    /// inside its bounds, bounds included.
    public static func token(logp: Double, oldLogp: Double, advantage a: Double, value: Double, oldValue: Double,
                             ret: Double, settings s: Settings, weight w: Double) -> TokenValue {
        let rho = DetMath.exp(logp - oldLogp)
        let lo = 1 - s.cliprange, hi = 1 + s.cliprange
        let clipped = min(max(rho, lo), hi)
        let pg1 = -a * rho, pg2 = -a * clipped
        // ∂pg1/∂ρ = −A; ∂pg2/∂ρ = −A inside [lo, hi]; ∂ρ/∂log π = ρ.
        let d1 = -a, d2 = rho >= lo && rho <= hi ? -a : 0
        let dRho = pg1 > pg2 ? d1 : pg2 > pg1 ? d2 : 0.5 * (d1 + d2)

        let vlo = oldValue - s.cliprangeValue, vhi = oldValue + s.cliprangeValue
        let vc = min(max(value, vlo), vhi)
        let vf1 = (value - ret) * (value - ret), vf2 = (vc - ret) * (vc - ret)
        let e1 = 2 * (value - ret), e2 = value >= vlo && value <= vhi ? 2 * (vc - ret) : 0
        let dV = vf1 > vf2 ? e1 : vf2 > vf1 ? e2 : 0.5 * (e1 + e2)

        return TokenValue(policyLoss: w * max(pg1, pg2), valueLoss: w * 0.5 * max(vf1, vf2),
                          dLogp: w * dRho * rho, dValue: s.vfCoef * w * 0.5 * dV,
                          policyClipped: pg2 > pg1, valueClipped: vf2 > vf1)
    }
}
