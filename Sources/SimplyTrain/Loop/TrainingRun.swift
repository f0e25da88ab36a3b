import Foundation
import SimplyCore
import SimplyRun

/// What a finished (or stopped) run reports.
public struct RunSummary: Sendable {
    public let firstStep: Int          // the first step this invocation ran (1-based)
    public let lastStep: Int
    public let totalSteps: Int
    public let firstLoss: Float
    public let lastLoss: Float
    public let tokensPerSecond: Double
    public let seconds: Double
    /// Set when SIGTERM/SIGINT stopped the run early.
    public let stoppedBy: String?
    public let lastCheckpoint: URL?
}

/// How a run begins.
public enum RunStart: Sendable {
    /// A new run directory, weights from the init stream.
    case fresh
    /// Continue the run in the directory from its newest checkpoint, which
    /// must pass every check (`RunCheckpoints.resumePoint`); with `fallback`,
    /// from the newest one that does. A run with no checkpoint starts again.
    case resume(fallback: Bool)
    /// A new run directory whose weights come from a checkpoint (optimizer fresh, step 0).
    case fromCheckpoint(URL)
}

/// The `run` section of config.json: what, besides the config, the bits are a function of.
public func runSection(data: DataIdentity, runtime: RuntimeOptions, trainingMode: String,
                       initCheckpoint: (path: String, state: String)? = nil, loraBaseSHA256: String? = nil) -> JSONValue {
    var pairs: [(String, JSONValue)] = [
        ("simply_version", .string(Simply.version)),
        ("deterministic", .bool(runtime.deterministic)),
        ("training_mode", .string(trainingMode)),
        ("data_source", .string(data.source)),
        ("data_tokens", .int(data.tokens)),
        ("data_sha256", .string(data.sha256)),
        ("tokenizer", .string(data.tokenizerName)),
        ("config_sha256", .string("")),
    ]
    if let i = initCheckpoint {
        pairs.append(("init_checkpoint", .string(i.path)))
        pairs.append(("init_state_sha256", .string(i.state)))
    }
    if let b = loraBaseSHA256 { pairs.append(("lora_base_sha256", .string(b))) }
    return .object(pairs)
}

/// Loads the parameters of `checkpoint` into `trainer`'s model (not the
/// optimizer). Parameters the checkpoint lacks must be among the objective's
/// `freshParameters`; they keep their initialization.
public func loadInitialWeights(_ checkpoint: URL, into trainer: Trainer) throws -> CheckpointManifest {
    try Checkpoints.loadWeights(checkpoint, into: trainer.model, fresh: trainer.objective.freshParameters)
}

/// The weights a run starts from, loaded again for a resume or a replay and
/// checked against what the run recorded: its `--load_checkpoint` (same
/// state_sha256), and for a LoRA run the frozen base's bits (its checkpoint
/// holds only the adapters). Errors name both hashes.
public func reloadStartingWeights(into trainer: Trainer, initCheckpoint: URL?, recordedRun recorded: JSONValue,
                                  configFile: String) throws {
    if let c = initCheckpoint {
        let m = try loadInitialWeights(c, into: trainer)
        if let want = recorded["init_state_sha256"]?.stringValue, want != m.stateSHA256 {
            if trainer.model.adapters != nil {
                throw RunError("\(c.path): its state_sha256 is \(m.stateSHA256), but this LoRA run was trained on a base with state_sha256 \(want): the base changed")
            }
            throw RunError("\(c.path): its state_sha256 is \(m.stateSHA256), the run started from \(want): the initial checkpoint changed")
        }
    }
    guard trainer.model.adapters != nil else { return }
    guard let want = recorded["lora_base_sha256"]?.stringValue else {
        throw RunError("\(configFile): run.lora_base_sha256 is missing: a LoRA run records its base's hash")
    }
    let bits = trainer.model.baseSHA256()
    if bits != want {
        let name = initCheckpoint?.path ?? "the seeded base (train.seed)"
        throw RunError("\(name): its parameters hash to \(bits), but this LoRA run was trained on a base hashing to \(want): the base changed")
    }
}

