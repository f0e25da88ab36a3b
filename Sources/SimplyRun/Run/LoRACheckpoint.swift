import Foundation
import SimplyCore
import SimplyModel

/// What a LoRA run's checkpoint says about itself (manifest.json
/// `extra.lora`): its adapters' settings and the identity of the frozen base
/// they were trained on. The checkpoint holds only the adapters (and a score
/// head) and their optimizer state, so these say where the rest comes from.
public struct LoRABase: Sendable, Equatable {
    public let config: LoRAConfig
    /// The base's checkpoint (the run's `--load_checkpoint`); "" for the
    /// seeded initialization of the run's train.seed.
    public let checkpoint: String
    /// That checkpoint's state_sha256 ("" for a seeded base).
    public let stateSHA256: String
    /// SHA-256 of the base's parameters as loaded (`Transformer.baseSHA256`).
    public let sha256: String

    public init(config: LoRAConfig, checkpoint: String, stateSHA256: String, sha256: String) {
        self.config = config; self.checkpoint = checkpoint; self.stateSHA256 = stateSHA256; self.sha256 = sha256
    }

    public var json: JSONValue {
        .object([("alpha", .double(config.alpha)), ("base_checkpoint", .string(checkpoint)),
                 ("base_sha256", .string(sha256)), ("base_state_sha256", .string(stateSHA256)),
                 ("dropout", .double(config.dropout)),
                 ("modules_to_save", .array(config.modulesToSave.map { .string($0.rawValue) })), ("rank", .int(config.rank)),
                 ("targets", .array(config.targets.map { .string($0.rawValue) }))])
    }

    /// The `lora` object of a manifest's `extra`, nil when the checkpoint is not a LoRA run's.
    public init?(extra: JSONValue, file: String) throws {
        guard let j = extra["lora"] else { return nil }
        func string(_ key: String) throws -> String {
            guard let s = j[key]?.stringValue else { throw RunError("\(file): extra.lora.\(key) is missing or not a string") }
            return s
        }
        var c = LoRAConfig()
        for k in LoRAConfig.keys {
            let short = String(k.name.dropFirst("lora.".count))
            guard let v = j[short] else { throw RunError("\(file): extra.lora.\(short) is missing") }
            do { try k.set(&c, v) } catch { throw RunError("\(file): extra.\(error)") }
        }
        guard c.rank >= 1 else { throw RunError("\(file): extra.lora.rank must be at least 1") }
        self.init(config: c, checkpoint: try string("base_checkpoint"), stateSHA256: try string("base_state_sha256"),
                  sha256: try string("base_sha256"))
    }
}

extension Checkpoints {
    /// The weights `checkpoint` stands for, loaded into `model`'s base
    /// parameters (and its score head): a full run's parameters as stored,
    /// or for a LoRA run its base's weights with the adapters merged in,
    /// W + (α/r)·B·A (PEFT's merge_and_unload), and its score head. The base
    /// must have the bits the LoRA run recorded. Parameters the checkpoint
    /// lacks must be in `fresh` (they keep their values).
    @discardableResult
    public static func loadWeights(_ checkpoint: URL, into model: Transformer, fresh: Set<String> = []) throws -> CheckpointManifest {
        try loadWeights(checkpoint, into: model, fresh: fresh, depth: 0)
    }

    static func loadWeights(_ checkpoint: URL, into model: Transformer, fresh: Set<String>, depth: Int) throws -> CheckpointManifest {
        let manifestPath = checkpoint.appendingPathComponent(manifestFileName).path
        let m = try manifest(checkpoint)
        guard let lora = try LoRABase(extra: m.extra, file: manifestPath) else {
            return try loadParameters(checkpoint, into: model, fresh: fresh)
        }
        guard depth < 16 else { throw RunError("\(manifestPath): more than 16 LoRA runs stacked on each other") }
        // The base: its own weights (themselves perhaps a LoRA run's), or the seeded initialization.
        let run = try ExperimentConfig.ofCheckpoint(checkpoint)
        let base: CheckpointManifest?
        if lora.checkpoint.isEmpty {
            model.initializeBase(seed: run.train.seed)
            base = nil
        } else {
            base = try loadWeights(URL(fileURLWithPath: lora.checkpoint), into: model, fresh: fresh.union(["score.weight"]),
                                   depth: depth + 1)
        }
        try checkBase(model: model, loaded: base, recorded: lora, by: manifestPath)
        // The adapters (and a score head), then merged.
        var shape = model.config
        shape.scoreHead = run.model.scoreHead
        let (adapters, _) = try loadAdapters(checkpoint, model: shape)
        for l in 0..<model.config.nLayers {
            for t in lora.config.targets {
                let w = model.baseParameter("model.layers.\(l).\(t.module).weight")
                w.copy(from: adapters.merged(w, layer: l, t))
            }
        }
        for e in adapters.savedEntries where e.name != "score.weight" { model.baseParameter(e.name).copy(from: adapters.parameter(e.name)!) }
        if let s = adapters.score, model.config.scoreHead { model.baseParameter("score.weight").copy(from: s) }
        else if model.config.scoreHead && !fresh.contains("score.weight") {
            throw CheckpointError(manifestPath, field: "tensor score.weight", "not in this checkpoint")
        }
        model.resetSavedModules()
        return m
    }

    /// The adapters (and score head) of a LoRA run's checkpoint, for a model
    /// of config `model` (the run's), with what the checkpoint says of its base.
    public static func loadAdapters(_ checkpoint: URL, model: ModelConfig) throws -> (LoRAAdapters, LoRABase) {
        let manifestPath = checkpoint.appendingPathComponent(manifestFileName).path
        guard let lora = try LoRABase(extra: try manifest(checkpoint).extra, file: manifestPath) else {
            throw RunError("\(checkpoint.path): not a LoRA run's checkpoint (its manifest.json has no extra.lora)")
        }
        guard lora.config.rank <= model.dModel else {
            throw RunError("\(manifestPath): extra.lora.rank \(lora.config.rank) is more than the model's width \(model.dModel)")
        }
        let adapters = LoRAAdapters(model: model, config: lora.config, maxRows: 1)
        try load(checkpoint, into: adapters.entries.compactMap { e in adapters.parameter(e.name).map { CheckpointTensor(name: e.name, tensor: $0) } },
                 expectedConfigSHA256: nil)
        return (adapters, lora)
    }

    /// A LoRA run's base must be the one it was trained on: the same
    /// checkpoint state and the same parameter bits. The error names both hashes.
    public static func checkBase(model: Transformer, loaded: CheckpointManifest?, recorded: LoRABase, by file: String) throws {
        if let loaded, loaded.stateSHA256 != recorded.stateSHA256 {
            throw RunError("\(recorded.checkpoint): its state_sha256 is \(loaded.stateSHA256), but the LoRA adapters of \(file) were trained on a base with state_sha256 \(recorded.stateSHA256): the base changed")
        }
        let bits = model.baseSHA256()
        if bits != recorded.sha256 {
            let name = recorded.checkpoint.isEmpty ? "the seeded base" : recorded.checkpoint
            throw RunError("\(name): its parameters hash to \(bits), but the LoRA adapters of \(file) were trained on a base hashing to \(recorded.sha256): the base changed")
        }
    }
}
