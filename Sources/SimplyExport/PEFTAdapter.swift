import Foundation
import SimplyCore
import SimplyModel
import SimplyRun

/// LoRA adapters as a PEFT adapter directory, the format `peft`'s
/// `PeftModel.from_pretrained(base, DIR)` loads and `save_pretrained` writes:
///
///     adapter_config.json          peft_type LORA, r, lora_alpha, target_modules, task_type CAUSAL_LM, …
///     adapter_model.safetensors    base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight [r, in], ….lora_B.weight [out, r]
///
/// Reading takes such a directory back (any float dtype, widened to
/// float32); every error names the file and the key.
public enum PEFTAdapter {
    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"
    static let prefix = "base_model.model."

    static let moduleNames: [(LoRATarget, String)] = [(.q, "q_proj"), (.k, "k_proj"), (.v, "v_proj"), (.o, "o_proj"),
                                                       (.gate, "gate_proj"), (.up, "up_proj"), (.down, "down_proj")]

    /// The two files for `lora`; `base` is recorded as base_model_name_or_path.
    public static func files(_ lora: LoRAAdapters, base: String) -> [(name: String, bytes: [UInt8])] {
        let targets = moduleNames.filter { lora.config.targets.contains($0.0) }.map { JSONValue.string($0.1) }
        // A score head trains with the adapters: PEFT's SEQ_CLS task saves it as a module to save; so are trained norms.
        let scoreHead = lora.score != nil
        // A tied LM head is the embedding matrix: PEFT wraps lm_head on its own, so it gets the same values.
        let tiedHead = lora.model.tieEmbeddings && lora.parameter("model.embed_tokens.weight") != nil
        let saved = lora.config.modulesToSave.map { JSONValue.string($0.rawValue) } + (tiedHead ? [.string("lm_head")] : [])
            + (scoreHead ? [.string("score")] : [])
        let config: JSONValue = .object([
            ("peft_type", .string("LORA")),
            ("task_type", .string(scoreHead ? "SEQ_CLS" : "CAUSAL_LM")),
            ("base_model_name_or_path", .string(base)),
            ("r", .int(lora.config.rank)),
            ("lora_alpha", .double(lora.config.alpha)),
            ("lora_dropout", .double(lora.config.dropout)),
            ("modules_to_save", saved.isEmpty ? .null : .array(saved)),
            ("target_modules", .array(targets)),
            ("bias", .string("none")),
            ("fan_in_fan_out", .bool(false)),
            ("init_lora_weights", .bool(true)),
            ("inference_mode", .bool(true)),
            ("use_rslora", .bool(false)),
            ("use_dora", .bool(false)),
        ])
        var tensors = lora.entries.map { e in
            (name: prefix + e.name, tensor: Tensor(storage: lora.params.storage, offset: lora.params.offset + e.offset, shape: e.shape))
        }
        if tiedHead, let e = lora.parameter("model.embed_tokens.weight") { tensors.append((name: prefix + "lm_head.weight", tensor: e)) }
        return [(configFile, Array((config.pretty() + "\n").utf8)),
                (weightsFile, SafetensorsWriter.encode(tensors: tensors, metadata: ["format": "pt"]))]
    }