/// Trains `config` in `runDirectory`, writing hashes.jsonl, metrics.jsonl and
/// checkpoints as it goes. For `.resume`, `config` must be the run's own
/// (`ExperimentConfig.fromRunConfig`). `algorithms` has the one of
/// `config.train.mode`.
///
/// With several `workers` every worker calls this with the same arguments:
/// they share the gradient shards and write checkpoints together; worker 0
/// alone creates the run directory and writes hashes.jsonl, metrics.jsonl and
/// progress. An error on any worker ends the whole job (`Workers.abort`), so
/// no worker is left waiting.
///
/// `crashBefore` and `failingWorker` (tests): stop a checkpoint write before
/// one of its disk steps as a crash would, or make one worker's share of
/// every checkpoint fail (`CheckpointOptions`).
public func runTraining(config: ExperimentConfig, runDirectory: RunDirectory, runtime: RuntimeOptions,
                        start: RunStart = .fresh, algorithms: AlgorithmList = .pretraining,
                        workers: Workers = .single, crashBefore: (@Sendable (CheckpointDiskStep) -> Bool)? = nil,
                        failingWorker: Int? = nil, log: (String) -> Void) throws -> RunSummary {
    if workers.size == 1 {
        return try trainRun(config: config, runDirectory: runDirectory, runtime: runtime, start: start,
                            algorithms: algorithms, workers: workers, crashBefore: crashBefore, failingWorker: failingWorker, log: log)
    }
    let phase = RunPhase()
    do {
        return try trainRun(config: config, runDirectory: runDirectory, runtime: runtime, start: start,
                            algorithms: algorithms, workers: workers, phase: phase, failingWorker: failingWorker,
                            log: workers.isRoot ? log : { _ in })
    } catch let e as Workers.SharedFailure {
        workers.abortTogether(e.description)
    } catch {
        // Setting up, every worker meets the same bad input (config, data, checkpoint): say it once.
        if phase.training { workers.abort("\(error)") } else { workers.abortTogether("\(error)") }
    }
}

final class RunPhase { var training = false }

