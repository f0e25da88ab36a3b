import Foundation
import SimplyCore
import SimplyModel

/// Training hyper-parameters. Defaults follow nanoGPT / llm.c small-model practice.
public struct TrainConfig: Sendable, Equatable {
    public var steps = 200
    public var batchSize = 8
    /// Virtual gradient shards per global batch (docs/design.md, contract 3). Each is
    /// computed on its own and they are summed in a fixed pairwise tree, so the
    /// bits do not depend on who computes which shard.
    public var gradShards = 1
    public var lr = 1e-3
    public var minLR = 1e-4
    public var warmupSteps = 20
    public var weightDecay = 0.1
    public var beta1 = 0.9
    public var beta2 = 0.95
    public var eps = 1e-8
    public var gradClip = 1.0
    public var seed: UInt64 = 1337
    /// The algorithm (`--training_mode`): pretrain, or a name in the algorithm list.
    public var mode = "pretrain"
    /// Gradient checkpointing: 0 keeps every layer's activations; k ≥ 1 keeps
    /// only the input of every k-th layer and recomputes k layers at a time in
    /// the backward pass (`none`, `layer` = 1, or k in config files). It never
    /// changes a bit, so it is not part of the run's identity.
    public var checkpointEvery = 0
    public init() {}
}

/// Where the tokens come from.
public struct DataConfig: Sendable, Equatable {
    /// "builtin:synthetic" or the path of a token shard from `simply data prepare`.
    public var dataset = "builtin:synthetic"
    /// Size of the built-in corpus in bytes.
    public var syntheticBytes = 2_000_000
    /// "byte", or the path of a tokenizer.json (byte-level BPE), relative to
    /// the current directory. The built-in corpus is encoded with it; a token
    /// shard must have been prepared with it.
    public var tokenizer = "byte"
    public init() {}
}

/// When and how checkpoints are written. None of these change the bits of a
/// run, so they are left out of the config hash a resume checks.
public struct CheckpointConfig: Sendable, Equatable {
    /// Steps between checkpoints (0: only at the end and on SIGTERM/SIGINT).
    public var interval = 0
    public var keepLast = 3
    public var shardMB = 64
    public var compressionLevel = 3
    public init() {}
}

/// The resolved experiment: what `config.json` records and what the bits are a function of.
/// The base sections are typed; each algorithm's section (dpo, grpo, ...) is
/// held as the JSON its keys write, and read back as its own settings type
/// (`settings(_:)`), so adding an algorithm never touches this file.
public struct ExperimentConfig: Sendable, Equatable {
    public var model: ModelConfig
    public var train = TrainConfig()
    public var data = DataConfig()
    public var checkpoint = CheckpointConfig()
    /// The algorithms' sections, by name, each by short key name.
    public private(set) var sections: [String: [String: JSONValue]] = [:]
    /// The modes and sections this config accepts keys of (not part of its value).
    public var schema: ConfigSchema = .pretraining

    public init(model: ModelConfig) { self.model = model }

    public static func == (a: ExperimentConfig, b: ExperimentConfig) -> Bool {
        a.model == b.model && a.train == b.train && a.data == b.data && a.checkpoint == b.checkpoint && a.sections == b.sections
    }

    /// The defaults, with no algorithm section: pre-training.
    public static var defaults: ExperimentConfig { defaults(.pretraining) }

    /// The defaults with the sections of `schema` a new run always records at their defaults.
    public static func defaults(_ schema: ConfigSchema) -> ExperimentConfig {
        var c = ExperimentConfig(model: ModelConfig(vocabSize: 512, dModel: 128, nLayers: 4, nHeads: 4,
                                                    nKVHeads: 2, dFF: 384, seqLen: 128, tieEmbeddings: true))
        c.schema = schema
        for s in schema.sections where schema.alwaysRecorded.contains(s.name) { c.sections[s.name] = s.defaults }
        return c
    }

    /// An algorithm's settings: its defaults, overwritten by the section's values.
    public func settings<S: ConfigSettings>(_ type: S.Type = S.self) throws -> S {
        var s = S()
        guard let values = sections[S.section] else { return s }
        for k in S.keys {
            if let v = values[shortName(k.name)] { try k.set(&s, v) }
        }
        return s
    }

    /// Records `section` at its defaults unless the config already holds it
    /// (a run records the section of its own algorithm).
    public mutating func record(_ section: ConfigSection) {
        if sections[section.name] == nil { sections[section.name] = section.defaults }
    }

