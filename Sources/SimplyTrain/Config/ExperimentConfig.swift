import Foundation
import SimplyCore
import SimplyModel

/// Training hyper-parameters. Defaults follow nanoGPT / llm.c small-model practice.
public struct TrainConfig: Sendable, Equatable {
    public var steps = 200
    public var batchSize = 8
    /// Virtual gradient shards per global batch (DESIGN.md contract 3). Each is
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
    /// pretrain, sft, reward, dpo or distill (`--training_mode`).
    public var mode = "pretrain"
    public init() {}
}

public enum TrainingMode: String, CaseIterable, Sendable {
    case pretrain, sft, reward, dpo, distill, grpo, ppo
}

/// Post-training hyper-parameters; defaults are TRL's (REFERENCE.md).
public struct PosttrainConfig: Sendable, Equatable {
    /// Reward model: −log σ(r_c − r_r − margin) + center_coefficient · mean((r_c + r_r)²).
    public var rewardMargin = 0.0
    public var rewardCenterCoefficient = 0.0
    /// DPO: β, loss sigmoid | ipo | hinge, label smoothing ε (sigmoid only).
    public var dpoBeta = 0.1
    public var dpoLoss = "sigmoid"
    public var dpoLabelSmoothing = 0.0
    /// RPO (Pang et al. 2024; TRL `rpo_alpha`): adds α · the mean NLL of the
    /// chosen completions' tokens, which keeps their log-probabilities up. 0: off.
    public var dpoRPOAlpha = 0.0
    /// Distillation: a teacher run's checkpoint (directory), temperature T and
    /// the weight α of the label cross-entropy: α·CE + (1 − α)·T²·KL.
    public var distillTeacher = ""
    public var distillTemperature = 2.0
    public var distillAlpha = 0.5
    /// GRPO (TRL `GRPOConfig` names): G completions per prompt, sampled with
    /// temperature / top-k / top-p up to max_completion_length tokens; k3 KL
    /// weight β (Tunix and DeepSeekMath's 0.04; TRL's default is 0); clip ε
    /// and ε_high; loss aggregation grpo | dr_grpo | dapo; reward scaling
    /// group | batch | none; ratio per token or per sequence (GSPO); the
    /// rewards, comma-separated `name` or `name:weight`.
    public var grpoNumGenerations = 8
    public var grpoMaxCompletionLength = 16
    public var grpoTemperature = 1.0
    public var grpoTopK = 0
    public var grpoTopP = 1.0
    public var grpoBeta = 0.04
    public var grpoEpsilon = 0.2
    public var grpoEpsilonHigh = 0.2
    public var grpoLossType = "dapo"
    public var grpoScaleRewards = "group"
    public var grpoImportanceSamplingLevel = "token"
    public var grpoRewards = "exact_match"
    /// DAPO's dynamic sampling (Yu et al. 2025), as a filter: groups whose
    /// rewards are all equal (zero advantage) leave the batch, so the loss is
    /// normalized over the groups that carry a signal. false: TRL's default.
    public var grpoDynamicSampling = false
    /// μ: optimizer steps on each rollout, the clipped ratio against the
    /// rollout's log-probabilities (TRL `num_iterations`; 1: TRL's default).
    public var grpoNumIterations = 1
    /// A reward-model run or checkpoint for the `reward_model` reward.
    public var grpoRewardModel = ""
    /// PPO (TRL `PPOConfig` names): `num_ppo_epochs` passes over each rollout
    /// of train.batch_size completions in `num_mini_batches` minibatches (one
    /// optimizer step each); per-token KL penalty kl_coef (k1 or k3) to the
    /// starting weights; GAE γ, λ; clip ranges of the policy ratio and the
    /// value; value-loss weight vf_coef; completions of up to response_length
    /// tokens at `temperature`; the rewards as grpo.rewards; missing_eos_penalty
    /// subtracted from the score of a completion that did not stop (0: off).
    public var ppoNumEpochs = 4
    public var ppoNumMiniBatches = 1
    public var ppoKLCoef = 0.05
    public var ppoKLEstimator = "k1"
    public var ppoCliprange = 0.2
    public var ppoCliprangeValue = 0.2
    public var ppoVFCoef = 0.1
    public var ppoGamma = 1.0
    public var ppoLam = 0.95
    public var ppoWhitenRewards = false
    public var ppoResponseLength = 16
    public var ppoTemperature = 1.0
    public var ppoRewards = "reward_model"
    public var ppoRewardModel = ""
    public var ppoMissingEOSPenalty = 0.0
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
public struct ExperimentConfig: Sendable, Equatable {
    public var model: ModelConfig
    public var train = TrainConfig()
    public var data = DataConfig()
    public var posttrain = PosttrainConfig()
    public var checkpoint = CheckpointConfig()