func trainRun(config: ExperimentConfig, runDirectory: RunDirectory, runtime: RuntimeOptions, start: RunStart,
              algorithms: AlgorithmList, workers: Workers, phase: RunPhase = RunPhase(),
              crashBefore: (@Sendable (CheckpointDiskStep) -> Bool)? = nil, failingWorker: Int? = nil,
              log: (String) -> Void) throws -> RunSummary {
    let root = workers.isRoot
    let lora = try config.loraSettings()
    if lora.rank > config.model.dModel {
        throw ConfigError("lora.rank: \(lora.rank) is more than model.d_model (\(config.model.dModel)): a low-rank adapter needs r below the layer's width")
    }
    var initCheckpoint: URL? = nil
    switch start {
    case let .fromCheckpoint(url): initCheckpoint = try Checkpoints.resolve(url)
    case .resume: initCheckpoint = try runDirectory.recordedRun()["init_checkpoint"]?.stringValue.map { URL(fileURLWithPath: $0) }
    case .fresh: break
    }
    let objective = try algorithms.makeObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: initCheckpoint,
                                                    workers: workers))
    let data = objective.data
    let trainer = Trainer(config: config, objective: objective, runtime: runtime, workers: workers)
    let configHash = config.identitySHA256
    var lastCheckpoint: URL? = nil
    // A resumed deterministic run redoes the steps it recorded past its
    // checkpoint before it stopped: each must come out as recorded.
    var recordedPast: [Int: String] = [:]
    // A LoRA run's checkpoints name the frozen base they need (manifest extra.lora).
    var loraBase: LoRABase? = nil
    // One writer per run directory, for the whole run (worker 0 writes the logs).
    var lock: RunLock? = nil
    defer { withExtendedLifetime(lock) {} }

    switch start {
    case .fresh, .fromCheckpoint:
        var initInfo: (path: String, state: String)? = nil
        if let checkpoint = initCheckpoint {
            let manifest = try loadInitialWeights(checkpoint, into: trainer)
            initInfo = (checkpoint.path, manifest.stateSHA256)
            log("weights from \(checkpoint.path) (step \(manifest.step)); optimizer and step start fresh")
        }
        if lora.rank > 0 {
            loraBase = LoRABase(config: lora, checkpoint: initInfo?.path ?? "", stateSHA256: initInfo?.state ?? "",
                                sha256: trainer.model.baseSHA256())
        }
        guard case var .object(sections) = config.json() else { fatalError("config json is an object") }
        var run = runSection(data: data, runtime: runtime, trainingMode: config.train.mode, initCheckpoint: initInfo,
                             loraBaseSHA256: loraBase?.sha256)
        if case var .object(r) = run, let i = r.firstIndex(where: { $0.0 == "config_sha256" }) {
            r[i].1 = .string(configHash); run = .object(r)
        }
        sections.append(("run", run))
        if root {
            try runDirectory.prepare()
            lock = try RunLock(runDirectory.url, purpose: "train")
            try runDirectory.create(config: .object(sections))
        }
        workers.barrier()   // the run directory exists before anyone writes into it
    case let .resume(fallback):
        if root { lock = try RunLock(runDirectory.url, purpose: "train --resume") }
        let recorded = try runDirectory.recordedRun()
        if recorded["training_mode"]?.stringValue == "import" {
            throw RunError("\(runDirectory.configURL.path): an imported model (simply import), not a training run: nothing to resume; train from it with --load_checkpoint \(runDirectory.url.path)")
        }
        if let d = recorded["data_sha256"]?.stringValue, d != data.sha256 {
            throw RunError("\(runDirectory.configURL.path): run.data_sha256 is \(d), but \(data.source) now hashes to \(data.sha256): the data changed")
        }
        if recorded["deterministic"]?.boolValue != runtime.deterministic {
            throw RunError("\(runDirectory.configURL.path): run.deterministic is \(recorded["deterministic"]?.serialized() ?? "missing"); resume with the same mode")
        }
        if let change = runDirectory.configChange(configSHA256: configHash, recordedRun: recorded) { throw RunError(change) }
        // Worker 0 chooses the checkpoint (every one checked in full), so
        // every worker loads the same one; "" means step 0.
        var chosen = ""
        if root {
            let point = try resumePoint(runDirectory, configSHA256: configHash, interval: config.checkpoint.interval,
                                        fallback: fallback)
            for n in point.notes { log("note: \(n)") }
            chosen = point.checkpoint?.path ?? ""
            if runtime.deterministic { recordedPast = point.recordedAfter }
        }
        chosen = workers.broadcast(chosen)
        // Starting again needs the starting weights; a LoRA run's checkpoint also needs its frozen base.
        if chosen.isEmpty || lora.rank > 0 {
            try reloadStartingWeights(into: trainer, initCheckpoint: initCheckpoint, recordedRun: recorded,
                                      configFile: runDirectory.configURL.path)
        }
        if lora.rank > 0 {
            loraBase = LoRABase(config: lora, checkpoint: initCheckpoint?.path ?? "",
                                stateSHA256: recorded["init_state_sha256"]?.stringValue ?? "",
                                sha256: recorded["lora_base_sha256"]?.stringValue ?? "")
        }
        if chosen.isEmpty {
            if root { try runDirectory.truncateLogs(afterStep: 0) }
            log("starting again from step 0 in \(runDirectory.url.path)")
        } else {
            let checkpoint = URL(fileURLWithPath: chosen)
            let manifest = try Checkpoints.load(checkpoint, into: trainer.stateTensors(), expectedConfigSHA256: configHash)
            trainer.resume(atStep: manifest.step)
            if trainer.stateHash() != manifest.stateSHA256 {
                throw RunError("\(checkpoint.path)/manifest.json: state_sha256 does not match the loaded state")
            }
            if root { try runDirectory.truncateLogs(afterStep: manifest.step) }
            lastCheckpoint = checkpoint
            log("resuming at step \(manifest.step) from \(checkpoint.path)")
        }
    }

    let hashes: LineWriter? = root ? try LineWriter(runDirectory.hashesURL) : nil
    let metrics: LineWriter? = root ? try LineWriter(runDirectory.metricsURL) : nil
    var options = CheckpointOptions(shardBytes: config.checkpoint.shardMB << 20,
                                    compressionLevel: config.checkpoint.compressionLevel,
                                    keepLast: config.checkpoint.keepLast)
    options.failingWorker = failingWorker
    options.crashBefore = crashBefore
    func checkpoint() throws -> URL {
        try Checkpoints.write(runDirectory: runDirectory.url, step: trainer.step, tensors: trainer.stateTensors(),
                              configSHA256: configHash, dataCursor: trainer.dataCursor,
                              extra: .object([("simply_version", .string(Simply.version))] + (loraBase.map { [("lora", $0.json)] } ?? [])),
                              options: options,
                              workers: workers)
    }

    let trained = lora.rank > 0
        ? "\(trainer.model.trainableGrads.count) trained parameters (LoRA rank \(lora.rank) on \(lora.targets.map(\.rawValue).joined(separator: ","))) on a frozen base of \(trainer.model.layout.count)"
        : "\(trainer.model.layout.count) parameters"
    log("\(config.train.mode): \(trained); data: \(data.source), \(data.tokens) tokens; "
        + "\(runtime.deterministic ? "deterministic" : "fast (non-deterministic)") mode, \(runtime.threads) thread(s)"
        + (workers.size > 1 ? " per worker, \(workers.size) workers (MPI ranks) sharing \(config.train.gradShards) gradient shards" : ""))
    StopSignal.install()
    phase.training = true
    let tokensPerStep = Double(objective.tokensPerStep)
    let firstStep = trainer.step + 1
    let progress = Progress(total: config.train.steps, startStep: trainer.step)
    let start = monotonicSeconds()
    var first: Float = .nan, last: Float = .nan
    var stoppedBy: String? = nil
    let hashWriter = hashes.map { HashLineWriter($0, recorded: recordedPast, file: runDirectory.hashesURL.path) }
    while trainer.step < config.train.steps {
        let t0 = monotonicSeconds()
        let r = trainer.trainStep()
        let dt = monotonicSeconds() - t0
        try hashWriter?.write(r.hashLine)
        if r.step == firstStep { first = r.loss }
        last = r.loss
        if root {
            let comm: [(String, JSONValue)] = workers.size > 1 ? [("comm_sec", .double(trainer.communicationSeconds)), ("wait_sec", .double(trainer.waitSeconds))] : []
            try metrics?.write(.object([("step", .int(r.step)), ("loss", .double(Double(r.loss))), ("lr", .double(r.lr)),
                                    ("grad_norm", .double(r.gradNorm))] + r.metrics.map { ($0.name, .double($0.value)) }
                                   + [("tokens_per_sec", .double(tokensPerStep / dt)), ("step_sec", .double(dt))] + comm))
            progress.update(step: r.step, loss: r.loss, lr: r.lr, tokensPerSecond: tokensPerStep / dt)
        }
        // A signal on any worker stops every worker after this same step.
        let stop = workers.anyTrue(StopSignal.pending != nil)
        let interval = config.checkpoint.interval
        if r.step == config.train.steps || (interval > 0 && r.step % interval == 0) || stop {
            lastCheckpoint = try checkpoint()
        }
        if stop, trainer.step < config.train.steps {
            stoppedBy = StopSignal.pending != nil ? StopSignal.pendingName : "a signal to another worker"
            break
        }
    }
    let seconds = monotonicSeconds() - start
    let ran = max(0, trainer.step - firstStep + 1)
    return RunSummary(firstStep: firstStep, lastStep: trainer.step, totalSteps: config.train.steps,
                      firstLoss: first, lastLoss: last,
                      tokensPerSecond: ran > 0 ? tokensPerStep * Double(ran) / seconds : 0, seconds: seconds,
                      stoppedBy: stoppedBy, lastCheckpoint: lastCheckpoint)
}

