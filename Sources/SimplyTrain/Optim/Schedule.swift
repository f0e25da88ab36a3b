import SimplyCore
import SimplyRun

/// Linear warmup to `lr` over `warmupSteps`, then cosine decay to `minLR` at
/// the last step (nanoGPT's schedule). `step` counts from 0.
public func learningRate(step: Int, config: TrainConfig) -> Double {
    let warmup = config.warmupSteps
    if step < warmup { return config.lr * Double(step + 1) / Double(warmup) }
    let span = max(1, config.steps - warmup - 1)
    let progress = min(1, Double(step - warmup) / Double(span))
    return config.minLR + 0.5 * (config.lr - config.minLR) * (1 + DetMath.cos(Double.pi * progress))
}