    /// Records an algorithm's settings as its section.
    public mutating func setSettings<S: ConfigSettings>(_ s: S) {
        sections[S.section] = Dictionary(uniqueKeysWithValues: S.keys.map { (shortName($0.name), $0.get(s)) })
    }
}

/// Upper bounds of the train keys (the model keys' are `ModelConfig`'s).
let maxSteps = 1_000_000_000
let maxBatchSize = 1 << 20

private func gib(_ bytes: Double) -> String { String(format: "%.1f GiB", bytes / Double(1 << 30)) }

extension ExperimentConfig {
    /// The keys of the base sections (model, train, data, checkpoint).
    static let baseKeys: [ConfigKey<ExperimentConfig>] = [
        .int("model.vocab_size", \.model.vocabSize, min: 1, max: ModelConfig.maxVocabSize),
        .int("model.d_model", \.model.dModel, min: 1, max: ModelConfig.maxDModel),
        .int("model.n_layers", \.model.nLayers, min: 1, max: ModelConfig.maxLayers),
        .int("model.n_heads", \.model.nHeads, min: 1, max: ModelConfig.maxDModel),
        .int("model.n_kv_heads", \.model.nKVHeads, min: 1, max: ModelConfig.maxDModel),
        .int("model.d_ff", \.model.dFF, min: 1, max: ModelConfig.maxDFF),
        .int("model.seq_len", \.model.seqLen, min: 1, max: ModelConfig.maxSeqLen),
        .bool("model.tie_embeddings", \.model.tieEmbeddings),
        .bool("model.score_head", \.model.scoreHead),
        .double("model.rope_theta", \.model.ropeTheta, range: 1...1e12),
        .float("model.norm_eps", \.model.normEps),
        .float("model.init_std", \.model.initStd),
        .int("model.head_dim", \.model.headDimension, max: ModelConfig.maxDModel),
        .bool("model.qkv_bias", \.model.qkvBias),
        .bool("model.qk_norm", \.model.qkNorm),
        .choice("model.rope_scaling", \.model.ropeScaling.type, RoPEScaling.types),
        .double("model.rope_factor", \.model.ropeScaling.factor, range: 1...1e6),
        .double("model.rope_low_freq_factor", \.model.ropeScaling.lowFreqFactor, range: 1e-6...1e6),
        .double("model.rope_high_freq_factor", \.model.ropeScaling.highFreqFactor, range: 1e-6...1e6),
        .int("model.rope_original_max_position", \.model.ropeScaling.originalMaxPosition, min: 1, max: ModelConfig.maxSeqLen),
        .int("model.sliding_window", \.model.slidingWindow, max: ModelConfig.maxSeqLen),
        .choice("model.family", \.model.family, ModelConfig.families),
        .int("train.steps", \.train.steps, min: 1, max: maxSteps),
        .int("train.batch_size", \.train.batchSize, min: 1, max: maxBatchSize),
        .int("train.grad_shards", \.train.gradShards, min: 1, max: maxBatchSize),
        .double("train.lr", \.train.lr, range: 0...10),
        .double("train.min_lr", \.train.minLR, range: 0...10),
        .int("train.warmup_steps", \.train.warmupSteps, max: maxSteps),
        .double("train.weight_decay", \.train.weightDecay, range: 0...10),
        .double("train.beta1", \.train.beta1, range: 0...0.999999),
        .double("train.beta2", \.train.beta2, range: 0...0.999999999),
        .double("train.eps", \.train.eps, range: 0...1),
        .double("train.grad_clip", \.train.gradClip, range: 0...1e9),
        ConfigKey(name: "train.seed", accepts: "integer 0...\(UInt64.max)", meaning: "", get: { .number(String($0.train.seed)) }, set: { c, v in
            guard case let .number(s) = v, let u = UInt64(s) else {
                throw ConfigError("train.seed: expected a non-negative integer, got \(brief(v.serialized()))")
            }
            c.train.seed = u
        }),
        ConfigKey(name: "train.training_mode", accepts: "", meaning: "", get: { .string($0.train.mode) }, set: { c, v in
            let modes = c.schema.modes
            guard let s = v.stringValue, c.schema.lenient || modes.contains(s) else {
                throw ConfigError("train.training_mode: expected one of \(modes.joined(separator: ", ")), got \(brief(v.serialized()))")
            }
            c.train.mode = s
        }),
        ConfigKey(name: "train.checkpoint_activations", accepts: "none, layer, or an integer k >= 1 (every k layers)", meaning: "",
                  get: { c in c.train.checkpointEvery == 0 ? .string("none") : c.train.checkpointEvery == 1 ? .string("layer")
                      : .number(String(c.train.checkpointEvery)) },
                  set: { c, v in
                      let text = v.stringValue ?? (v.serialized())
                      switch text {
                      case "none": c.train.checkpointEvery = 0
                      case "layer": c.train.checkpointEvery = 1
                      default:
                          guard let k = Int(text), k >= 1, k <= ModelConfig.maxLayers else {
                              throw ConfigError("train.checkpoint_activations: expected none, layer or an integer 1...\(ModelConfig.maxLayers), got \(brief(v.serialized()))")
                          }
                          c.train.checkpointEvery = k
                      }
                  }),
        .string("data.dataset", \.data.dataset),
        .int("data.synthetic_bytes", \.data.syntheticBytes, min: 1024, max: 1 << 32),
        .string("data.tokenizer", \.data.tokenizer),
        .int("checkpoint.interval", \.checkpoint.interval, max: maxSteps),
        .int("checkpoint.keep_last", \.checkpoint.keepLast, max: 1 << 20),
        .int("checkpoint.shard_mb", \.checkpoint.shardMB, min: 1, max: 1 << 20),
        .int("checkpoint.compression_level", \.checkpoint.compressionLevel, min: 1, max: CheckpointZstd.levels.upperBound),
    ]


