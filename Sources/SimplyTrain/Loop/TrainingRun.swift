import Foundation
import SimplyCore

/// What a finished run reports.
public struct RunSummary: Sendable {
    public let steps: Int
    public let firstLoss: Float
    public let lastLoss: Float
    public let tokensPerSecond: Double
    public let seconds: Double
}

/// The `run` section of config.json: what, besides the config, the bits are a function of.
public func runSection(data: TrainingData, runtime: RuntimeOptions, trainingMode: String) -> JSONValue {
    .object([("simply_version", .string(Simply.version)),
             ("deterministic", .bool(runtime.deterministic)),
             ("training_mode", .string(trainingMode)),
             ("data_source", .string(data.source)),
             ("data_tokens", .int(data.tokens.count)),
             ("data_sha256", .string(data.sha256))])
}

/// Creates the run directory and trains for `config.train.steps` steps,
/// writing hashes.jsonl and metrics.jsonl as it goes.
public func runTraining(config: ExperimentConfig, runDirectory: RunDirectory, runtime: RuntimeOptions,
                        log: (String) -> Void) throws -> RunSummary {
    let data = try TrainingData.load(config)
    guard case var .object(sections) = config.json() else { fatalError("config json is an object") }
    sections.append(("run", runSection(data: data, runtime: runtime, trainingMode: "pretrain")))
    let trainer = try Trainer(config: config, data: data, runtime: runtime)
    try runDirectory.create(config: .object(sections))
    let hashes = try LineWriter(runDirectory.hashesURL)
    let metrics = try LineWriter(runDirectory.metricsURL)

    log("model: \(trainer.model.layout.count) parameters; data: \(data.source), \(data.tokens.count) tokens; "
        + "\(runtime.deterministic ? "deterministic" : "fast (non-deterministic)") mode, \(runtime.threads) thread(s)")
    let tokensPerStep = Double(config.train.batchSize * config.model.seqLen)
    let progress = Progress(total: config.train.steps)
    let start = monotonicSeconds()
    var first: Float = .nan, last: Float = .nan
    while trainer.step < config.train.steps {
        let t0 = monotonicSeconds()
        let r = trainer.trainStep()
        let dt = monotonicSeconds() - t0
        if r.step == 1 { first = r.loss }
        last = r.loss
        hashes.write(r.hashLine)
        metrics.write(.object([("step", .int(r.step)), ("loss", .double(Double(r.loss))), ("lr", .double(r.lr)),
                               ("grad_norm", .double(r.gradNorm)), ("tokens_per_sec", .double(tokensPerStep / dt)),
                               ("step_sec", .double(dt))]))
        progress.update(step: r.step, loss: r.loss, lr: r.lr, tokensPerSecond: tokensPerStep / dt)
    }
    let seconds = monotonicSeconds() - start
    return RunSummary(steps: config.train.steps, firstLoss: first, lastLoss: last,
                      tokensPerSecond: tokensPerStep * Double(config.train.steps) / seconds, seconds: seconds)
}