    public init(model: ModelConfig) { self.model = model }

    public static var defaults: ExperimentConfig {
        ExperimentConfig(model: ModelConfig(vocabSize: 512, dModel: 128, nLayers: 4, nHeads: 4,
                                            nKVHeads: 2, dFF: 384, seqLen: 128, tieEmbeddings: true))
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One settable key: its dotted name, how to read it, and how to set it from JSON.
struct ConfigKey: Sendable {
    let name: String
    /// The values it accepts, for `simply config keys`.
    var accepts: String = ""
    let get: @Sendable (ExperimentConfig) -> JSONValue
    let set: @Sendable (inout ExperimentConfig, JSONValue) throws -> Void
}

/// An integer key in min...max. Every integer key has an upper bound, so no
/// size read from a config can overflow the arithmetic that uses it.
private func intKey(_ name: String, _ kp: WritableKeyPath<ExperimentConfig, Int> & Sendable, min: Int = 0,
                    max: Int) -> ConfigKey {
    ConfigKey(name: name, accepts: "integer \(min)...\(max)", get: { .int($0[keyPath: kp]) }, set: { c, v in
        guard let i = v.intValue else {
            if case let .number(text) = v, let d = Double(text), d == d.rounded(), d.magnitude < 1e300 {
                throw ConfigError("\(name): must be an integer in \(min)...\(max), got \(text)")
            }
            throw ConfigError("\(name): expected an integer, got \(brief(v.serialized()))")
        }
        guard i >= min, i <= max else { throw ConfigError("\(name): must be in \(min)...\(max), got \(i)") }
        c[keyPath: kp] = i
    })
}

private func doubleKey(_ name: String, _ kp: WritableKeyPath<ExperimentConfig, Double> & Sendable,
                       range: ClosedRange<Double> = -1e300...1e300) -> ConfigKey {
    ConfigKey(name: name, accepts: range == -1e300...1e300 ? "number" : "number \(range.lowerBound)...\(range.upperBound)", get: { .double($0[keyPath: kp]) }, set: { c, v in
        guard let d = v.doubleValue, d.isFinite else { throw ConfigError("\(name): expected a number, got \(brief(v.serialized()))") }
        guard range.contains(d) else { throw ConfigError("\(name): must be in \(range.lowerBound)...\(range.upperBound), got \(d)") }
        c[keyPath: kp] = d
    })
}

private func floatKey(_ name: String, _ kp: WritableKeyPath<ExperimentConfig, Float> & Sendable) -> ConfigKey {
    ConfigKey(name: name, accepts: "number ≥ 0", get: { .double(Double($0[keyPath: kp])) }, set: { c, v in
        guard let d = v.doubleValue, d.isFinite, d >= 0 else { throw ConfigError("\(name): expected a non-negative number, got \(brief(v.serialized()))") }
        c[keyPath: kp] = Float(d)
    })
}

private func boolKey(_ name: String, _ kp: WritableKeyPath<ExperimentConfig, Bool> & Sendable) -> ConfigKey {
    ConfigKey(name: name, accepts: "true, false", get: { .bool($0[keyPath: kp]) }, set: { c, v in
        guard let b = v.boolValue else { throw ConfigError("\(name): expected true or false, got \(brief(v.serialized()))") }
        c[keyPath: kp] = b
    })
}

private func stringKey(_ name: String, _ kp: WritableKeyPath<ExperimentConfig, String> & Sendable) -> ConfigKey {
    ConfigKey(name: name, accepts: "text", get: { .string($0[keyPath: kp]) }, set: { c, v in
        guard let s = v.stringValue else { throw ConfigError("\(name): expected a string, got \(brief(v.serialized()))") }
        c[keyPath: kp] = s
    })
}

/// A string key that takes one of `choices`.
private func choiceKey(_ name: String, _ kp: WritableKeyPath<ExperimentConfig, String> & Sendable,
                       _ choices: [String]) -> ConfigKey {
    ConfigKey(name: name, accepts: choices.joined(separator: ", "), get: { .string($0[keyPath: kp]) }, set: { c, v in
        guard let s = v.stringValue, choices.contains(s) else {
            throw ConfigError("\(name): expected one of \(choices.joined(separator: ", ")), got \(brief(v.serialized()))")
        }
        c[keyPath: kp] = s
    })
}

/// Upper bounds of the train keys (the model keys' are `ModelConfig`'s).
let maxSteps = 1_000_000_000
let maxBatchSize = 1 << 20

/// A key or value quoted in an error: at most 80 characters, so the error stays one short line.
func brief(_ text: String) -> String {
    let oneLine = text.replacingOccurrences(of: "\n", with: "\\n")
    return oneLine.count <= 80 ? oneLine : String(oneLine.prefix(77)) + "..."
}

private func gib(_ bytes: Double) -> String { String(format: "%.1f GiB", bytes / Double(1 << 30)) }

extension ExperimentConfig {
    /// Every key, in the order `simply train --help-config` lists them.
    static let keys: [ConfigKey] = [
        intKey("model.vocab_size", \.model.vocabSize, min: 1, max: ModelConfig.maxVocabSize),
        intKey("model.d_model", \.model.dModel, min: 1, max: ModelConfig.maxDModel),
        intKey("model.n_layers", \.model.nLayers, min: 1, max: ModelConfig.maxLayers),
        intKey("model.n_heads", \.model.nHeads, min: 1, max: ModelConfig.maxDModel),
        intKey("model.n_kv_heads", \.model.nKVHeads, min: 1, max: ModelConfig.maxDModel),
        intKey("model.d_ff", \.model.dFF, min: 1, max: ModelConfig.maxDFF),
        intKey("model.seq_len", \.model.seqLen, min: 1, max: ModelConfig.maxSeqLen),
        boolKey("model.tie_embeddings", \.model.tieEmbeddings),
        boolKey("model.score_head", \.model.scoreHead),
        doubleKey("model.rope_theta", \.model.ropeTheta, range: 1...1e12),
        floatKey("model.norm_eps", \.model.normEps),
        floatKey("model.init_std", \.model.initStd),
        intKey("train.steps", \.train.steps, min: 1, max: maxSteps),
        intKey("train.batch_size", \.train.batchSize, min: 1, max: maxBatchSize),
        intKey("train.grad_shards", \.train.gradShards, min: 1, max: maxBatchSize),
        doubleKey("train.lr", \.train.lr, range: 0...10),
        doubleKey("train.min_lr", \.train.minLR, range: 0...10),
        intKey("train.warmup_steps", \.train.warmupSteps, max: maxSteps),
        doubleKey("train.weight_decay", \.train.weightDecay, range: 0...10),
        doubleKey("train.beta1", \.train.beta1, range: 0...0.999999),
        doubleKey("train.beta2", \.train.beta2, range: 0...0.999999999),
        doubleKey("train.eps", \.train.eps, range: 0...1),
        doubleKey("train.grad_clip", \.train.gradClip, range: 0...1e9),
        ConfigKey(name: "train.seed", accepts: "integer 0...\(UInt64.max)", get: { .number(String($0.train.seed)) }, set: { c, v in
            guard case let .number(s) = v, let u = UInt64(s) else {
                throw ConfigError("train.seed: expected a non-negative integer, got \(brief(v.serialized()))")
            }
            c.train.seed = u
        }),
        ConfigKey(name: "train.training_mode", accepts: TrainingMode.allCases.map(\.rawValue).joined(separator: ", "), get: { .string($0.train.mode) }, set: { c, v in
            guard let s = v.stringValue, TrainingMode(rawValue: s) != nil else {
                throw ConfigError("train.training_mode: expected one of \(TrainingMode.allCases.map(\.rawValue).joined(separator: ", ")), got \(brief(v.serialized()))")
            }
            c.train.mode = s
        }),
        stringKey("data.dataset", \.data.dataset),
        intKey("data.synthetic_bytes", \.data.syntheticBytes, min: 1024, max: 1 << 32),
        stringKey("data.tokenizer", \.data.tokenizer),
        doubleKey("reward.margin", \.posttrain.rewardMargin),
        doubleKey("reward.center_coefficient", \.posttrain.rewardCenterCoefficient, range: 0...1e6),
        doubleKey("dpo.beta", \.posttrain.dpoBeta, range: 1e-6...1e6),
        choiceKey("dpo.loss_type", \.posttrain.dpoLoss, ["sigmoid", "ipo", "hinge"]),
        doubleKey("dpo.label_smoothing", \.posttrain.dpoLabelSmoothing, range: 0...0.5),
        doubleKey("dpo.rpo_alpha", \.posttrain.dpoRPOAlpha, range: 0...1e3),
        stringKey("distill.teacher_checkpoint", \.posttrain.distillTeacher),
        doubleKey("distill.temperature", \.posttrain.distillTemperature, range: 1e-3...1e3),
        doubleKey("distill.alpha", \.posttrain.distillAlpha, range: 0...1),
        intKey("grpo.num_generations", \.posttrain.grpoNumGenerations, min: 2, max: 1 << 12),
        intKey("grpo.max_completion_length", \.posttrain.grpoMaxCompletionLength, min: 1, max: ModelConfig.maxSeqLen),
        doubleKey("grpo.temperature", \.posttrain.grpoTemperature, range: 0...100),
        intKey("grpo.top_k", \.posttrain.grpoTopK, max: ModelConfig.maxVocabSize),
        doubleKey("grpo.top_p", \.posttrain.grpoTopP, range: 1e-6...1),
        doubleKey("grpo.beta", \.posttrain.grpoBeta, range: 0...1e3),
        doubleKey("grpo.epsilon", \.posttrain.grpoEpsilon, range: 0...1),
        doubleKey("grpo.epsilon_high", \.posttrain.grpoEpsilonHigh, range: 0...100),
        choiceKey("grpo.loss_type", \.posttrain.grpoLossType, ["grpo", "dr_grpo", "dapo"]),
        choiceKey("grpo.scale_rewards", \.posttrain.grpoScaleRewards, ["group", "batch", "none"]),
        choiceKey("grpo.importance_sampling_level", \.posttrain.grpoImportanceSamplingLevel, ["token", "sequence"]),
        stringKey("grpo.rewards", \.posttrain.grpoRewards),
        boolKey("grpo.dynamic_sampling", \.posttrain.grpoDynamicSampling),
        intKey("grpo.num_iterations", \.posttrain.grpoNumIterations, min: 1, max: 1 << 12),
        stringKey("grpo.reward_model", \.posttrain.grpoRewardModel),
        intKey("ppo.num_ppo_epochs", \.posttrain.ppoNumEpochs, min: 1, max: 1 << 12),
        intKey("ppo.num_mini_batches", \.posttrain.ppoNumMiniBatches, min: 1, max: maxBatchSize),
        doubleKey("ppo.kl_coef", \.posttrain.ppoKLCoef, range: 0...1e3),
        choiceKey("ppo.kl_estimator", \.posttrain.ppoKLEstimator, ["k1", "k3"]),
        doubleKey("ppo.cliprange", \.posttrain.ppoCliprange, range: 0...1),
        doubleKey("ppo.cliprange_value", \.posttrain.ppoCliprangeValue, range: 0...1e6),
        doubleKey("ppo.vf_coef", \.posttrain.ppoVFCoef, range: 0...1e3),
        doubleKey("ppo.gamma", \.posttrain.ppoGamma, range: 0...1),
        doubleKey("ppo.lam", \.posttrain.ppoLam, range: 0...1),
        boolKey("ppo.whiten_rewards", \.posttrain.ppoWhitenRewards),
        intKey("ppo.response_length", \.posttrain.ppoResponseLength, min: 1, max: ModelConfig.maxSeqLen),
        doubleKey("ppo.temperature", \.posttrain.ppoTemperature, range: 0...100),
        stringKey("ppo.rewards", \.posttrain.ppoRewards),
        stringKey("ppo.reward_model", \.posttrain.ppoRewardModel),
        doubleKey("ppo.missing_eos_penalty", \.posttrain.ppoMissingEOSPenalty, range: 0...1e6),
        intKey("checkpoint.interval", \.checkpoint.interval, max: maxSteps),
        intKey("checkpoint.keep_last", \.checkpoint.keepLast, max: 1 << 20),
        intKey("checkpoint.shard_mb", \.checkpoint.shardMB, min: 1, max: 1 << 20),
        intKey("checkpoint.compression_level", \.checkpoint.compressionLevel, min: 1, max: CheckpointZstd.levels.upperBound),
    ]

    public static var keyNames: [String] { keys.map(\.name) }

    /// Every key: name, its value in `defaults`, what it accepts, one line of meaning.
    public static var keyReference: [(name: String, value: String, accepts: String, meaning: String)] {
        let d = ExperimentConfig.defaults
        return keys.map { k in
            let v = k.get(d)
            return (k.name, v.stringValue ?? v.serialized(), k.accepts, keyHelp[k.name] ?? "")
        }
    }

    /// Sets one dotted key from JSON; unknown keys and bad values name the key.
    public mutating func set(_ key: String, _ value: JSONValue) throws {
        guard let k = Self.keys.first(where: { $0.name == key }) else {
            throw ConfigError("unknown config key '\(brief(key))'" + Self.suggestion(for: key))
        }
        try k.set(&self, value)
    }

    /// Sets one dotted key from command-line text (`--set key=value`).
    public mutating func set(_ key: String, text: String) throws {
        guard let k = Self.keys.first(where: { $0.name == key }) else {
            throw ConfigError("unknown config key '\(brief(key))'" + Self.suggestion(for: key))
        }
        // Strings are taken as they are; everything else is read as JSON.
        if case .string = k.get(self) {
            try k.set(&self, .string(text))
        } else {
            let v = (try? JSONValue.parse(text)) ?? .string(text)
            try k.set(&self, v)
        }
    }

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
                + "\(gib(available)): lower model.d_model, model.n_layers, model.vocab_size, model.seq_len or train.batch_size")
        }
    }

