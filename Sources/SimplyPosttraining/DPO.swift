import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun
import SimplyTrain

/// The DPO losses (Rafailov et al. 2023; TRL `dpo_trainer.py`) as functions
/// of one pair's sequence log-probabilities, with their derivatives. Pure and
/// in Double, so they are testable against PyTorch on their own.
public enum DPOLoss {
    public enum Kind: String, CaseIterable, Sendable { case sigmoid, ipo, hinge }

    public struct Value: Sendable, Equatable {
        public let loss: Double
        /// ∂loss/∂log π(chosen) and ∂loss/∂log π(rejected) (summed log-probs).
        public let dChosen: Double
        public let dRejected: Double
    }

    /// Δ = (log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r)), log-probs
    /// summed over completion tokens; for ipo, averaged per token (lengths).
    /// - sigmoid: −(1−ε) log σ(βΔ) − ε log σ(−βΔ)
    /// - hinge:   relu(1 − βΔ)
    /// - ipo:     (Δ − 1/(2β))²
    public static func value(_ kind: Kind, beta: Double, labelSmoothing: Double = 0,
                             policyChosen: Double, policyRejected: Double,
                             referenceChosen: Double, referenceRejected: Double,
                             chosenLength: Int = 1, rejectedLength: Int = 1) -> Value {
        var lc = 1.0, lr = 1.0
        if kind == .ipo { lc = Double(max(chosenLength, 1)); lr = Double(max(rejectedLength, 1)) }
        let delta = (policyChosen - referenceChosen) / lc - (policyRejected - referenceRejected) / lr
        let loss: Double, dDelta: Double
        switch kind {
        case .sigmoid:
            let e = labelSmoothing, z = beta * delta
            loss = -(1 - e) * ScalarMath.logSigmoid(z) - e * ScalarMath.logSigmoid(-z)
            // d/dz −log σ(z) = −σ(−z);  d/dz −log σ(−z) = σ(z)
            dDelta = beta * (-(1 - e) * ScalarMath.sigmoid(-z) + e * ScalarMath.sigmoid(z))
        case .hinge:
            let m = 1 - beta * delta
            loss = max(m, 0)
            dDelta = m > 0 ? -beta : 0
        case .ipo:
            let d = delta - 1 / (2 * beta)
            loss = d * d
            dDelta = 2 * d
        }
        return Value(loss: loss, dChosen: dDelta / lc, dRejected: -dDelta / lr)
    }
}

/// Direct preference optimization against a frozen reference: the policy's
/// starting weights (`--load_checkpoint`, or the seeded initialization when
/// there is none). Each pair is two rows, prompt+chosen and prompt+rejected;
/// their completion log-probs come from one forward of each model, the
/// per-pair loss derivatives scale the policy's loss gradient per row, and one
/// backward gives the gradient of the batch's mean DPO loss.
///
/// Metrics (TRL names): rewards/chosen = β(log π(c) − log π_ref(c)),
/// rewards/rejected, rewards/accuracies (chosen > rejected), rewards/margins,
/// logps/chosen, logps/rejected (summed completion log-probs), means over pairs.
public final class DPOObjective: PairObjective {
    let config: ExperimentConfig
    let dpo: DPOConfig
    let batch: PreferencePairs
    let kind: DPOLoss.Kind
    /// The frozen reference (the starting weights; with LoRA the policy with its adapters off).
    let frozen: FrozenReference
    /// The reference's own model (nil with LoRA).
    public var reference: Transformer? { frozen.model }

    public init(_ context: ObjectiveContext) throws {
        config = context.config
        dpo = try config.settings(DPOConfig.self)
        batch = try PreferencePairs(config)
        guard let k = DPOLoss.Kind(rawValue: dpo.lossType) else {
            throw ConfigError("dpo.loss_type: \(dpo.lossType) is not sigmoid, ipo or hinge")
        }
        kind = k
        frozen = try FrozenReference(context, maxBatch: batch.rowsPerShard)
    }

    /// Two shards may run at once: a shard's rows are its own arrays, and
    /// lane 1 gets a reference model of its own on the same parameters.
    public func prepareConcurrentShards() -> Bool {
        frozen.prepareConcurrentShards()
        return true
    }