    /// Every key of `schema`: name, its default, what it accepts, one line of
    /// meaning. The base sections first, then each algorithm's, checkpoint last.
    public static func keyReference(_ schema: ConfigSchema) -> [(name: String, value: String, accepts: String, meaning: String)] {
        let d = ExperimentConfig.defaults(schema)
        func text(_ v: JSONValue) -> String { v.stringValue ?? v.serialized() }
        let base = baseKeys.map { k in
            (k.name, text(k.get(d)), k.name == "train.training_mode" ? schema.modes.joined(separator: ", ") : k.accepts,
             keyHelp[k.name] ?? "")
        }
        let sections = schema.sections.flatMap { s in s.keys.map { ($0.name, text($0.defaultValue), $0.accepts, $0.meaning) } }
        let isCheckpoint = { (row: (String, String, String, String)) in row.0.hasPrefix("checkpoint.") }
        return base.filter { !isCheckpoint($0) } + sections + base.filter(isCheckpoint)
    }

    /// Every key name of `schema`.
    public static func keyNames(_ schema: ConfigSchema) -> [String] { keyReference(schema).map(\.name) }

    /// Sets one dotted key from JSON; unknown keys and bad values name the key.
    public mutating func set(_ key: String, _ value: JSONValue) throws {
        if let k = Self.baseKeys.first(where: { $0.name == key }) { return try k.set(&self, value) }
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 2, let section = schema.section(named: parts[0]),
           let k = section.keys.first(where: { $0.name == key }) {
            // A section is recorded whole: its defaults, then what is set.
            var values = sections[section.name] ?? section.defaults
            values[parts[1]] = try k.canonical(value)
            sections[section.name] = values
            return
        }
        if parts.count == 2, schema.lenient, !Self.baseSections.contains(parts[0]) {
            sections[parts[0], default: [:]][parts[1]] = value
            return
        }
        throw ConfigError("unknown config key '\(brief(key))'" + suggestion(for: key))
    }

    /// Sets one dotted key from command-line text (`--set key=value`).
    public mutating func set(_ key: String, text: String) throws {
        // Strings are taken as they are; everything else is read as JSON.
        let current: JSONValue? = Self.baseKeys.first { $0.name == key }.map { $0.get(self) }
            ?? schema.sections.lazy.flatMap(\.keys).first { $0.name == key }?.defaultValue
        if case .string = current {
            try set(key, .string(text))
        } else {
            try set(key, (try? JSONValue.parse(text)) ?? .string(text))
        }
    }

    /// The defaults `writtenWhenSet` keys are compared with.
    static let plainDefaults = ExperimentConfig.defaults(ConfigSchema(modes: [], sections: []))

    /// Base keys config.json records only when they differ from their default.
    static let writtenWhenSet: Set<String> = [
        "model.head_dim", "model.qkv_bias", "model.qk_norm", "model.rope_scaling", "model.rope_factor",
        "model.rope_low_freq_factor", "model.rope_high_freq_factor", "model.rope_original_max_position",
        "model.sliding_window", "model.family", "train.checkpoint_activations",
    ]

    static let baseSections: Set<String> = ["model", "train", "data", "checkpoint"]