    /// A lower bound of what training this config allocates, in bytes:
    /// parameters, gradients and AdamW m and v (4 floats per parameter), one
    /// more gradient buffer for the second shard lane, and the activations of
    /// the two lanes' models for one gradient shard's rows. Post-training
    /// objectives add reference models and samplers on top.
    public var memoryEstimate: (state: Double, activations: Double, total: Double) {
        let p = model.parameterCountEstimate
        let rows = max(1, train.batchSize / max(1, train.gradShards))
        let state = 4 * 5 * p
        // The built-in corpus: its text and one Int32 token per byte at most.
        let corpus = data.dataset == "builtin:synthetic" ? 5 * Double(data.syntheticBytes) : 0
        let activations = 2 * model.activationBytesEstimate(maxBatch: rows) + corpus
        return (state, activations, state + activations)
    }

    /// The resolved config as nested JSON ({"data": {...}, "model": {...}, "train": {...}}).
    public func json() -> JSONValue {
        var sections: [(String, [(String, JSONValue)])] = []
        for k in Self.keys {
            let parts = k.name.split(separator: ".", maxSplits: 1).map(String.init)
            if let i = sections.firstIndex(where: { $0.0 == parts[0] }) {
                sections[i].1.append((parts[1], k.get(self)))
            } else {
                sections.append((parts[0], [(parts[1], k.get(self))]))
            }
        }
        return .object(sections.map { ($0.0, .object($0.1)) })
    }