/// hashes.jsonl's writer. A resumed run redoes the steps it recorded past
/// its checkpoint: a redone step's line must equal the recorded one, else
/// the record is put back as it was and the run stops, naming the field.
private final class HashLineWriter {
    let writer: LineWriter
    /// Lines a resumed run recorded before it stopped, by step: a redone step must match.
    let recorded: [Int: String]
    let file: String
    init(_ writer: LineWriter, recorded: [Int: String], file: String) {
        self.writer = writer; self.recorded = recorded; self.file = file
    }

    func write(_ line: JSONValue) throws {
        if let step = line["step"]?.intValue, let before = recorded[step], before != line.serialized() {
            let was = try? JSONValue.parse(before)
            let field = ["loss_bits", "batch_sha256", "state_sha256"].first { line[$0] != was?[$0] } ?? "line"
            // The record is put back as it was: the steps before this one matched it.
            for s in recorded.keys.sorted() where s >= step {
                if let r = recorded[s], let v = try? JSONValue.parse(r) { try? writer.write(v) }
            }
            throw RunError("\(file): resumed step \(step) gives \(field) \(line[field]?.stringValue ?? "?"), but the run "
                + "recorded \(was?[field]?.stringValue ?? before) before it stopped: the config, data or "
                + "Simply changed since (`simply verify` replays the run to find out)")
        }
        try writer.write(line)
    }
}