    /// Applies a config file's JSON object: either nested sections
    /// {"model": {"d_model": 128}} or dotted keys {"model.d_model": 128}.
    public mutating func apply(_ json: JSONValue, source: String) throws {
        guard case let .object(top) = json else { throw ConfigError("\(source): expected a JSON object") }
        // A key given twice is a mistake whichever value was meant.
        var seen = Set<String>()
        func once(_ key: String) throws {
            guard seen.insert(key).inserted else { throw ConfigError("\(source): key '\(brief(key))' appears twice") }
        }
        for (k, v) in top {
            try once(k)
            if case let .object(inner) = v {
                for (k2, v2) in inner {
                    try once("\(k).\(k2)")
                    do { try set("\(k).\(k2)", v2) } catch let e as ConfigError { throw ConfigError("\(source): \(e.description)") }
                }
            } else {
                do { try set(k, v) } catch let e as ConfigError { throw ConfigError("\(source): \(e.description)") }
            }
        }
    }

    /// Checks relations between keys; errors name the keys.
    public func validate() throws {
        do { try model.validate() } catch { throw ConfigError("\(error)") }
        if train.batchSize % train.gradShards != 0 {
            throw ConfigError("train.batch_size (\(train.batchSize)) must be a multiple of train.grad_shards (\(train.gradShards))")
        }
        if train.minLR > train.lr {
            throw ConfigError("train.min_lr (\(train.minLR)) must not exceed train.lr (\(train.lr))")
        }
        let estimate = memoryEstimate
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        if estimate.total > available {
            throw ConfigError("model and train sizes need about \(gib(estimate.total)) of memory (parameters, gradients and "
                + "AdamW state \(gib(estimate.state)), activations \(gib(estimate.activations))), more than this machine's "
                + "\(gib(available)): lower model.d_model, model.n_layers, model.vocab_size, model.seq_len or train.batch_size"
                + (((try? loraSettings().rank) ?? 0) > 0 ? "" : ", or train LoRA adapters (--set lora.rank=16)"))
        }
    }

    /// A lower bound of what training this config allocates, in bytes:
    /// parameters, gradients and AdamW m and v (4 floats per parameter), one
    /// more gradient buffer for the second shard lane, and the activations of
    /// the two lanes' models for one gradient shard's rows. With LoRA: the
    /// parameters and one lane's activations (the adapters are small).
    /// Post-training objectives add reference models and samplers on top.
    public var memoryEstimate: (state: Double, activations: Double, total: Double) {
        let p = model.parameterCountEstimate
        let rows = max(1, train.batchSize / max(1, train.gradShards))
        // A validated config's lora section always reads.
        let lora = ((try? loraSettings().rank) ?? 0) > 0
        let state = 4 * (lora ? 1 : 5) * p
        // The built-in corpus: its text and one Int32 token per byte at most.
        let corpus = data.dataset == "builtin:synthetic" ? 5 * Double(data.syntheticBytes) : 0
        let activations = (lora ? 1 : 2) * model.activationBytesEstimate(maxBatch: rows) + corpus
        return (state, activations, state + activations)
    }

