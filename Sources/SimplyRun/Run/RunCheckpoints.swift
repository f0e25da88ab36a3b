import Foundation
import SimplyCore

/// Every checkpoint of a run directory, each checked in full: LATEST, every
/// step-N directory's manifest (JSON, fields, step, shard names, sizes,
/// SHA-256), every shard's bytes and tensors, the state hash over them, the
/// config hash, and the state hash hashes.jsonl recorded for that step (so a
/// consistent forgery — another step's files under a re-signed manifest — is
/// still caught). What `simply verify` reports and where `--resume` starts.
public struct RunCheckpoints: Sendable {
    /// One step-N directory and what its full check found (nil: it passes).
    public struct Entry: Sendable {
        public let step: Int
        public let url: URL
        public let problem: String?
    }

    public enum Latest: Sendable, Equatable {
        case missing
        case names(step: Int)
        case damaged(String)
    }

    public let runDirectory: URL
    /// Every step-N directory, by ascending step.
    public let entries: [Entry]
    public let latest: Latest
    /// Leftovers of an interrupted write or prune (*.tmp), which the next write removes.
    public let leftovers: [String]

    /// Checks the checkpoints of `runDirectory` against `configSHA256` and the
    /// state hashes of hashes.jsonl (`recordedStates`, step → state_sha256).
    public static func scan(_ runDirectory: URL, configSHA256: String, recordedStates: [Int: String]) throws -> RunCheckpoints {
        let root = Checkpoints.checkpointsDirectory(runDirectory)
        guard CheckpointFiles.exists(root.path) else {
            return RunCheckpoints(runDirectory: runDirectory, entries: [], latest: .missing, leftovers: [])
        }
        guard CheckpointFiles.isDirectory(root.path) else { throw RunError("\(root.path): not a directory") }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: root.path) } catch {
            throw RunError("\(root.path): cannot list (\(error.localizedDescription))")
        }
        var entries: [Entry] = []
        for name in names {
            guard let step = Checkpoints.step(ofDirectoryName: name) else { continue }
            let url = root.appendingPathComponent(name)
            entries.append(Entry(step: step, url: url,
                                 problem: check(url, step: step, configSHA256: configSHA256, recorded: recordedStates[step])))
        }
        entries.sort { ($0.step, $0.url.lastPathComponent) < ($1.step, $1.url.lastPathComponent) }
        let leftovers = names.filter { $0.hasSuffix(".tmp") }.sorted()
        return RunCheckpoints(runDirectory: runDirectory, entries: entries, latest: latestState(runDirectory), leftovers: leftovers)
    }

    /// Everything wrong with one checkpoint directory, or nil.
    static func check(_ url: URL, step: Int, configSHA256: String, recorded: String?) -> String? {
        guard CheckpointFiles.isDirectory(url.path) else { return "\(url.path): not a directory" }
        let manifest: CheckpointManifest
        do { manifest = try Checkpoints.verify(url, expectedConfigSHA256: configSHA256) } catch { return "\(error)" }
        let manifestPath = url.appendingPathComponent(Checkpoints.manifestFileName).path
        guard let recorded else {
            return "\(manifestPath): step \(step) has no line in hashes.jsonl, so its state cannot be checked against the run's record"
        }
        guard recorded == manifest.stateSHA256 else {
            return "\(manifestPath): state_sha256 is \(manifest.stateSHA256), but hashes.jsonl recorded \(recorded) at step \(step): "
                + "these are not the run's weights of that step"
        }
        return nil
    }

    /// What LATEST names. Whether that checkpoint is complete and intact is
    /// its entry's problem, not LATEST's.
    static func latestState(_ runDirectory: URL) -> Latest {
        let root = Checkpoints.checkpointsDirectory(runDirectory)
        let latest = root.appendingPathComponent(Checkpoints.latestFileName)
        do {
            guard let name = try Checkpoints.latestName(latest), let step = Checkpoints.step(ofDirectoryName: name) else { return .missing }
            let dir = root.appendingPathComponent(name).path
            guard CheckpointFiles.isDirectory(dir) else {
                return .damaged("\(latest.path): names \(name), but \(dir) \(CheckpointFiles.exists(dir) ? "is not a directory" : "does not exist")")
            }
            return .names(step: step)
        } catch {
            return .damaged("\(error)")
        }
    }

    public var latestFile: String {
        Checkpoints.checkpointsDirectory(runDirectory).appendingPathComponent(Checkpoints.latestFileName).path
    }

    /// Every problem, one line each, naming the file: damaged checkpoints and
    /// a LATEST that is damaged, missing, or not the newest complete checkpoint.
    public var problems: [String] {
        var out = entries.compactMap(\.problem)
        let newest = entries.last
        switch latest {
        case let .damaged(message): out.append(message)
        case .missing where newest != nil:
            out.append("\(latestFile): missing, but \(newest!.url.lastPathComponent) exists "
                       + "(a checkpoint write stopped before LATEST was written; `simply train --resume` recovers it)")
        case let .names(step) where newest.map({ $0.step != step }) ?? false:
            out.append("\(latestFile): names step \(step), but the newest checkpoint is \(newest!.url.lastPathComponent) "
                       + "(a checkpoint write stopped before LATEST moved; `simply train --resume` recovers it)")
        default: break
        }
        return out
    }

    /// The newest checkpoint that passes every check.
    public var newestIntact: Entry? { entries.last { $0.problem == nil } }

    /// A deleted checkpoint, or nil. With `checkpoint.interval` I > 0 and
    /// steps recorded up to `lastRecordedStep`, the checkpoint of the last
    /// multiple of I before it was complete before any later step ran, and
    /// the newest checkpoint is never pruned: it, or a newer one, must be here.
    public func missingCheckpoint(lastRecordedStep last: Int, interval: Int) -> String? {
        guard interval > 0, last > interval else { return nil }
        let expected = (last - 1) / interval * interval
        let newest = entries.map(\.step).max() ?? 0
        guard newest < expected else { return nil }
        return "\(Checkpoints.checkpointsDirectory(runDirectory).path): hashes.jsonl records step \(last) and "
            + "checkpoint.interval is \(interval), so \(Checkpoints.directoryName(step: expected)) or a newer checkpoint "
            + "should be here; the newest is \(newest == 0 ? "none" : Checkpoints.directoryName(step: newest)) (deleted?)"
    }

    /// Where `--resume` starts.
    public enum ResumePoint: Sendable {
        /// This checkpoint; `notes` say why it is not simply LATEST's.
        case checkpoint(Entry, notes: [String])
        /// Step 0: the run has no checkpoint yet (killed before its first).
        case restart(notes: [String])
    }

    /// The newest checkpoint, when it passes every check (LATEST names it, or
    /// is missing or one behind because a write stopped before moving it).
    /// Otherwise an error that says why, names the newest intact older
    /// checkpoint and the command that uses it — which `fallback` does.
    /// `missing`: `missingCheckpoint(...)`, refused like a damaged checkpoint.
    public func resumePoint(fallback: Bool, command: String, missing: String? = nil) throws -> ResumePoint {
        var notes: [String] = []
        var refusal: String? = nil
        switch (latest, entries.last) {
        case (.missing, nil):
            if let missing { refusal = missing; break }
            return .restart(notes: ["no checkpoint yet (the run stopped before its first): starting again from step 0"])
        case let (.damaged(message), _):
            refusal = message
        case let (.missing, newest?):
            notes.append("\(latestFile) is missing (a checkpoint write stopped before it was written); "
                         + "the newest checkpoint is \(newest.url.lastPathComponent)")
        case let (.names(step), newest?) where newest.step != step:
            notes.append("\(latestFile) names step \(step), but \(newest.url.lastPathComponent) is newer "
                         + "(a checkpoint write stopped before LATEST moved)")
        default: break
        }
        if refusal == nil, let newest = entries.last {
            if let problem = newest.problem ?? missing { refusal = problem } else { return .checkpoint(newest, notes: notes) }
        }
        let reason = refusal ?? "no checkpoint"
        let good = newestIntact
        if fallback {
            if let good { return .checkpoint(good, notes: notes + ["\(reason); falling back to \(good.url.lastPathComponent)"]) }
            return .restart(notes: notes + ["\(reason); no checkpoint passes every check: starting again from step 0"])
        }
        let older = good.map { "newest intact checkpoint is \($0.url.lastPathComponent)" }
            ?? "run has no intact checkpoint (it would start again from step 0)"
        throw RunError("cannot resume: \(reason). The \(older); to use it: \(command) --fallback")
    }
}

extension Checkpoints {
    /// Reads and checks everything `read` checks (manifest, shards, tensors,
    /// state hash) without keeping the tensors.
    @discardableResult
    public static func verify(_ checkpoint: URL, expectedConfigSHA256: String?) throws -> CheckpointManifest {
        let m = try manifest(checkpoint, expectedConfigSHA256: expectedConfigSHA256)
        try readShards(checkpoint, m) { _ in nil }
        return m
    }
}