/// Where a resumed run starts: the checkpoint (nil: step 0), what to tell
/// the user, and the hashes.jsonl lines recorded past it (by step), which the
/// resumed run must redo exactly.
func resumePoint(_ runDirectory: RunDirectory, configSHA256: String, interval: Int,
                 fallback: Bool) throws -> (checkpoint: URL?, notes: [String], recordedAfter: [Int: String]) {
    let hashes = try HashesRecord.read(runDirectory.hashesURL)
    let scan = try RunCheckpoints.scan(runDirectory.url, configSHA256: configSHA256, recordedStates: hashes.states)
    let command = "simply train --experiment_dir \(runDirectory.url.path) --resume"
    let missing = hashes.lines.last.flatMap { scan.missingCheckpoint(lastRecordedStep: $0.step, interval: interval) }
    switch try scan.resumePoint(fallback: fallback, command: command, missing: missing) {
    case let .restart(notes):
        if fallback { try setAside(scan.entries, in: runDirectory) }
        return (nil, notes, [:])
    case let .checkpoint(entry, notes):
        // The lines up to the checkpoint are the record it was checked against: all there, in order.
        let kept = hashes.lines.prefix { $0.step <= entry.step }
        if kept.count != entry.step || !kept.enumerated().allSatisfy({ $0.offset + 1 == $0.element.step }) {
            throw RunError("cannot resume: \(hashes.problems.first ?? "\(runDirectory.hashesURL.path): the lines of steps 1-\(entry.step) are not all there")")
        }
        if fallback { try setAside(scan.entries.filter { $0.step > entry.step }, in: runDirectory) }
        if fallback || !notes.isEmpty {
            try Checkpoints.pointLatest(root: Checkpoints.checkpointsDirectory(runDirectory.url),
                                        name: entry.url.lastPathComponent, options: CheckpointOptions())
        }
        var after: [Int: String] = [:]
        for (step, line) in hashes.lines where step > entry.step && after[step] == nil { after[step] = line }
        return (entry.url, notes, after)
    }
}

/// Renames checkpoints a fallback passes over to step-N.rejected (kept for
/// inspection; never listed, resumed from or pruned).
func setAside(_ entries: [RunCheckpoints.Entry], in runDirectory: RunDirectory) throws {
    for e in entries {
        var target = e.url.appendingPathExtension("rejected")
        var k = 2
        while CheckpointFiles.exists(target.path) { target = e.url.appendingPathExtension("rejected-\(k)"); k += 1 }
        try CheckpointFiles.rename(e.url.path, target.path)
    }
}
