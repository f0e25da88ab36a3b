import Foundation
import SimplyModel

extension Checkpoints {
    /// Loads the parameters (not the optimizer state) of `checkpoint` into
    /// `model`'s base. Parameters the checkpoint lacks must be in `fresh`; they keep
    /// the values they have (a reward head on a pre-trained LM). Attached
    /// adapters' saved modules then start from the loaded values.
    @discardableResult
    public static func loadParameters(_ checkpoint: URL, into model: Transformer,
                                      fresh: Set<String> = []) throws -> CheckpointManifest {
        let stored = Set(try manifest(checkpoint).tensors.map(\.name))
        var wanted: [CheckpointTensor] = []
        for e in model.layout.entries {
            if stored.contains(e.name) {
                wanted.append(CheckpointTensor(name: e.name, tensor: model.baseParameter(e.name)))
            } else if !fresh.contains(e.name) {
                throw CheckpointError(checkpoint.appendingPathComponent(manifestFileName).path, field: "tensor \(e.name)",
                                      "not in this checkpoint")
            }
        }
        let m = try load(checkpoint, into: wanted, expectedConfigSHA256: nil)
        model.resetSavedModules()
        return m
    }
}

extension ExperimentConfig {
    /// The config of the run a checkpoint belongs to (`path`: a checkpoint
    /// directory or a run directory).
    public static func ofCheckpoint(_ path: URL, schema: ConfigSchema = .anyRun) throws -> ExperimentConfig {
        let checkpoint = try Checkpoints.resolve(path)
        // RUN/checkpoints/step-N → RUN
        let run = RunDirectory(checkpoint.standardizedFileURL.deletingLastPathComponent().deletingLastPathComponent())
        return try fromRunConfig(run.configURL, schema: schema)
    }
}

/// A model loaded from a checkpoint for evaluation or as a frozen reference
/// or teacher: the config from its run's config.json, the parameters from the
/// checkpoint.
public struct TrainedModel {
    public let config: ExperimentConfig
    public let model: Transformer
    public let checkpoint: URL
    public let step: Int
    /// The checkpoint's state hash (parameters and optimizer moments).
    public let stateSHA256: String
    /// Parameters the checkpoint did not hold: seeded initialization.
    public let freshParameters: Set<String>

    /// `path`: a checkpoint directory or a run directory (its newest checkpoint).
    /// `prepare` may change the run's model config (e.g. add a score head) and
    /// returns the parameters the checkpoint may lack; those get the seeded
    /// initialization of `train.seed`.
    public init(_ path: URL, maxBatch: Int, prepare: (inout ModelConfig) -> Set<String> = { _ in [] }) throws {
        checkpoint = try Checkpoints.resolve(path)
        var config = try ExperimentConfig.ofCheckpoint(checkpoint)
        freshParameters = prepare(&config.model)
        self.config = config
        // A batch from the command line is bounded like a config's sizes.
        let need = 8 * config.model.parameterCountEstimate + config.model.activationBytesEstimate(maxBatch: maxBatch)
        guard maxBatch >= 1, need <= Double(ProcessInfo.processInfo.physicalMemory) else {
            throw RunError("a batch of \(maxBatch) rows of this model needs about \(Int(need / Double(1 << 30))) GiB, more than this machine has: use a smaller batch")
        }
        let m = Transformer(config: config.model, maxBatch: maxBatch)
        if !freshParameters.isEmpty { m.initialize(seed: config.train.seed) }
        // A LoRA run's checkpoint: its base with the adapters merged in.
        let manifest = try Checkpoints.loadWeights(checkpoint, into: m, fresh: freshParameters)
        step = manifest.step
        stateSHA256 = manifest.stateSHA256
        model = m
    }
}
