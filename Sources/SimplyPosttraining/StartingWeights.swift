import SimplyModel
import SimplyRun
import SimplyTrain

/// The run's starting weights as a frozen model, `maxBatch` rows per forward:
/// the seeded initialization, overwritten by the `--load_checkpoint`
/// checkpoint when there is one (parameters it lacks must be in `fresh`).
/// DPO's reference and the KL reference of GRPO and PPO.
func startingWeights(_ context: ObjectiveContext, maxBatch: Int, fresh: Set<String> = []) throws -> Transformer {
    let model = Transformer(config: context.config.model, maxBatch: maxBatch)
    model.initialize(seed: context.config.train.seed)
    if let c = context.initCheckpoint { try Checkpoints.loadWeights(c, into: model, fresh: fresh) }
    return model
}

/// The frozen reference of DPO, GRPO and PPO: the starting weights. Without
/// LoRA it is a model of its own (and a second one on the same parameters
/// for the Trainer's lane 1); with LoRA it is the policy itself with its
/// adapters switched off — the policy's base is the starting weights,
/// frozen — so no second copy of the weights exists.
final class FrozenReference: @unchecked Sendable {
    /// The reference's own model, nil with LoRA.
    let model: Transformer?
    private var sibling: Transformer?

    init(_ context: ObjectiveContext, maxBatch: Int, fresh: Set<String> = []) throws {
        model = try context.config.loraSettings().rank > 0 ? nil : try startingWeights(context, maxBatch: maxBatch, fresh: fresh)
    }

    /// Lane 1 gets a reference model of its own on the same parameters (with
    /// LoRA, lane 1's policy has its own adapters' switch already).
    func prepareConcurrentShards() {
        sibling = model.map { Transformer(sharingParametersOf: $0) }
    }

    /// `body` run on the reference that goes with `policy` (its lane's model,
    /// or the policy with its adapters off until `body` returns).
    func run<T>(for policy: Transformer, _ body: (Transformer) -> T) -> T {
        if let model { return body(policy.lane == 1 ? sibling ?? model : model) }
        guard let adapters = policy.adapters else { preconditionFailure("a LoRA reference needs the policy's adapters") }
        adapters.enabled = false
        defer { adapters.enabled = true }
        return body(policy)
    }
}
