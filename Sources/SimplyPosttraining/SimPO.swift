import SimplyCore
import SimplyModel
import SimplyRun
import SimplyTrain

/// Simple preference optimization (Meng et al. 2024; TRL `cpo_trainer.py`
/// with `loss_type="simpo"`): DPO's sigmoid loss on length-normalized
/// rewards with a target margin, and no reference model.
///
///     r    = β · (the mean log-prob of a completion's tokens)
///     z    = r_c − r_r − γ
///     loss = mean over pairs of −(1 − ε) log σ(z) − ε log σ(−z)  +  α · NLL(chosen)
///
/// β, γ (TRL `simpo_gamma`), the label smoothing ε and α (TRL `cpo_alpha`;
/// NLL(chosen) is the cross-entropy averaged over the chosen tokens of the
/// global batch). Defaults are the paper's: β = 2, γ = 1 (γ/β = 0.5), and
/// pure SimPO without the NLL term; TRL's CPOConfig defaults (β 0.1,
/// simpo_gamma 0.5, cpo_alpha 1) are CPO's. The batch is DPO's
/// (PreferencePairs): two rows per pair, one forward and one backward.
///
/// Metrics (TRL names): nll_loss, rewards/chosen = β · a_c, rewards/rejected,
/// rewards/accuracies, rewards/margins, logps/chosen and logps/rejected (mean
/// log-prob per token), means over pairs.
public final class SimPOObjective: PairObjective {
    let config: ExperimentConfig
    let settings: SimPOConfig
    let batch: PreferencePairs

    public init(_ context: ObjectiveContext) throws {
        config = context.config
        settings = try config.settings(SimPOConfig.self)
        batch = try PreferencePairs(config)
    }

    /// Two shards may run at once: a shard's rows are its own arrays.
    public func prepareConcurrentShards() -> Bool { true }

    /// One pair's loss and its derivatives by the two mean log-probs.
    public static func pairLoss(beta: Double, gamma: Double, labelSmoothing e: Double, chosen ac: Double, rejected ar: Double)
        -> (loss: Double, dChosen: Double, dRejected: Double) {
        let z = beta * (ac - ar) - gamma
        let loss = -(1 - e) * ScalarMath.logSigmoid(z) - e * ScalarMath.logSigmoid(-z)
        // d/dz −log σ(z) = −σ(−z);  d/dz −log σ(−z) = σ(z);  dz/da_c = β = −dz/da_r
        let dz = -(1 - e) * ScalarMath.sigmoid(-z) + e * ScalarMath.sigmoid(z)
        return (loss, beta * dz, -beta * dz)
    }

    public func shardGradient(_ shard: Int, model: Transformer, parallel: Parallel) -> ShardResult {
        let pol = batch.logProbs(shard, model: model, parallel: parallel)
        let s = settings, b = Double(batch.pairs), nc = Double(max(batch.chosenTokens, 1))
        var dCE = [Float](repeating: 0, count: rowsPerShard)
        var loss = 0.0, nll = 0.0, rc = 0.0, rr = 0.0, acc = 0.0
        for p in 0..<(rowsPerShard / 2) {
            let c = 2 * p, r = 2 * p + 1
            let nC = Double(max(pol[c].tokens, 1)), nR = Double(max(pol[r].tokens, 1))
            let ac = pol[c].logp / nC, ar = pol[r].logp / nR
            let v = Self.pairLoss(beta: s.beta, gamma: s.gamma, labelSmoothing: s.labelSmoothing, chosen: ac, rejected: ar)
            loss += v.loss / b
            // a = −Σ CE / n, so ∂ℓ/∂CE_i = −(∂ℓ/∂a) / n on the row's masked positions; the NLL adds α/N_c on the chosen ones.
            dCE[c] = Float(-v.dChosen / nC / b + s.cpoAlpha / nc)
            dCE[r] = Float(-v.dRejected / nR / b)
            nll += -pol[c].logp / nc
            rc += s.beta * ac / b; rr += s.beta * ar / b
            acc += (ac > ar ? 1 : 0) / b
        }
        batch.backward(model, dCE: dCE, parallel: parallel)
        return ShardResult(loss: Float(loss + s.cpoAlpha * nll), metrics: [
            Metric("nll_loss", nll),
            Metric("rewards/chosen", rc), Metric("rewards/rejected", rr), Metric("rewards/accuracies", acc),
            Metric("rewards/margins", rc - rr), Metric("logps/chosen", rc / s.beta), Metric("logps/rejected", rr / s.beta),
        ])
    }
}

/// SimPO's settings (TRL `CPOConfig` names, the SimPO paper's defaults).
public struct SimPOConfig: ConfigSettings, Equatable {
    public var beta = 2.0
    public var gamma = 1.0
    public var labelSmoothing = 0.0
    public var cpoAlpha = 0.0
    public init() {}
    public static let section = "simpo"
    public static let keys: [ConfigKey<SimPOConfig>] = [
        .double("simpo.beta", \.beta, range: 1e-6...1e6, "β: scale of the length-normalized reward"),
        .double("simpo.gamma", \.gamma, range: 0...1e6, "γ: target reward margin (TRL simpo_gamma)"),
        .double("simpo.label_smoothing", \.labelSmoothing, range: 0...0.5, "assumed fraction of flipped preference labels"),
        .double("simpo.cpo_alpha", \.cpoAlpha, range: 0...1e3, "weight of the NLL of the chosen answers (CPO's term; 0: pure SimPO)"),
    ]
}

extension ExperimentConfig {
    /// The simpo section (its defaults where the config has none).
    public var simpo: SimPOConfig {
        get { (try? settings(SimPOConfig.self)) ?? SimPOConfig() }
        set { setSettings(newValue) }
    }
}

extension Algorithm {
    public static let simpo = Algorithm(name: "simpo", summary: "the policy from preference pairs by length-normalized rewards with a margin (SimPO), no reference",
                                        section: ConfigSection(SimPOConfig.self), needs: [.preferencePairs]) { try SimPOObjective($0) }
}
