import SimplyCore
import SimplyModel
import SimplyRun
import SimplyTrain

/// Odds ratio preference optimization (Hong et al. 2024; TRL `orpo_trainer.py`):
/// supervised fine-tuning on the chosen completions plus a penalty on the
/// rejected ones, in one stage and without a reference model.
///
///     a        = the mean log-prob of a completion's tokens
///     log odds = (a_c − a_r) − (log(1 − e^a_c) − log(1 − e^a_r))
///     loss     = NLL(chosen) − mean over pairs of λ · log σ(log odds)
///
/// NLL(chosen) is the cross-entropy averaged over the chosen tokens of the
/// global batch (TRL's `policy_nll_loss`); λ is `orpo.beta` (TRL's name).
/// The batch is DPO's (PreferencePairs): two rows per pair, one forward and
/// one backward of the policy. An average log-prob of exactly 0 (a completion
/// the model is certain of, in float32) would make log(1 − e^a) −∞: `a` is
/// capped at −1e-9 there, where TRL would return inf or nan.
///
/// Metrics (TRL names): nll_loss, log_odds_ratio (mean log σ(log odds)),
/// log_odds_chosen (mean log odds), rewards/chosen = λ · a_c,
/// rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen and
/// logps/rejected (mean log-prob per token), means over pairs.
public final class ORPOObjective: PairObjective {
    let config: ExperimentConfig
    let settings: ORPOConfig
    let batch: PreferencePairs

    public init(_ context: ObjectiveContext) throws {
        config = context.config
        settings = try config.settings(ORPOConfig.self)
        batch = try PreferencePairs(config)
    }

    /// Two shards may run at once: a shard's rows are its own arrays.
    public func prepareConcurrentShards() -> Bool { true }

    /// One pair's odds-ratio term −λ log σ(z) and its derivatives by the two mean log-probs.
    public static func oddsRatio(beta: Double, chosen ac: Double, rejected ar: Double)
        -> (loss: Double, logOdds: Double, logSigmoid: Double, dChosen: Double, dRejected: Double) {
        let ac = min(ac, -1e-9), ar = min(ar, -1e-9)
        let ec = DetMath.exp(ac), er = DetMath.exp(ar)
        let z = (ac - ar) - (DetMath.log(1 - ec) - DetMath.log(1 - er))
        let ls = ScalarMath.logSigmoid(z)
        // d(−λ log σ(z))/dz = −λ σ(−z);  dz/da_c = 1 / (1 − e^a_c);  dz/da_r = −1 / (1 − e^a_r)
        let dz = -beta * ScalarMath.sigmoid(-z)
        return (-beta * ls, z, ls, dz / (1 - ec), -dz / (1 - er))
    }

    public func shardGradient(_ shard: Int, model: Transformer, parallel: Parallel) -> ShardResult {
        let pol = batch.logProbs(shard, model: model, parallel: parallel)
        let beta = settings.beta, b = Double(batch.pairs), nc = Double(max(batch.chosenTokens, 1))
        var dCE = [Float](repeating: 0, count: rowsPerShard)
        var orLoss = 0.0, nll = 0.0, ratio = 0.0, odds = 0.0, rc = 0.0, rr = 0.0, acc = 0.0
        for p in 0..<(rowsPerShard / 2) {
            let c = 2 * p, r = 2 * p + 1
            let nC = Double(max(pol[c].tokens, 1)), nR = Double(max(pol[r].tokens, 1))
            let ac = pol[c].logp / nC, ar = pol[r].logp / nR
            let v = Self.oddsRatio(beta: beta, chosen: ac, rejected: ar)
            orLoss += v.loss / b
            // a = −Σ CE / n, so ∂ℓ/∂CE_i = −(∂ℓ/∂a) / n on the row's masked positions; the NLL adds 1/N_c on the chosen ones.
            dCE[c] = Float(-v.dChosen / nC / b + 1 / nc)
            dCE[r] = Float(-v.dRejected / nR / b)
            nll += -pol[c].logp / nc
            ratio += v.logSigmoid / b; odds += v.logOdds / b
            rc += beta * ac / b; rr += beta * ar / b
            acc += (ac > ar ? 1 : 0) / b
        }
        batch.backward(model, dCE: dCE, parallel: parallel)
        return ShardResult(loss: Float(nll + orLoss), metrics: [
            Metric("nll_loss", nll), Metric("log_odds_ratio", ratio), Metric("log_odds_chosen", odds),
            Metric("rewards/chosen", rc), Metric("rewards/rejected", rr), Metric("rewards/accuracies", acc),
            Metric("rewards/margins", rc - rr), Metric("logps/chosen", rc / beta), Metric("logps/rejected", rr / beta),
        ])
    }
}

/// ORPO's settings (TRL `ORPOConfig`): λ, the weight of the odds-ratio term.
public struct ORPOConfig: ConfigSettings, Equatable {
    public var beta = 0.1
    public init() {}
    public static let section = "orpo"
    public static let keys: [ConfigKey<ORPOConfig>] = [
        .double("orpo.beta", \.beta, range: 1e-6...1e6, "λ: weight of the odds-ratio term against the chosen NLL"),
    ]
}

extension ExperimentConfig {
    /// The orpo section (its defaults where the config has none).
    public var orpo: ORPOConfig {
        get { (try? settings(ORPOConfig.self)) ?? ORPOConfig() }
        set { setSettings(newValue) }
    }
}

extension Algorithm {
    public static let orpo = Algorithm(name: "orpo", summary: "SFT on the chosen completions plus an odds-ratio penalty on the rejected ones (ORPO), no reference",
                                       section: ConfigSection(ORPOConfig.self), needs: [.preferencePairs]) { try ORPOObjective($0) }
}
