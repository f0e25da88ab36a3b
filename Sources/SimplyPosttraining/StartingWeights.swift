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
    if let c = context.initCheckpoint { try Checkpoints.loadParameters(c, into: model, fresh: fresh) }
    return model
}