    public func shardGradient(_ shard: Int, model: Transformer, parallel: Parallel) -> ShardResult {
        let ref = frozen.run(for: model) { batch.logProbs(shard, model: $0, parallel: parallel) }
        let pol = batch.logProbs(shard, model: model, parallel: parallel)

        let beta = dpo.beta, b = Double(batch.pairs)
        let rpo = dpo.rpoAlpha, nc = Double(max(batch.chosenTokens, 1))
        var dCE = [Float](repeating: 0, count: rowsPerShard)
        var loss = 0.0, rc = 0.0, rr = 0.0, acc = 0.0, lpc = 0.0, lpr = 0.0, nll = 0.0
        for p in 0..<(rowsPerShard / 2) {
            let c = 2 * p, r = 2 * p + 1
            let v = DPOLoss.value(kind, beta: beta, labelSmoothing: dpo.labelSmoothing,
                                  policyChosen: pol[c].logp, policyRejected: pol[r].logp,
                                  referenceChosen: ref[c].logp, referenceRejected: ref[r].logp,
                                  chosenLength: pol[c].tokens, rejectedLength: pol[r].tokens)
            loss += v.loss / b
            // log π(row) = −Σ CE, so ∂L/∂CE_i = −∂L/∂log π(row) at every masked position;
            // RPO adds α·Σ CE(chosen) / (chosen tokens of the batch).
            dCE[c] = Float(-v.dChosen / b + rpo / nc)
            dCE[r] = Float(-v.dRejected / b)
            nll += -pol[c].logp / nc
            let chosenReward = beta * (pol[c].logp - ref[c].logp), rejectedReward = beta * (pol[r].logp - ref[r].logp)
            rc += chosenReward / b; rr += rejectedReward / b
            acc += (chosenReward > rejectedReward ? 1 : 0) / b
            lpc += pol[c].logp / b; lpr += pol[r].logp / b
        }
        batch.backward(model, dCE: dCE, parallel: parallel)
        return ShardResult(loss: Float(loss + rpo * nll), metrics: [
            Metric("nll_loss", nll),
            Metric("rewards/chosen", rc), Metric("rewards/rejected", rr), Metric("rewards/accuracies", acc),
            Metric("rewards/margins", rc - rr), Metric("logps/chosen", lpc), Metric("logps/rejected", lpr),
        ])
    }
}


/// DPO's settings (TRL `DPOConfig` names and defaults): β, loss sigmoid | ipo
/// | hinge, label smoothing ε (sigmoid only), and RPO's α (Pang et al. 2024;
/// TRL `rpo_alpha`), which adds α · the mean NLL of the chosen completions'
/// tokens and keeps their log-probabilities up (0: off).
public struct DPOConfig: ConfigSettings, Equatable {
    public var beta: Double = 0.1
    public var lossType: String = "sigmoid"
    public var labelSmoothing: Double = 0.0
    public var rpoAlpha: Double = 0.0
    public init() {}
    public static let section = "dpo"
    public static let keys: [ConfigKey<DPOConfig>] = [
        .double("dpo.beta", \.beta, range: 1e-6...1e6, "β: strength of the implicit KL to the reference"),
        .choice("dpo.loss_type", \.lossType, ["sigmoid", "ipo", "hinge"], "sigmoid (DPO), ipo or hinge"),
        .double("dpo.label_smoothing", \.labelSmoothing, range: 0...0.5, "conservative DPO: assumed fraction of flipped preference labels"),
        .double("dpo.rpo_alpha", \.rpoAlpha, range: 0...1e3, "weight of the NLL of the chosen answers added to the loss (RPO; 0: off)"),
    ]
}

extension ExperimentConfig {
    /// The dpo section (its defaults where the config has none).
    public var dpo: DPOConfig {
        get { (try? settings(DPOConfig.self)) ?? DPOConfig() }
        set { setSettings(newValue) }
    }
}

extension Algorithm {
    public static let dpo = Algorithm(name: "dpo", summary: "the policy from preference pairs, against a frozen reference (DPO, IPO, hinge, RPO)",
                                     section: ConfigSection(DPOConfig.self), needs: [.reference, .preferencePairs],
                                     alwaysRecorded: true) { try DPOObjective($0) }
}