    /// SHA-256 of the sections that decide the bits (model, train, data): what a
    /// checkpoint records and a resume checks.
    public var identitySHA256: String {
        guard case let .object(sections) = json() else { return "" }
        return sha256Hex(Array(JSONValue.object(sections.filter { $0.0 != "checkpoint" }).serialized().utf8))
    }

    /// Reads a run's config.json back (its `run` section is the caller's).
    public static func fromRunConfig(_ url: URL) throws -> ExperimentConfig {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ConfigError("\(url.path): missing (not a run directory?)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw ConfigError("\(url.path): invalid JSON: \(error)")
        }
        guard case let .object(pairs) = json else { throw ConfigError("\(url.path): expected a JSON object") }
        var config = ExperimentConfig.defaults
        try config.apply(.object(pairs.filter { $0.0 != "run" }), source: url.path)
        try config.validate()
        return config
    }

    /// Loads configs/NAME.json (or a path), then applies `overrides` ("key=value").
    public static func resolve(experiment: String, configDirectory: URL, overrides: [String]) throws -> ExperimentConfig {
        var config = ExperimentConfig.defaults
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

    static func suggestion(for key: String) -> String {
        guard key.utf8.count <= 64 else { return "" }
        let last = key.split(separator: ".").last.map(String.init) ?? key
        var close = keys.map(\.name).filter { editDistance($0, key) <= 3 || $0.hasSuffix("." + last) }
        if let s = synonyms[last], !close.contains(s) { close.insert(s, at: 0) }
        return close.isEmpty ? "" : " (did you mean \(close.map { "'\($0)'" }.joined(separator: " or "))?)"
    }
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    if a.isEmpty { return b.count }
    var prev = Array(0...b.count)
    for i in 1...a.count {
        var cur = [i] + Array(repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where j <= b.count {
            cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[b.count]
}
