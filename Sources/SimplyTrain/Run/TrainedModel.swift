import Foundation
import SimplyModel

/// A model loaded from a checkpoint for evaluation or as a frozen reference:
/// the config from its run's config.json, the parameters from the checkpoint.
public struct TrainedModel {
    public let config: ExperimentConfig
    public let model: Transformer
    public let checkpoint: URL
    public let step: Int

    /// `path`: a checkpoint directory or a run directory (its newest checkpoint).
    public init(_ path: URL, maxBatch: Int) throws {
        checkpoint = try Checkpoints.resolve(path)
        // RUN/checkpoints/step-N → RUN
        let run = RunDirectory(checkpoint.deletingLastPathComponent().deletingLastPathComponent())
        config = try ExperimentConfig.fromRunConfig(run.configURL)
        let m = Transformer(config: config.model, maxBatch: maxBatch)
        let params = m.layout.entries.map { CheckpointTensor(name: $0.name, tensor: m.parameter($0.name)) }
        step = try Checkpoints.load(checkpoint, into: params, expectedConfigSHA256: nil).step
        model = m
    }
}
