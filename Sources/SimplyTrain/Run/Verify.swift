import Foundation
import SimplyCore
import SimplyRun

/// `simply verify`: checks every file of a run — config.json against its
/// recorded hash, hashes.jsonl line by line, LATEST and every checkpoint in
/// full (`RunCheckpoints`) — then replays the run from its config (or from
/// one of its checkpoints) and compares every step's hashes with
/// hashes.jsonl, and the replayed state with every checkpoint it passes.
public struct VerifyReport: Sendable {
    public let stepsChecked: Int
    public let checkpointsChecked: Int
    public let firstStep: Int
    public let lastStep: Int
    /// nil when every replayed step matched.
    public let divergence: String?
    /// What is damaged, one line each naming the file; empty when nothing is.
    public let problems: [String]
    /// Checkpoints that passed every integrity check.
    public let checkpointsIntact: Int
    public var passed: Bool { divergence == nil && problems.isEmpty }
}

public enum Verify {
    /// Checks and replays `runDirectory`. `from`: a checkpoint step to start
    /// from (nil: step 0). `steps`: stop after this many steps (nil: all
    /// recorded). `checkpointsOnly`: check the files, replay nothing.
    public static func run(_ runDirectory: RunDirectory, from: Int?, steps: Int?, threads: Int, checkpointsOnly: Bool = false,
                           algorithms: AlgorithmList = .pretraining,
                           log: (String) -> Void) throws -> VerifyReport {
        let lock = try RunLock(runDirectory.url, purpose: "verify")
        defer { withExtendedLifetime(lock) {} }
        let config = try ExperimentConfig.fromRunConfig(runDirectory.configURL, schema: algorithms.schema)
        let recordedRun = try runDirectory.recordedRun()
        if recordedRun["training_mode"]?.stringValue == "import" {
            throw RunError("\(runDirectory.configURL.path): an imported model (simply import), not a training run: no steps to verify")
        }
        let configHash = config.identitySHA256
        var problems: [String] = []
        if let change = runDirectory.configChange(configSHA256: configHash, recordedRun: recordedRun) { problems.append(change) }
        let hashes = try HashesRecord.read(runDirectory.hashesURL)
        problems += hashes.problems
        if hashes.partialLastLine {
            log("note: the last line of \(runDirectory.hashesURL.path) is cut short (a process stopped while writing it); it is not checked")
        }
        let scan = try RunCheckpoints.scan(runDirectory.url, configSHA256: configHash, recordedStates: hashes.states)
        problems += scan.problems
        if !scan.leftovers.isEmpty {
            log("note: leftovers of an interrupted checkpoint write (removed by the next one): \(scan.leftovers.joined(separator: ", "))")
        }
        if let last = hashes.lines.last?.step,
           let missing = scan.missingCheckpoint(lastRecordedStep: last, interval: config.checkpoint.interval) {
            problems.append(missing)
        }
        let intact = scan.entries.filter { $0.problem == nil }.count
        if checkpointsOnly || hashes.lines.isEmpty {
            if hashes.lines.isEmpty && !checkpointsOnly { problems.append("\(runDirectory.hashesURL.path): no steps recorded") }
            return VerifyReport(stepsChecked: 0, checkpointsChecked: 0, firstStep: 0, lastStep: 0, divergence: nil,
                                problems: problems, checkpointsIntact: intact)
        }

        let deterministic = recordedRun["deterministic"]?.boolValue ?? false
        if !deterministic {
            log("note: this run was not deterministic; verify only promises same-machine, same-thread-count replay")
        }
        let recorded = hashes.byStep
        let lastRecorded = hashes.lines.map(\.step).max() ?? 0
        let runtime = RuntimeOptions(threads: threads, deterministic: deterministic)
        let initCheckpoint = recordedRun["init_checkpoint"]?.stringValue.map { URL(fileURLWithPath: $0) }
        let objective = try algorithms.makeObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: initCheckpoint))
        let data = objective.data
        if let d = recordedRun["data_sha256"]?.stringValue, d != data.sha256 {
            throw RunError("\(runDirectory.configURL.path): run.data_sha256 is \(d), but \(data.source) hashes to \(data.sha256): the data changed")
        }
        let trainer = Trainer(config: config, objective: objective, runtime: runtime)
        // A run that started from a checkpoint replays from those weights.
        // (A LoRA run's checkpoints hold only its adapters: its base is loaded from any step.)
        if from == nil || trainer.model.adapters != nil {
            try reloadStartingWeights(into: trainer, initCheckpoint: initCheckpoint, recordedRun: recordedRun,
                                      configFile: runDirectory.configURL.path)
        }
        let checkpoints = scan.entries
        if let from {
            guard let c = checkpoints.first(where: { $0.step == from }) else {
                throw RunError("\(runDirectory.url.path)/checkpoints: no checkpoint at step \(from) (have: \(checkpoints.map { String($0.step) }.joined(separator: ", ")))")
            }
            if let p = c.problem { throw RunError("cannot replay from step \(from): \(p)") }
            let manifest = try Checkpoints.load(c.url, into: trainer.stateTensors(), expectedConfigSHA256: configHash)
            trainer.resume(atStep: manifest.step)
        }
        let firstStep = trainer.step + 1
        let end = min(lastRecorded, steps.map { trainer.step + $0 } ?? lastRecorded)
        var checked = 0, checkpointsChecked = 0
        func report(_ last: Int, _ divergence: String?) -> VerifyReport {
            VerifyReport(stepsChecked: checked, checkpointsChecked: checkpointsChecked, firstStep: firstStep, lastStep: last,
                         divergence: divergence, problems: problems, checkpointsIntact: intact)
        }
        while trainer.step < end {
            let r = trainer.trainStep()
            guard let line = recorded[r.step] else { return report(r.step, "step \(r.step): missing from hashes.jsonl") }
            if let d = try compare(record: r, recordedLine: line) {
                var message = "step \(r.step): \(d)"
                if d.hasPrefix("state_sha256"), let where_ = try locateStateDifference(trainer: trainer, after: r.step, until: end,
                                                                                        checkpoints: checkpoints) {
                    message += "; " + where_
                }
                return report(r.step, message)
            }
            checked += 1
            if let c = checkpoints.first(where: { $0.step == r.step }) {
                if let d = try compareWithCheckpoint(trainer: trainer, checkpoint: c) {
                    return report(r.step, "step \(r.step): checkpoint \(c.url.lastPathComponent): \(d)")
                }
                if c.problem == nil { checkpointsChecked += 1 }
            }
        }
        return report(trainer.step, nil)
    }

    /// Which field of the step record differs from the recorded line, or nil.
    static func compare(record: StepRecord, recordedLine: String) throws -> String? {
        guard let v = try? JSONValue.parse(recordedLine) else { return "recorded line is not JSON" }
        for (key, value) in [("batch_sha256", record.batchSHA256), ("loss_bits", hexBits(record.loss)),
                             ("state_sha256", record.stateSHA256)] {
            let want = v[key]?.stringValue ?? "missing"
            if want != value { return "\(key) differs (recorded \(want), replay \(value))" }
        }
        if record.hashLine.serialized() != recordedLine { return "line differs: recorded \(recordedLine)" }
        return nil
    }

    /// After a state mismatch: replay on to the next checkpoint and name the tensor that differs most there.
    static func locateStateDifference(trainer: Trainer, after step: Int, until end: Int,
                                      checkpoints: [RunCheckpoints.Entry]) throws -> String? {
        if let c = checkpoints.first(where: { $0.step == step }) {
            return try compareWithCheckpoint(trainer: trainer, checkpoint: c).map { "at this step's checkpoint, \($0)" }
        }
        guard let next = checkpoints.first(where: { $0.step > step && $0.step <= end }) else {
            return "no checkpoint at or after this step to name the tensor"
        }
        while trainer.step < next.step { _ = trainer.trainStep() }
        return try compareWithCheckpoint(trainer: trainer, checkpoint: next).map { "replayed on to checkpoint step \(next.step): \($0)" }
    }

    /// Compares the trainer's state with a checkpoint's stored values, tensor
    /// by tensor; names the tensor with the largest absolute difference. A
    /// damaged checkpoint (already reported) is compared as far as it can be read.
    static func compareWithCheckpoint(trainer: Trainer, checkpoint entry: RunCheckpoints.Entry) throws -> String? {
        let stored: [String: [Float]]
        // The state's own bytes plus room for the safetensors header bound what a shard may hold.
        let stateBytes = trainer.stateTensors().reduce(0) { $0 + 4 * $1.tensor.count }
        do { stored = try Checkpoints.readValues(entry.url, maxShardBytes: stateBytes + (1 << 20)) } catch {
            if entry.problem != nil { return "unreadable (\(error))" }
            throw error
        }
        var worst: (name: String, diff: Float, count: Int)? = nil
        for t in trainer.stateTensors() {
            guard let s = stored[t.name] else { return "tensor \(t.name) missing from the checkpoint" }
            guard s.count == t.tensor.count else { return "tensor \(t.name) has \(s.count) values, expected \(t.tensor.count)" }
            var maxDiff: Float = 0, differing = 0
            for i in 0..<s.count where s[i].bitPattern != t.tensor.pointer[i].bitPattern {
                differing += 1
                let d = abs(s[i] - t.tensor.pointer[i])
                maxDiff = max(maxDiff, d.isNaN ? .infinity : d)
            }
            if differing > 0, worst == nil || maxDiff > worst!.diff { worst = (t.name, maxDiff, differing) }
        }
        guard let w = worst else { return nil }
        return "tensor \(w.name) differs (\(w.count) value(s), largest absolute difference \(w.diff))"
    }
}