    /// adapter_config.json's settings for a model of config `model`: LoRA
    /// only, every value checked (and the rank bounded by the model's width)
    /// before anything is allocated; errors name `file` and the key.
    public static func parseConfig(_ bytes: [UInt8], file: String, model: ModelConfig) throws -> LoRAConfig {
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: bytes, as: UTF8.self)) } catch {
            throw HFError("\(file): invalid JSON: \(error)")
        }
        func bad(_ key: String, _ why: String) -> HFError { HFError("\(file): \(key): \(why)") }
        guard json["peft_type"]?.stringValue == "LORA" else { throw bad("peft_type", "only LORA adapters are read") }
        for (key, ok) in [("use_dora", false), ("use_rslora", false), ("fan_in_fan_out", false)] {
            if let v = json[key], v != .null, v.boolValue != ok { throw bad(key, "\(v.brief()) is not supported") }
        }
        if let b = json["bias"], b != .null, b != .string("none") { throw bad("bias", "\(b.brief()) is not supported (only none)") }
        // Every size is bounded before the adapters are allocated: a rank above the model's width adds nothing.
        guard let r = json["r"]?.intValue, r >= 1, r <= model.dModel else { throw bad("r", "expected an integer in 1...\(model.dModel) (the model's width)") }
        guard let alpha = json["lora_alpha"]?.doubleValue, alpha.isFinite, alpha > 0 else { throw bad("lora_alpha", "expected a positive number") }
        guard case let .array(items)? = json["target_modules"] else { throw bad("target_modules", "expected a list of module names") }
        var targets: [LoRATarget] = []
        for item in items {
            guard let name = item.stringValue, let t = moduleNames.first(where: { $0.1 == name })?.0 else {
                throw bad("target_modules", "\(item.brief()) is not one of " + moduleNames.map(\.1).joined(separator: ", "))
            }
            targets.append(t)
        }
        guard !targets.isEmpty else { throw bad("target_modules", "names no module") }
        // Simply's order (q k v o gate up down), whatever order the file lists them in.
        let ordered = LoRATarget.allCases.filter { targets.contains($0) }
        var dropout = 0.0
        if let d = json["lora_dropout"], d != .null {
            guard let v = d.doubleValue, v >= 0, v <= 0.9 else { throw bad("lora_dropout", "expected a number in 0...0.9") }
            dropout = v
        }
        var saved: [LoRASavedModule] = []
        if let m = json["modules_to_save"], m != .null {
            guard case let .array(names) = m else { throw bad("modules_to_save", "expected a list of module names") }
            for n in names {
                guard let name = n.stringValue else { throw bad("modules_to_save", "expected module names") }
                if name == "lm_head" && model.tieEmbeddings { continue }   // the tied embeddings' copy, checked below
                if name == "score" || name == "classifier" {
                    guard model.scoreHead else { throw bad("modules_to_save", "\(name) needs a model with a score head") }
                    continue
                }
                guard let module = LoRASavedModule(rawValue: name) else {
                    throw bad("modules_to_save", "\(n.brief()) is not one of " + (LoRASavedModule.allCases.map(\.rawValue) + ["score"]).joined(separator: ", "))
                }
                saved.append(module)
            }
        }
        return LoRAConfig(rank: r, alpha: alpha, dropout: dropout, targets: ordered,
                          modulesToSave: LoRASavedModule.allCases.filter(saved.contains))
    }

    /// The adapter directory `dir` for a model of config `model`, as adapters for `maxRows` rows.
    public static func read(_ dir: URL, model: ModelConfig, maxRows: Int) throws -> LoRAAdapters {
        let configURL = dir.appendingPathComponent(configFile)
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(configURL, limit: 1 << 20) } catch { throw HFError(error.description) }
        let config = try parseConfig(bytes, file: configURL.path, model: model)
        let lora = LoRAAdapters(model: model, config: config, maxRows: maxRows)
        let weightsURL = dir.appendingPathComponent(weightsFile)
        let file = try SafetensorsFile.read(weightsURL)
        var known = Set(lora.entries.map { prefix + $0.name })
        let tiedCopy = prefix + "lm_head.weight"
        if model.tieEmbeddings, lora.parameter("model.embed_tokens.weight") != nil { known.insert(tiedCopy) }
        for name in file.names where !known.contains(name) {
            throw HFError("\(weightsURL.path): tensor '\(name)' is not an adapter of this model and config")
        }
        for e in lora.entries {
            let name = prefix + e.name
            guard let entry = file.entries[name] else { throw HFError("\(weightsURL.path): tensor '\(name)' is missing") }
            guard entry.shape == e.shape else {
                throw HFError("\(weightsURL.path): tensor '\(name)' has shape \(entry.shape), the model implies \(e.shape)")
            }
            Tensor(storage: lora.params.storage, offset: lora.params.offset + e.offset, shape: e.shape).copy(from: try file.tensor(name))
        }
        if model.tieEmbeddings, file.names.contains(tiedCopy), let e = lora.parameter("model.embed_tokens.weight") {
            guard try file.tensor(tiedCopy).toArray() == e.toArray() else {
                throw HFError("\(weightsURL.path): tensor '\(tiedCopy)' differs from the embeddings this model ties it to")
            }
        }
        return lora
    }

    /// `simply export --format peft`: the adapters of a LoRA run's checkpoint
    /// (or run directory) as a PEFT adapter directory. base_model_name_or_path
    /// names the base's run directory, whose `simply export --format hf` is
    /// the model PEFT loads them onto.
    @discardableResult
    public static func export(from path: URL, to directory: URL) throws -> (checkpoint: URL, base: String, config: LoRAConfig) {
        let checkpoint = try Checkpoints.resolve(path)
        let config = try ExperimentConfig.ofCheckpoint(checkpoint)
        let manifestPath = checkpoint.appendingPathComponent(Checkpoints.manifestFileName).path
        guard try LoRABase(extra: try Checkpoints.manifest(checkpoint).extra, file: manifestPath) != nil else {
            throw HFError("\(checkpoint.path): not a LoRA run's checkpoint (lora.rank 0): export it with --format hf")
        }
        let (adapters, base) = try Checkpoints.loadAdapters(checkpoint, model: config.model)
        let baseName = base.checkpoint.isEmpty ? "" : runDirectoryOf(URL(fileURLWithPath: base.checkpoint)).path
        try writeNewDirectory(directory, files: files(adapters, base: baseName))
        return (checkpoint, baseName, adapters.config)
    }

    /// RUN/checkpoints/step-N → RUN.
    static func runDirectoryOf(_ checkpoint: URL) -> URL {
        checkpoint.standardizedFileURL.deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `simply import --peft DIR --base RUN OUT`: a PEFT adapter directory
    /// onto a Simply run (the base it was trained on, e.g. `simply import` of
    /// the Hugging Face model) as a LoRA run directory: config.json (the
    /// base's, with a `lora` section), one checkpoint holding the adapters and
    /// naming its base. Evaluate, sample or export it like any run; train from
    /// it with --load_checkpoint (its base with the adapters merged).
    @discardableResult
    public static func importAdapter(from dir: URL, base: URL, to out: URL, schema: ConfigSchema) throws -> URL {
        let baseCheckpoint = try Checkpoints.resolve(base)
        var config = try ExperimentConfig.ofCheckpoint(baseCheckpoint, schema: schema)
        let adapters = try read(dir, model: config.model, maxRows: 1)
        // The base's bits, as a LoRA run records them.
        let model = Transformer(config: config.model, maxBatch: 1)
        let loaded = try Checkpoints.loadWeights(baseCheckpoint, into: model, fresh: config.model.scoreHead ? ["score.weight"] : [])
        if let s = adapters.score { model.parameter("score.weight").copy(from: s) }
        let identity = LoRABase(config: adapters.config, checkpoint: baseCheckpoint.path, stateSHA256: loaded.stateSHA256,
                                sha256: model.baseSHA256())
        config.setSettings(adapters.config)
        let run = RunDirectory(out)
        guard case var .object(sections) = config.json() else { fatalError("config json is an object") }
        let configHash = config.identitySHA256
        sections.append(("run", .object([
            ("simply_version", .string(Simply.version)),
            ("training_mode", .string("import")),
            ("imported_from", .string(dir.standardizedFileURL.path)),
            ("init_checkpoint", .string(baseCheckpoint.path)),
            ("init_state_sha256", .string(loaded.stateSHA256)),
            ("lora_base_sha256", .string(identity.sha256)),
            ("config_sha256", .string(configHash)),
        ])))
        try run.create(config: .object(sections))
        let tensors = adapters.entries.compactMap { e in adapters.parameter(e.name).map { CheckpointTensor(name: e.name, tensor: $0) } }
        return try Checkpoints.write(
            runDirectory: out, step: 0, tensors: tensors, configSHA256: configHash, dataCursor: .object([]),
            extra: .object([("imported_from", .string(dir.standardizedFileURL.path)), ("lora", identity.json),
                            ("simply_version", .string(Simply.version))]),
            options: CheckpointOptions(shardBytes: config.checkpoint.shardMB << 20, compressionLevel: config.checkpoint.compressionLevel,
                                       keepLast: 0))
    }
}
