import SimplyRun
import SimplyTrain

/// Every training algorithm `simply` knows, one line each, in the order
/// `simply train --help`, `simply config keys` and the docs list them. Adding
/// an algorithm is adding its file (its settings, its objective and its
/// `Algorithm` declaration) and one line here.
public let algorithms = AlgorithmList([
    .pretrain,
    .sft,
    .reward,
    .dpo,
    .distill,
    .grpo,
    .ppo,
    .orpo,
    .simpo,
])