/// Golden hashes: the first `steps` hashes.jsonl lines of a named config in
/// deterministic mode, checked in under golden/ so that CI fails when any
/// change moves a bit. `tools/update-golden` rewrites them.
public struct GoldenHashes: Sendable {
    public let config: String
    public let overrides: [String]
    public let steps: Int
    public let lines: [String]

    public init(config: String, overrides: [String], steps: Int, lines: [String]) {
        self.config = config; self.overrides = overrides; self.steps = steps; self.lines = lines
    }

    /// `forWriting`: the hashes may be missing or short (tools/update-golden fills them).
    public static func read(_ url: URL, forWriting: Bool = false) throws -> GoldenHashes {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw RunError("\(url.path): missing") }
        let v: JSONValue
        do { v = try JSONValue.parse(String(decoding: data, as: UTF8.self)) } catch { throw RunError("\(url.path): invalid JSON: \(error)") }
        guard let config = v["config"]?.stringValue, let steps = v["steps"]?.intValue,
              case let .array(o)? = v["overrides"], case let .array(h)? = v["hashes"] else {
            throw RunError("\(url.path): needs config, overrides, steps and hashes")
        }
        let lines = h.compactMap { $0 == .null ? nil : $0.serialized() }
        guard forWriting || (steps > 0 && lines.count == steps) else {
            throw RunError("\(url.path): \(lines.count) hashes for \(steps) steps (tools/update-golden writes them)")
        }
        return GoldenHashes(config: config, overrides: o.compactMap(\.stringValue), steps: steps, lines: lines)
    }

    public func json(simplyVersion: String) -> JSONValue {
        .object([("config", .string(config)), ("overrides", .array(overrides.map { .string($0) })),
                 ("steps", .int(steps)), ("simply_version", .string(simplyVersion)),
                 ("hashes", .array(lines.compactMap { try? JSONValue.parse($0) }))])
    }

    /// Trains the config's first `steps` steps in memory (no run directory) and returns their lines.
    public static func compute(config name: String, overrides: [String], steps: Int, configDirectory: URL,
                               threads: Int, algorithms: AlgorithmList = .pretraining) throws -> [String] {
        let config = try ExperimentConfig.resolve(experiment: name, configDirectory: configDirectory, overrides: overrides,
                                                  schema: algorithms.schema)
        let runtime = RuntimeOptions(threads: threads, deterministic: true)
        let objective = try algorithms.makeObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil))
        let trainer = Trainer(config: config, objective: objective, runtime: runtime)
        return (0..<min(steps, config.train.steps)).map { _ in trainer.trainStep().hashLine.serialized() }
    }

    /// The first differing step, or nil.
    public func check(configDirectory: URL, threads: Int, algorithms: AlgorithmList = .pretraining) throws -> String? {
        let got = try Self.compute(config: config, overrides: overrides, steps: steps, configDirectory: configDirectory,
                                   threads: threads, algorithms: algorithms)
        for (i, (want, have)) in zip(lines, got).enumerated() where want != have {
            let r = try JSONValue.parse(have)
            let w = try JSONValue.parse(want)
            let field = ["batch_sha256", "loss_bits", "state_sha256"].first { r[$0] != w[$0] } ?? "line"
            return "step \(i + 1): \(field) differs (golden \(w[field]?.serialized() ?? "?"), now \(r[field]?.serialized() ?? "?"))"
        }
        return got.count == lines.count ? nil : "ran \(got.count) steps, golden has \(lines.count)"
    }
}
