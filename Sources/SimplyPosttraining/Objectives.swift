import SimplyModel
import SimplyTrain

/// The objective for each `train.training_mode`: what `simply train` and
/// `simply verify` pass to the shared loop.
public func posttrainingObjectiveFactory(_ context: ObjectiveContext) throws -> any TrainingObjective {
    let mode = context.config.train.mode
    switch TrainingMode(rawValue: mode) {
    case .pretrain: return try pretrainingObjectiveFactory(context)
    case .sft: return try SFTObjective(context)
    case .dpo: return try DPOObjective(context)
    case .distill: return try DistillObjective(context)
    case .reward: return try RewardObjective(context)
    case .grpo: return try GRPOObjective(context)
    case .ppo: return try PPOObjective(context)
    case nil:
        throw ConfigError("train.training_mode \(mode) is not available yet")
    }
}

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
