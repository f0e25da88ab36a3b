import Foundation
import SimplyCore
import SimplyRun

/// A checkpoint written by several workers, in the one format (docs/design.md,
/// Checkpoints): shards are still cut by size, shard s is written by worker
/// s mod N, and worker 0 alone commits — it checks every worker's report,
/// writes the manifest, renames step-N.tmp to step-N and moves LATEST. A
/// worker that fails sends its error instead of a report; then nothing is
/// committed (step-N.tmp is removed) and every worker throws, naming it.
extension Checkpoints {
    /// Writes the state as checkpoint `step` of the run. With several
    /// workers every worker calls this with the same (replicated) tensors:
    /// each writes its share of the shards, worker 0 commits the manifest and
    /// LATEST (`writeCooperatively`). The files are the same either way.
    @discardableResult
    public static func write(runDirectory: URL, step: Int, tensors: [CheckpointTensor], configSHA256: String,
                             dataCursor: JSONValue, extra: JSONValue, options: CheckpointOptions = CheckpointOptions(),
                             workers: Workers) throws -> URL {
        guard workers.size > 1 else {
            return try write(runDirectory: runDirectory, step: step, tensors: tensors, configSHA256: configSHA256,
                             dataCursor: dataCursor, extra: extra, options: options)
        }
        let (root, name) = try checkWrite(runDirectory: runDirectory, step: step, tensors: tensors, configSHA256: configSHA256,
                                          dataCursor: dataCursor, extra: extra, options: options)
        return try writeCooperatively(root: root, name: name, step: step, tensors: tensors, configSHA256: configSHA256,
                                      dataCursor: dataCursor, extra: extra, options: options, workers: workers)
    }

    static func writeCooperatively(root: URL, name: String, step: Int, tensors: [CheckpointTensor], configSHA256: String,
                                   dataCursor: JSONValue, extra: JSONValue, options: CheckpointOptions,
                                   workers: Workers) throws -> URL {
        let final = root.appendingPathComponent(name)
        let tmp = root.appendingPathComponent(name + ".tmp")

        // 1. Worker 0 makes step-N.tmp (after removing an interrupted write's leftovers).
        var prepared: Error? = nil
        if workers.isRoot {
            do { try prepare(root: root, tmp: tmp, options: options) } catch { prepared = error }
        }
        let preparedText = workers.broadcast(prepared.map { "\($0)" } ?? "")
        if let prepared { throw Workers.SharedFailure("\(prepared)") }
        if !preparedText.isEmpty { throw Workers.SharedFailure(preparedText) }

        // 2. Every worker writes its shards and reports their entries (or its error).
        let groups = shardGroups(tensors, shardBytes: options.shardBytes)
        let mine = groups.indices.filter { $0 % workers.size == workers.rank }
        var report: JSONValue
        do {
            if options.failingWorker == workers.rank {
                throw CheckpointError(tmp.path, "simulated failure of worker \(workers.rank) for a test")
            }
            let written = try writeShardFiles(tensors, groups: groups, only: mine, into: tmp, options: options, state: nil)
            report = .object([("shards", .array(zip(mine, written).map { s, w in shardReport(s, w.tensors, w.shard) }))])
        } catch {
            report = .object([("error", .string("\(error)"))])
        }
        let reports = workers.allGather(Array(report.serialized().utf8))

        // 3. Worker 0 commits, or removes step-N.tmp; everyone learns which.
        var outcome = ""
        if workers.isRoot {
            do {
                let entries = try collect(reports, shards: groups.count, tmp: tmp)
                let state = StateHasher.digest(of: tensors.map(\.tensor), parallel: .serial)
                let manifest = CheckpointManifest(formatVersion: CheckpointManifest.currentFormatVersion, step: step,
                                                  configSHA256: configSHA256, stateSHA256: state,
                                                  dataCursor: dataCursor, extra: extra,
                                                  tensors: entries.flatMap(\.tensors), shards: entries.map(\.shard))
                try fault(options, .beforeManifest, tmp)
                try commit(manifest, tmp: tmp, final: final, root: root, options: options)
                try fault(options, .beforeLatest, final)
                try publish(root: root, name: name, options: options)
            } catch {
                if !(error is CheckpointCrash) { try? FileManager.default.removeItem(at: tmp) }
                outcome = "\(error)"
            }
        }
        outcome = workers.broadcast(outcome)
        if !outcome.isEmpty { throw Workers.SharedFailure("checkpoint \(final.path) not completed: \(outcome)") }
        return final
    }

    static func shardReport(_ index: Int, _ tensors: [CheckpointManifest.TensorEntry], _ shard: CheckpointManifest.ShardEntry) -> JSONValue {
        .object([("index", .int(index)), ("file", .string(shard.file)), ("sha256", .string(shard.sha256)),
                 ("bytes", .int(shard.bytes)), ("raw_bytes", .int(shard.rawBytes)),
                 ("tensors", .array(tensors.map { t in
                     .object([("name", .string(t.name)), ("shape", .array(t.shape.map { .int($0) })),
                              ("offset", .int(t.offset)), ("length", .int(t.length)), ("sha256", .string(t.sha256))])
                 }))])
    }

    /// Every shard's entries from the workers' reports, in shard order; the
    /// workers' errors, if any, as one error.
    static func collect(_ reports: [[UInt8]], shards: Int, tmp: URL)
        throws -> [(tensors: [CheckpointManifest.TensorEntry], shard: CheckpointManifest.ShardEntry)] {
        var errors: [String] = []
        var byShard: [Int: (tensors: [CheckpointManifest.TensorEntry], shard: CheckpointManifest.ShardEntry)] = [:]
        for (worker, bytes) in reports.enumerated() {
            guard let r = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)) else {
                errors.append("worker \(worker): unreadable report"); continue
            }
            if let e = r["error"]?.stringValue { errors.append("worker \(worker): \(e)"); continue }
            guard case let .array(list)? = r["shards"] else { errors.append("worker \(worker): report without shards"); continue }
            for s in list {
                guard let index = s["index"]?.intValue, let file = s["file"]?.stringValue, let sha = s["sha256"]?.stringValue,
                      let bytes = s["bytes"]?.intValue, let raw = s["raw_bytes"]?.intValue, case let .array(ts)? = s["tensors"] else {
                    errors.append("worker \(worker): malformed shard report"); continue
                }
                var tensors: [CheckpointManifest.TensorEntry] = []
                for t in ts {
                    guard let name = t["name"]?.stringValue, case let .array(shape)? = t["shape"], let offset = t["offset"]?.intValue,
                          let length = t["length"]?.intValue, let tsha = t["sha256"]?.stringValue else {
                        errors.append("worker \(worker): malformed tensor entry"); continue
                    }
                    tensors.append(.init(name: name, dtype: "F32", shape: shape.compactMap(\.intValue), shard: index,
                                         offset: offset, length: length, sha256: tsha))
                }
                byShard[index] = (tensors, .init(file: file, sha256: sha, bytes: bytes, rawBytes: raw))
            }
        }
        if !errors.isEmpty { throw RunError(errors.joined(separator: "; ")) }
        return try (0..<shards).map { s in
            guard let e = byShard[s] else { throw CheckpointError(tmp.path, "no worker reported shard \(s)") }
            return e
        }
    }
}
