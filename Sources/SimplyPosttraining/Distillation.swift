import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun
import SimplyTrain

/// Knowledge distillation (Hinton et al. 2015): the student (the model the loop
/// trains, any size) learns from the labels and from a frozen teacher's
/// tempered distribution, on the same packed windows as pretraining:
///
///     loss per token = α · CE(label) + (1 − α) · T² · KL(softmax(teacher/T) ‖ softmax(student/T))
///
/// averaged over the global batch's tokens. The T² keeps the KD gradient's
/// scale independent of T. (Tunix and Google's Simply put α on the KD term;
/// here α weighs the labels, as `distill.alpha` documents.)
///
/// The teacher is `distill.teacher_checkpoint`: a checkpoint directory or a
/// run directory (its newest checkpoint); its model comes from its run's
/// config.json. It needs the student's vocabulary and tokenizer and a seq_len
/// at least the student's.
///
/// Metrics: `ce` and `kd` (the two terms' means, before α), `teacher_ce`.
public final class DistillObjective: TrainingObjective {
    let config: ExperimentConfig
    let windows: PretrainObjective
    public let teacher: Transformer
    /// The teacher for lane 1 when two shards run at once (same parameters).
    var teacherSibling: Transformer?
    public let teacherCheckpoint: URL
    /// The windows' data and the teacher: source "DATA + teacher CHECKPOINT",
    /// sha256 over the data's sha256 and the teacher's state_sha256.
    public let data: DataIdentity
    let alpha: Float, temperature: Float
    let ceScale: [Float]          // α at every position (the CE gradient's factor)
    let kdWeights: [Float]        // 1 / (batch_size · seq_len) at every position

    public init(_ context: ObjectiveContext) throws {
        config = context.config
        windows = try PretrainObjective(config: config, data: TrainingData.load(config))
        let p = try config.settings(DistillConfig.self)
        alpha = Float(p.alpha)
        temperature = Float(p.temperature)
        let frozen = try Self.loadTeacher(config, maxBatch: windows.rowsPerShard)
        let url = frozen.checkpoint
        teacherCheckpoint = url
        teacher = frozen.model
        // The teacher is part of what the bits are a function of: a resume or
        // verify against another teacher checkpoint fails as "the data changed".
        let d = windows.data
        data = DataIdentity(source: "\(d.source) + teacher \(url.path)",
                            sha256: sha256Hex(Array("\(d.sha256) teacher \(frozen.stateSHA256)".utf8)),
                            tokens: d.tokens, tokenizerName: d.tokenizerName)
        let n = windows.rowsPerShard * config.model.seqLen
        ceScale = Array(repeating: alpha, count: n)
        kdWeights = windows.shardWeights
    }

    /// The teacher (parameters only) from its checkpoint and its run's config,
    /// checked against the student's.
    static func loadTeacher(_ config: ExperimentConfig, maxBatch: Int) throws -> TrainedModel {
        let path = config.distill.teacherCheckpoint
        guard !path.isEmpty else {
            throw ConfigError("distill.teacher_checkpoint is empty: set it to a teacher run directory or checkpoint (e.g. runs/tiny)")
        }
        let loaded: TrainedModel
        do { loaded = try TrainedModel(URL(fileURLWithPath: path), maxBatch: maxBatch) } catch {
            throw ConfigError("distill.teacher_checkpoint \(path): \(error)")
        }
        let teacher = loaded.config
        let t = teacher.model, s = config.model
        if t.vocabSize != s.vocabSize {
            throw ConfigError("distill.teacher_checkpoint \(path) has model.vocab_size \(t.vocabSize), the student's model.vocab_size is \(s.vocabSize): they must be equal")
        }
        if t.seqLen < s.seqLen {
            throw ConfigError("distill.teacher_checkpoint \(path) has model.seq_len \(t.seqLen), less than the student's model.seq_len \(s.seqLen)")
        }
        if t.scoreHead {
            throw ConfigError("distill.teacher_checkpoint \(path) has model.score_head true: a teacher must be a language model")
        }
        if teacher.data.tokenizer != config.data.tokenizer {
            throw ConfigError("distill.teacher_checkpoint \(path) was trained with data.tokenizer \(teacher.data.tokenizer), the student uses data.tokenizer \(config.data.tokenizer)")
        }
        return loaded
    }

    public var rowsPerShard: Int { windows.rowsPerShard }
    public var tokensPerStep: Int { windows.tokensPerStep }
    public func dataCursor(step: Int) -> JSONValue { windows.dataCursor(step: step) }
    public func loadBatch(step: Int) -> String { windows.loadBatch(step: step) }

    /// Two shards may run at once: a shard's rows are its own arrays, and
    /// lane 1 gets a teacher of its own on the same parameters.
    public func prepareConcurrentShards() -> Bool {
        teacherSibling = Transformer(sharingParametersOf: teacher)
        return true
    }

    public func shardGradient(_ shard: Int, model: Transformer, parallel: Parallel) -> ShardResult {
        let t = config.model.seqLen, rows = rowsPerShard
        let teacher = model.lane == 1 ? teacherSibling! : self.teacher
        let (inputs, targets) = windows.shardRows(shard)
        let w = windows.shardWeights
        // The frozen teacher: logits only (its CE is a metric).
        let teacherCE = teacher.forward(tokens: inputs, targets: targets, weights: w, batch: rows, seqLen: t, parallel: parallel)
        // Student: the forward writes the CE gradient (mean over the global batch), scaled to α·CE,
        // then the kernel adds (1 − α)·∇KD.
        let ce = model.forward(tokens: inputs, targets: targets, weights: w, batch: rows, seqLen: t, parallel: parallel)
        if alpha != 1 { model.scaleLossGradient(ceScale, parallel: parallel) }
        let kd = model.addDistillationLoss(teacherLogits: teacher.logits, weights: kdWeights, temperature: temperature,
                                           gradientScale: 1 - alpha, parallel: parallel)
        model.backward(parallel: parallel)
        let loss = alpha * ce + (1 - alpha) * kd
        return ShardResult(loss: loss, metrics: [
            Metric("ce", Double(ce)),
            Metric("kd", Double(kd)),
            Metric("teacher_ce", Double(teacherCE)),
        ])
    }
}

/// Distillation's settings: a teacher run's checkpoint (directory),
/// temperature T and the weight α of the label cross-entropy:
/// α·CE + (1 − α)·T²·KL.
public struct DistillConfig: ConfigSettings, Equatable {
    public var teacherCheckpoint: String = ""
    public var temperature: Double = 2.0
    public var alpha: Double = 0.5
    public init() {}
    public static let section = "distill"
    public static let keys: [ConfigKey<DistillConfig>] = [
        .string("distill.teacher_checkpoint", \.teacherCheckpoint, "the teacher: a run or checkpoint directory with the same vocabulary"),
        .double("distill.temperature", \.temperature, range: 1e-3...1e3, "softmax temperature of the distillation KL"),
        .double("distill.alpha", \.alpha, range: 0...1, "weight of the label cross-entropy (1 − alpha weighs the KL to the teacher)"),
    ]
}

extension ExperimentConfig {
    /// The distill section (its defaults where the config has none).
    public var distill: DistillConfig {
        get { (try? settings(DistillConfig.self)) ?? DistillConfig() }
        set { setSettings(newValue) }
    }
}

extension Algorithm {
    public static let distill = Algorithm(name: "distill", summary: "a student from a teacher's logits, mixed with the label cross-entropy",
                                     section: ConfigSection(DistillConfig.self), needs: [.teacher],
                                     alwaysRecorded: true) { try DistillObjective($0) }
}