    /// The resolved config as nested JSON ({"data": {...}, "model": {...}, "train": {...}, "dpo": {...}}).
    public func json() -> JSONValue {
        var out: [(String, [(String, JSONValue)])] = []
        for k in Self.baseKeys {
            // The architecture options are written only when set: a plain
            // Llama's config.json (and its hash) is what it was before they existed.
            if Self.writtenWhenSet.contains(k.name), k.get(self) == k.get(Self.plainDefaults) { continue }
            let parts = k.name.split(separator: ".", maxSplits: 1).map(String.init)
            if let i = out.firstIndex(where: { $0.0 == parts[0] }) {
                out[i].1.append((parts[1], k.get(self)))
            } else {
                out.append((parts[0], [(parts[1], k.get(self))]))
            }
        }
        for name in sections.keys.sorted() {
            out.append((name, sections[name, default: [:]].sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }
        return .object(out.map { ($0.0, .object($0.1)) })
    }

    /// SHA-256 of the sections that decide the bits (all but checkpoint): what a
    /// checkpoint records and a resume checks.
    public var identitySHA256: String {
        guard case let .object(sections) = json() else { return "" }
        // Neither the checkpoint section nor gradient checkpointing changes a bit.
        let kept = sections.filter { $0.0 != "checkpoint" }.map { (name, value) -> (String, JSONValue) in
            guard name == "train", case let .object(keys) = value else { return (name, value) }
            return (name, .object(keys.filter { $0.0 != "checkpoint_activations" }))
        }
        return sha256Hex(Array(JSONValue.object(kept).serialized().utf8))
    }

    /// Reads a run's config.json back (its `run` section is the caller's).
    /// With `.anyRun` the algorithm sections are kept as written.
    public static func fromRunConfig(_ url: URL, schema: ConfigSchema = .anyRun) throws -> ExperimentConfig {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ConfigError("\(url.path): missing (not a run directory?)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw ConfigError("\(url.path): invalid JSON: \(error)")
        }
        guard case let .object(pairs) = json else { throw ConfigError("\(url.path): expected a JSON object") }
        // The sections the run recorded, no more: a run made before an algorithm was added keeps its bytes.
        var config = ExperimentConfig.defaults(ConfigSchema(modes: schema.modes, sections: [], lenient: schema.lenient))
        config.schema = schema
        try config.apply(.object(pairs.filter { $0.0 != "run" }), source: url.path)
        try config.validate()
        return config
    }

    /// Loads configs/NAME.json (or a path), then applies `overrides` ("key=value").
    public static func resolve(experiment: String, configDirectory: URL, overrides: [String],
                               schema: ConfigSchema = .pretraining) throws -> ExperimentConfig {
        var config = ExperimentConfig.defaults(schema)
        let url: URL
        if experiment.hasSuffix(".json") || experiment.contains("/") {
            url = URL(fileURLWithPath: experiment)
        } else {
            url = configDirectory.appendingPathComponent("\(experiment).json")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let known = (try? FileManager.default.contentsOfDirectory(atPath: configDirectory.path))?
                .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted() ?? []
            let near = known.filter { editDistance($0, experiment) <= 2 }
            throw ConfigError("no experiment config '\(experiment)' (looked for \(url.path))"
                              + (near.isEmpty ? ";" : ": did you mean \(near.map { "'\($0)'" }.joined(separator: " or "))?")
                              + " known: \(known.joined(separator: ", "))")
        }
        let text = String(decoding: data, as: UTF8.self)
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw ConfigError("\(url.path): invalid JSON: \(error)") }
        try config.apply(json, source: url.path)
        try config.apply(overrides: overrides)
        try config.validate()
        return config
    }

    /// Applies `--set` overrides ("key=value"), in order.
    public mutating func apply(overrides: [String]) throws {
        for o in overrides {
            guard let eq = o.firstIndex(of: "=") else { throw ConfigError("--set \(o): expected key=value") }
            let key = String(o[..<eq]), value = String(o[o.index(after: eq)...])
            do { try set(key, text: value) } catch let e as ConfigError { throw ConfigError("--set: \(e.description)") }
        }
    }

    /// The names other trainers (TRL, Hugging Face, MaxText) give Simply's keys.
    static let synonyms: [String: String] = [
        "learning_rate": "train.lr", "lr_min": "train.min_lr", "min_learning_rate": "train.min_lr",
        "max_steps": "train.steps", "num_train_steps": "train.steps", "steps": "train.steps",
        "per_device_train_batch_size": "train.batch_size", "train_batch_size": "train.batch_size",
        "global_batch_size": "train.batch_size", "warmup": "train.warmup_steps", "num_warmup_steps": "train.warmup_steps",
        "max_grad_norm": "train.grad_clip", "gradient_clipping": "train.grad_clip", "clip_grad_norm": "train.grad_clip",
        "gradient_accumulation_steps": "train.grad_shards", "mode": "train.training_mode",
        "max_seq_length": "model.seq_len", "max_length": "model.seq_len", "seq_length": "model.seq_len",
        "max_target_length": "model.seq_len", "context_length": "model.seq_len",
        "hidden_size": "model.d_model", "emb_dim": "model.d_model", "num_hidden_layers": "model.n_layers",
        "num_layers": "model.n_layers", "num_attention_heads": "model.n_heads", "num_heads": "model.n_heads",
        "num_key_value_heads": "model.n_kv_heads", "num_kv_heads": "model.n_kv_heads",
        "intermediate_size": "model.d_ff", "mlp_dim": "model.d_ff", "save_steps": "checkpoint.interval",
        "save_total_limit": "checkpoint.keep_last", "dataset_name": "data.dataset", "train_file": "data.dataset",
    ]

    func suggestion(for key: String) -> String {
        guard key.utf8.count <= 64 else { return "" }
        let last = key.split(separator: ".").last.map(String.init) ?? key
        var close = Self.keyNames(schema).filter { editDistance($0, key) <= 3 || $0.hasSuffix("." + last) }
        if let s = Self.synonyms[last], !close.contains(s) { close.insert(s, at: 0) }
        return close.isEmpty ? "" : " (did you mean \(close.map { "'\($0)'" }.joined(separator: " or "))?)"
    }
}
