import Foundation
import Testing
import SimplyCore
import SimplyModel
import SimplyRun
import SimplyTrain

/// A run directory (with config.json) in a fresh temporary folder.
private final class CheckpointRun {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("simply-ckpt-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try Data("{}\n".utf8).write(to: url.appendingPathComponent("config.json"))
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    var checkpoints: URL { url.appendingPathComponent("checkpoints") }
    var latestText: String? { try? String(contentsOf: checkpoints.appendingPathComponent("LATEST"), encoding: .utf8) }
}

private let configA = String(repeating: "a", count: 64)
private let configB = String(repeating: "b", count: 64)

/// Tensors with arbitrary bit patterns (NaN payloads, -0, subnormals, ±inf
/// included), an empty one and a scalar.
private func sampleTensors(seed: UInt64 = 7, scale: Int = 1) -> [CheckpointTensor] {
    let stream = RandomStream(seed: seed, name: "checkpoint-test")
    let shapes: [(String, [Int])] = [("model.embed_tokens.weight", [37, 8 * scale]), ("model.norm.weight", [8]),
                                     ("empty", [0]), ("scalar", []), ("optimizer.exp_avg.big", [5, 3, 11 * scale]),
                                     ("z.last", [13])]
    return shapes.enumerated().map { k, s in
        let t = Tensor(shape: s.1)
        for i in 0..<t.count { t[i] = Float(bitPattern: stream.words(UInt64(k), UInt64(i)).0) }
        if t.count > 3 { t[0] = -0.0; t[1] = .infinity; t[2] = Float(bitPattern: 0x7fc0_1234) }
        return CheckpointTensor(name: s.0, tensor: t)
    }
}

/// Values that compress (small integers), so zstd levels give different sizes.
private func compressibleTensors() -> [CheckpointTensor] {
    let t = Tensor(shape: [64, 256])
    for i in 0..<t.count { t[i] = Float((i * 7919) % 13) - 6 }
    return [CheckpointTensor(name: "w", tensor: t)]
}

private let cursor: JSONValue = .object([("step", .int(12)), ("epoch", .int(3))])
private let extra: JSONValue = .object([("note", .string("täst \"quoted\"\n"))])

@discardableResult
private func write(_ run: CheckpointRun, step: Int, _ tensors: [CheckpointTensor] = sampleTensors(),
                   shardBytes: Int = 64 << 20, level: Int = 3, keepLast: Int = 3,
                   fault: CheckpointWriteFault? = nil) throws -> URL {
    var options = CheckpointOptions(shardBytes: shardBytes, compressionLevel: level, keepLast: keepLast)
    options.simulatedFailure = fault
    return try Checkpoints.write(runDirectory: run.url, step: step, tensors: tensors, configSHA256: configA,
                                 dataCursor: cursor, extra: extra, options: options)
}

private func files(_ dir: URL) throws -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    for f in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
        out[f] = [UInt8](try Data(contentsOf: dir.appendingPathComponent(f)))
    }
    return out
}

/// The error `body` throws, as a CheckpointError (a test failure if none or another kind).
private func checkpointError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
    do {
        try body()
        Issue.record("expected a CheckpointError", sourceLocation: sourceLocation)
    } catch let e as CheckpointError {
        #expect(!e.description.contains("\n"), sourceLocation: sourceLocation)
        return e
    } catch {
        Issue.record("expected a CheckpointError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

private func modifyFile(_ url: URL, _ change: (inout [UInt8]) -> Void) throws {
    var bytes = [UInt8](try Data(contentsOf: url))
    change(&bytes)
    try Data(bytes).write(to: url)
}

/// Rewrites manifest.json after `change`, with a matching manifest_sha256, so
/// that the checks behind the manifest's own hash are reached.
private func resignManifest(_ checkpoint: URL, _ change: ([(String, JSONValue)]) -> [(String, JSONValue)]) throws {
    let url = checkpoint.appendingPathComponent("manifest.json")
    guard case let .object(pairs) = try JSONValue.parse(String(decoding: try Data(contentsOf: url), as: UTF8.self)) else {
        Issue.record("manifest is not an object"); return
    }
    let body = change(pairs.filter { $0.0 != "manifest_sha256" })
    let signed = JSONValue.object(body + [("manifest_sha256", .string(sha256Hex(Array(JSONValue.object(body).serialized().utf8))))])
    try Data((signed.pretty() + "\n").utf8).write(to: url)
}

private func replace(_ pairs: [(String, JSONValue)], _ key: String, _ value: JSONValue) -> [(String, JSONValue)] {
    pairs.map { $0.0 == key ? (key, value) : $0 }
}

@Suite struct CheckpointTests {
    @Test func roundTripIsBitExactForEveryShardSize() throws {
        let tensors = sampleTensors()
        let sizes = tensors.map { 4 * $0.tensor.count }   // 1184, 32, 0, 4, 660, 52
        // shardBytes → expected shard of each tensor.
        let cases: [(Int, [Int])] = [
            (64 << 20, [0, 0, 0, 0, 0, 0]),       // one shard
            (4, [0, 1, 2, 2, 3, 4]),              // one per tensor (empty and scalar share)
            (1000, [0, 1, 1, 1, 1, 1]),           // the 1184-byte tensor, bigger than shardBytes, alone
            (700, [0, 1, 1, 1, 1, 2]),
            (600, [0, 1, 1, 1, 2, 3]),            // 1184 and 660 both alone
        ]
        #expect(sizes == [1184, 32, 0, 4, 660, 52])
        for (shardBytes, expectedShards) in cases {
            let run = try CheckpointRun()
            let dir = try write(run, step: 12, tensors, shardBytes: shardBytes)
            #expect(dir.lastPathComponent == "step-00000012")
            let (m, loaded) = try Checkpoints.read(dir, expectedConfigSHA256: configA)
            #expect(m.tensors.map(\.shard) == expectedShards, "shardBytes \(shardBytes)")
            #expect(m.shards.count == expectedShards.last! + 1)
            #expect(m.tensors.map(\.name) == tensors.map(\.name))
            #expect(m.step == 12 && m.configSHA256 == configA)
            #expect(m.dataCursor.serialized() == cursor.serialized() && m.extra.serialized() == extra.serialized())
            for t in tensors {
                let l = try #require(loaded[t.name])
                #expect(l.shape == t.tensor.shape && l.bitwiseEqual(t.tensor), "\(t.name) shardBytes \(shardBytes)")
            }
            // state_sha256 is the trainer's state hash of the raw bytes in order.
            #expect(m.stateSHA256 == StateHasher.digest(of: tensors.map(\.tensor), parallel: .serial))
            // Files: the manifest and exactly the listed shards.
            #expect(try Set(FileManager.default.contentsOfDirectory(atPath: dir.path))
                    == Set(["manifest.json"] + m.shards.map(\.file)))
        }
    }

    @Test func loadFillsCallerTensorsAndChecksNamesAndShapes() throws {
        let run = try CheckpointRun()
        let tensors = sampleTensors()
        let dir = try write(run, step: 3, tensors, shardBytes: 100)
        let into = tensors.map { CheckpointTensor(name: $0.name, tensor: Tensor(shape: $0.tensor.shape)) }
        let m = try Checkpoints.load(dir, into: into, expectedConfigSHA256: configA)
        #expect(m.step == 3)
        for (a, b) in zip(tensors, into) { #expect(a.tensor.bitwiseEqual(b.tensor), "\(a.name)") }

        // A view into a larger buffer is filled in place, neighbours untouched.
        let flat = Tensor(shape: [10 + 13])
        flat.fill(42)
        let view = Tensor(storage: flat.storage, offset: 10, shape: [13])
        try Checkpoints.load(dir, into: [CheckpointTensor(name: "z.last", tensor: view)], expectedConfigSHA256: nil)
        #expect(view.bitwiseEqual(tensors[5].tensor))
        #expect((0..<10).allSatisfy { flat[$0] == 42 })

        let wrongShape = checkpointError {
            try Checkpoints.load(dir, into: [CheckpointTensor(name: "model.norm.weight", tensor: Tensor(shape: [9]))], expectedConfigSHA256: nil)
        }
        #expect(wrongShape?.description.contains("model.norm.weight") == true)
        #expect(wrongShape?.description.contains("manifest.json") == true)
        let missing = checkpointError {
            try Checkpoints.load(dir, into: [CheckpointTensor(name: "nope", tensor: Tensor(shape: [1]))], expectedConfigSHA256: nil)
        }
        #expect(missing?.description.contains("nope") == true)
    }

    @Test func writingTwiceGivesIdenticalBytes() throws {
        let a = try CheckpointRun(), b = try CheckpointRun()
        let fa = try files(try write(a, step: 100, shardBytes: 700))
        let fb = try files(try write(b, step: 100, sampleTensors(), shardBytes: 700))
        #expect(fa.count == 4 && fa == fb)
        #expect(a.latestText == "step-00000100\n" && b.latestText == a.latestText)
    }

    @Test func shardsAreZstdFramesOfSafetensorsFiles() throws {
        let run = try CheckpointRun()
        let tensors = sampleTensors()
        let dir = try write(run, step: 1, tensors, shardBytes: 700)
        let m = try Checkpoints.manifest(dir)
        for (s, shard) in m.shards.enumerated() {
            let frame = [UInt8](try Data(contentsOf: dir.appendingPathComponent(shard.file)))
            #expect(Array(frame.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])   // zstd magic number
            let raw = try CheckpointZstd.decompress(frame, name: shard.file)
            #expect(raw.count == shard.rawBytes)
            // Byte for byte what the project's safetensors writer makes of the same tensors.
            let members = zip(tensors, m.tensors).filter { $0.1.shard == s }.map { (name: $0.0.name, tensor: $0.0.tensor) }
            #expect(raw == SafetensorsWriter.encode(tensors: members))
            let file = try SafetensorsFile.parse(raw, name: shard.file)
            #expect(file.names.sorted() == members.map(\.name).sorted())
            for t in members where t.tensor.count > 0 {
                #expect(try file.tensor(t.name).bitwiseEqual(t.tensor))
            }
        }
    }

    @Test func compressionLevelChangesFilesNotTensors() throws {
        let fast = try CheckpointRun(), small = try CheckpointRun()
        let tensors = compressibleTensors() + sampleTensors()
        let d1 = try write(fast, step: 5, tensors, level: 1)
        let d19 = try write(small, step: 5, tensors, level: 19)
        let s1 = try files(d1)["shard-00000.safetensors.zst"]!, s19 = try files(d19)["shard-00000.safetensors.zst"]!
        #expect(s1 != s19)
        #expect(s19.count < s1.count)
        let (m1, t1) = try Checkpoints.read(d1, expectedConfigSHA256: configA)
        let (m19, t19) = try Checkpoints.read(d19, expectedConfigSHA256: configA)
        #expect(m1.stateSHA256 == m19.stateSHA256 && m1.tensors == m19.tensors)
        for t in tensors { #expect(t1[t.name]!.bitwiseEqual(t19[t.name]!) && t1[t.name]!.bitwiseEqual(t.tensor)) }
    }

    @Test func latestAndListFollowTheNewestAndPruneKeepsTheLastN() throws {
        let run = try CheckpointRun()
        #expect(try Checkpoints.list(runDirectory: run.url).isEmpty)
        for step in [10, 20, 30] { try write(run, step: step, keepLast: 2) }
        #expect(try Checkpoints.list(runDirectory: run.url).map(\.step) == [20, 30])
        #expect(try Checkpoints.latest(runDirectory: run.url).lastPathComponent == "step-00000030")
        #expect(run.latestText == "step-00000030\n")

        // keepLast 0 keeps everything.
        for step in [40, 50] { try write(run, step: step, keepLast: 0) }
        #expect(try Checkpoints.list(runDirectory: run.url).map(\.step) == [20, 30, 40, 50])
        // The one just written is kept even when it is not the highest step.
        try write(run, step: 25, keepLast: 1)
        #expect(try Checkpoints.list(runDirectory: run.url).map(\.step) == [25])
        #expect(try Checkpoints.latest(runDirectory: run.url).lastPathComponent == "step-00000025")
        // Steps beyond 8 digits still sort by number.
        try write(run, step: 123_456_789, keepLast: 0)
        #expect(try Checkpoints.list(runDirectory: run.url).map(\.step) == [25, 123_456_789])
        #expect(try FileManager.default.contentsOfDirectory(atPath: run.checkpoints.path).sorted()
                == ["LATEST", "step-00000025", "step-123456789"])
    }

    @Test func aFailedWriteLeavesThePreviousCheckpointAndLatestAlone() throws {
        let run = try CheckpointRun()
        let tensors = sampleTensors()
        for step in [1, 2] { try write(run, step: step, tensors, keepLast: 2) }
        let before = try files(run.checkpoints.appendingPathComponent("step-00000002"))
        let other = sampleTensors(seed: 99)
        for fault in [CheckpointWriteFault.afterShard(0), .afterShard(2), .beforeManifest, .beforeRename] {
            let e = checkpointError { try write(run, step: 3, other, shardBytes: 100, keepLast: 2, fault: fault) }
            #expect(e?.description.contains("step-00000003.tmp") == true)
            // Nothing of the failed write remains; nothing was pruned; LATEST unchanged.
            #expect(try Checkpoints.list(runDirectory: run.url).map(\.step) == [1, 2])
            #expect(run.latestText == "step-00000002\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: run.checkpoints.path).sorted()
                    == ["LATEST", "step-00000001", "step-00000002"])
            #expect(try files(run.checkpoints.appendingPathComponent("step-00000002")) == before)
        }
        // Interrupted after the rename: step 3 is complete, but LATEST still
        // names step 2 and nothing was pruned.
        _ = checkpointError { try write(run, step: 3, other, keepLast: 2, fault: .beforeLatest) }
        #expect(run.latestText == "step-00000002\n")
        #expect(try Checkpoints.list(runDirectory: run.url).map(\.step) == [1, 2, 3])
        #expect(try Checkpoints.read(Checkpoints.latest(runDirectory: run.url), expectedConfigSHA256: configA).tensors["z.last"]!
                .bitwiseEqual(tensors[5].tensor))
        // A real error before any file is written: a duplicate tensor name.
        let dup = checkpointError { try write(run, step: 4, tensors + [tensors[0]]) }
        #expect(dup?.description.contains("model.embed_tokens.weight") == true)
        #expect(run.latestText == "step-00000002\n")
        #expect(!FileManager.default.fileExists(atPath: run.checkpoints.appendingPathComponent("step-00000004.tmp").path))
    }

    @Test func leftoversOfACrashAreRemovedAndTheSameStepCanBeRewritten() throws {
        let run = try CheckpointRun()
        try write(run, step: 6)
        let fm = FileManager.default
        let leftover = run.checkpoints.appendingPathComponent("step-00000007.tmp")
        try fm.createDirectory(at: leftover, withIntermediateDirectories: false)
        try Data("half a shard".utf8).write(to: leftover.appendingPathComponent("shard-00000.safetensors.zst"))
        try fm.createDirectory(at: run.checkpoints.appendingPathComponent("step-00000002.pruned.tmp"), withIntermediateDirectories: false)
        try Data("x".utf8).write(to: run.checkpoints.appendingPathComponent("LATEST.tmp"))
        #expect(try Checkpoints.list(runDirectory: run.url).map(\.step) == [6])   // .tmp never counts
        let dir = try write(run, step: 7)
        #expect(try fm.contentsOfDirectory(atPath: run.checkpoints.path).sorted() == ["LATEST", "step-00000006", "step-00000007"])
        #expect(try Checkpoints.read(dir, expectedConfigSHA256: configA).manifest.step == 7)
        // The same step again replaces the checkpoint.
        let t = sampleTensors(seed: 5)
        try write(run, step: 7, t)
        #expect(try Checkpoints.read(dir, expectedConfigSHA256: nil).tensors["scalar"]!.bitwiseEqual(t[3].tensor))
        #expect(try fm.contentsOfDirectory(atPath: run.checkpoints.path).sorted() == ["LATEST", "step-00000006", "step-00000007"])
    }

    @Test func damagedShardsAreErrorsNamingTheFile() throws {
        let run = try CheckpointRun()
        let dir = try write(run, step: 8, shardBytes: 700)
        let shard = dir.appendingPathComponent("shard-00001.safetensors.zst")
        let original = [UInt8](try Data(contentsOf: shard))
        func expectShardError(_ words: [String], _ label: String) {
            let e = checkpointError { _ = try Checkpoints.read(dir, expectedConfigSHA256: configA) }
            #expect(e?.file == shard.path, "\(label)")
            for w in words { #expect(e?.description.contains(w) == true, "\(label): \(e?.description ?? "")") }
        }
        // Truncated at every length, and one flipped bit anywhere.
        for n in 0..<original.count {
            try Data(original.prefix(n)).write(to: shard)
            expectShardError(["truncated"], "truncated to \(n)")
        }
        for i in stride(from: 0, to: original.count, by: 7) {
            try modifyFile(shard) { $0 = original; $0[i] ^= 0x10 }
            expectShardError(["sha256", "damaged"], "byte \(i)")
        }
        try Data(original + [0]).write(to: shard)
        expectShardError(["manifest.json says"], "grown")
        try FileManager.default.removeItem(at: shard)
        expectShardError(["missing"], "missing")
        try Data(original).write(to: shard)
        #expect(try Checkpoints.read(dir, expectedConfigSHA256: configA).manifest.step == 8)
    }

    @Test func shardsThatMatchTheirHashButHoldTheWrongContentAreErrors() throws {
        let run = try CheckpointRun()
        let dir = try write(run, step: 9)
        let shard = dir.appendingPathComponent("shard-00000.safetensors.zst")
        let raw = try CheckpointZstd.decompress([UInt8](try Data(contentsOf: shard)), name: "shard")
        // Replace the shard (and its recorded sha256/size) with `bytes`.
        func plant(_ bytes: [UInt8], rawBytes: Int) throws {
            try Data(bytes).write(to: shard)
            try resignManifest(dir) { pairs in
                replace(pairs, "shards", .array([.object([("file", .string("shard-00000.safetensors.zst")),
                                                          ("sha256", .string(sha256Hex(bytes))), ("bytes", .int(bytes.count)),
                                                          ("raw_bytes", .int(rawBytes))])]))
            }
        }
        let compressor = try CheckpointZstd.Compressor(level: 3)
        var cases: [(String, [UInt8], Int, String)] = [
            ("not zstd", Array(raw.prefix(100)), raw.count, "not a zstd frame"),
            ("two frames", try compressor.compress(raw, name: "x") + compressor.compress(raw, name: "x"), raw.count, "exactly one frame"),
        ]
        var badHeader = raw
        badHeader[9] = UInt8(ascii: "x")   // the JSON header's first key quote
        cases.append(("safetensors", try compressor.compress(badHeader, name: "x"), raw.count, "safetensors"))
        var flipped = raw
        flipped[raw.count - 1] ^= 1       // a data byte: the tensor's sha256 catches it
        cases.append(("tensor sha", try compressor.compress(flipped, name: "x"), raw.count, "tensor z.last: sha256"))
        for (label, bytes, rawBytes, words) in cases {
            try plant(bytes, rawBytes: rawBytes)
            let e = checkpointError { _ = try Checkpoints.read(dir, expectedConfigSHA256: nil) }
            #expect(e?.file == shard.path, "\(label)")
            #expect(e?.description.contains(words) == true, "\(label): \(e?.description ?? "")")
        }
        // A raw_bytes that is not the tensors' safetensors size: the manifest itself is refused.
        try plant(try compressor.compress(raw, name: "x"), rawBytes: raw.count + 8)
        let e = checkpointError { _ = try Checkpoints.read(dir, expectedConfigSHA256: nil) }
        #expect(e?.file == dir.appendingPathComponent("manifest.json").path && e?.field == "shards[0].raw_bytes", "\(e?.description ?? "")")
    }

    @Test func damagedOrMismatchedManifestsAreErrorsNamingTheFieldAndFile() throws {
        let run = try CheckpointRun()
        let dir = try write(run, step: 11, shardBytes: 700)
        let manifest = dir.appendingPathComponent("manifest.json")
        let original = [UInt8](try Data(contentsOf: manifest))
        func expectManifestError(_ words: [String], _ label: String, config: String? = configA) {
            let e = checkpointError { _ = try Checkpoints.read(dir, expectedConfigSHA256: config) }
            #expect(e?.file == manifest.path, "\(label)")
            for w in words { #expect(e?.description.contains(w) == true, "\(label): \(e?.description ?? "")") }
        }
        // Any single flipped bit of manifest.json is caught (its own hash, or JSON).
        for i in 0..<original.count {
            try modifyFile(manifest) { $0 = original; $0[i] ^= 0x01 }
            expectManifestError([], "byte \(i)")
        }
        try Data(original.prefix(original.count / 2)).write(to: manifest)
        expectManifestError(["not valid JSON"], "half")
        try Data("not json at all".utf8).write(to: manifest)
        expectManifestError(["not valid JSON"], "text")
        try Data(original).write(to: manifest)
        expectManifestError(["config_sha256", "different config", configB], "config", config: configB)
        // Edits without updating manifest_sha256.
        try resignManifest(dir) { $0 }
        #expect(try Checkpoints.read(dir, expectedConfigSHA256: configA).manifest.step == 11)   // re-signing alone is harmless
        try modifyFile(manifest) { bytes in
            let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"epoch\": 3", with: "\"epoch\": 4")
            bytes = Array(text.utf8)
        }
        expectManifestError(["manifest_sha256"], "cursor edited")
        // Edits with a matching manifest_sha256 reach the deeper checks.
        let state = String(repeating: "0", count: 64)
        try resignManifest(dir) { replace($0, "state_sha256", .string(state)) }
        expectManifestError(["state_sha256", "tensors hash to"], "state hash")
        try resignManifest(dir) { pairs in
            guard case let .array(ts)? = JSONValue.object(pairs)["tensors"], case let .object(t0) = ts[0] else { return pairs }
            return replace(pairs, "tensors", .array([.object(replace(t0, "sha256", .string(state)))] + ts.dropFirst()))
        }
        let e = checkpointError { _ = try Checkpoints.read(dir, expectedConfigSHA256: nil) }
        #expect(e?.description.contains("shard-00000.safetensors.zst: tensor model.embed_tokens.weight: sha256") == true, "\(e?.description ?? "")")
        #expect(e?.description.contains("manifest.json says \(state)") == true)
        // Absurd sizes in a re-signed manifest are errors, not allocations or traps.
        for (key, value) in [("shape", JSONValue.array([.int(1 << 40)])), ("length", .int(1 << 42))] {
            try resignManifest(dir) { pairs in
                guard case let .array(ts)? = JSONValue.object(pairs)["tensors"], case let .object(t0) = ts[0] else { return pairs }
                var t = replace(t0, key, value)
                if key == "shape" { t = replace(t, "length", .int(1 << 42)) }
                return replace(pairs, "tensors", .array([.object(t)] + ts.dropFirst()))
            }
            let e = checkpointError { _ = try Checkpoints.read(dir, expectedConfigSHA256: nil) }
            #expect(e?.description.contains("model.embed_tokens.weight") == true, "\(key): \(e?.description ?? "")")
        }
        try resignManifest(dir) { pairs in
            guard case let .array(ss)? = JSONValue.object(pairs)["shards"], case let .object(s0) = ss[0] else { return pairs }
            return replace(pairs, "shards", .array([.object(replace(s0, "raw_bytes", .int(Int.max)))] + ss.dropFirst()))
        }
        expectManifestError(["shards[0].raw_bytes"], "raw_bytes")
        try Data(original).write(to: manifest)
        try resignManifest(dir) { replace($0, "step", .int(12)) }
        expectManifestError(["step", "step-00000011"], "step")
        try resignManifest(dir) { replace(replace($0, "step", .int(11)), "format_version", .int(3)) }
        expectManifestError(["format_version", "not supported"], "version")
        try resignManifest(dir) { replace($0, "format_version", .int(1)) }
        expectManifestError(["format_version", "1 is not supported", "one SHA-256 stream"], "version 1")
        try resignManifest(dir) { replace(replace($0, "format_version", .int(CheckpointManifest.currentFormatVersion)), "shards", .array([.object([("file", .string("../../config.json"))])])) }
        expectManifestError(["shards[0].file", "expected \"shard-00000.safetensors.zst\""], "path")
        try FileManager.default.removeItem(at: manifest)
        expectManifestError(["missing"], "missing")
    }

    @Test func latestAndRunDirectoryErrorsNameTheFile() throws {
        let run = try CheckpointRun()
        let latest = run.checkpoints.appendingPathComponent("LATEST")
        let e1 = checkpointError { _ = try Checkpoints.latest(runDirectory: run.url) }
        #expect(e1?.description == "\(latest.path): missing (no complete checkpoint)")
        try write(run, step: 4)
        try Data("step-00000005\n".utf8).write(to: latest)
        let e2 = checkpointError { _ = try Checkpoints.latest(runDirectory: run.url) }
        #expect(e2?.file == latest.path && e2?.description.contains("step-00000005") == true)
        try Data("../../etc\n".utf8).write(to: latest)
        let e3 = checkpointError { _ = try Checkpoints.latest(runDirectory: run.url) }
        #expect(e3?.file == latest.path && e3?.description.contains("does not name a checkpoint") == true)
        try Data([0xff, 0xfe]).write(to: latest)
        #expect(checkpointError { _ = try Checkpoints.latest(runDirectory: run.url) }?.file == latest.path)

        let notRun = run.url.appendingPathComponent("checkpoints/step-00000004")   // exists, no config.json
        let missing = run.url.appendingPathComponent("nowhere")
        let file = run.url.appendingPathComponent("config.json")
        for dir in [notRun, missing, file] {
            let l = checkpointError { _ = try Checkpoints.latest(runDirectory: dir) }
            #expect(l?.file == dir.path && l?.description.contains("not a run directory") == true)
            #expect(checkpointError { _ = try Checkpoints.list(runDirectory: dir) }?.file == dir.path)
            let w = checkpointError {
                try Checkpoints.write(runDirectory: dir, step: 1, tensors: sampleTensors(), configSHA256: configA,
                                      dataCursor: cursor, extra: extra, options: CheckpointOptions())
            }
            #expect(w?.file == dir.path)
        }
        // A run directory given where a checkpoint is expected.
        let r = checkpointError { _ = try Checkpoints.read(run.url, expectedConfigSHA256: nil) }
        #expect(r?.file == run.url.appendingPathComponent("manifest.json").path)
    }
}

/// Write/read speed and compression for the `small` model's state (params,
/// m, v ≈ 165 MB). Off by default; run with
///     SIMPLY_CHECKPOINT_BENCH=/tmp/ckpt-bench swift test -c release --filter CheckpointBenchmark
/// The checkpoints stay in that directory (for tools/interop/check_checkpoint.py).
@Suite struct CheckpointBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SIMPLY_CHECKPOINT_BENCH"] != nil))
    func smallModelState() throws {
        let base = URL(fileURLWithPath: ProcessInfo.processInfo.environment["SIMPLY_CHECKPOINT_BENCH"]!)
        let config = try ExperimentConfig.resolve(experiment: "small", configDirectory: configsURL, overrides: [])
        let model = Transformer(config: config.model, maxBatch: 1)
        model.initialize(seed: 1337)
        let n = model.layout.count
        let m = Tensor(shape: [n]), v = Tensor(shape: [n])
        let stream = RandomStream(seed: 1, name: "bench-moments")
        for i in 0..<n {
            let g = stream.normal(0, UInt64(i)) * 1e-3
            m[i] = g * 0.1
            v[i] = g * g * 0.05
        }
        var tensors: [CheckpointTensor] = []
        for (prefix, flat) in [("", model.params), ("optimizer.exp_avg.", m), ("optimizer.exp_avg_sq.", v)] {
            for e in model.layout.entries {
                tensors.append(CheckpointTensor(name: prefix + e.name, tensor: Tensor(storage: flat.storage, offset: e.offset, shape: e.shape)))
            }
        }
        let rawMB = Double(3 * n * 4) / 1e6
        print("state: \(n) parameters x 3 = \(String(format: "%.1f", rawMB)) MB in \(tensors.count) tensors")
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        // Also a checkpoint of odd tensors (NaN payloads, -0, inf, empty, scalar) in several shards.
        let odd = base.appendingPathComponent("odd")
        try? FileManager.default.removeItem(at: odd)
        try FileManager.default.createDirectory(at: odd, withIntermediateDirectories: true)
        try Data("{}\n".utf8).write(to: odd.appendingPathComponent("config.json"))
        try Checkpoints.write(runDirectory: odd, step: 12, tensors: sampleTensors(), configSHA256: configA, dataCursor: cursor,
                              extra: extra, options: CheckpointOptions(shardBytes: 700))

        for level in [3, 1] {
            let run = base.appendingPathComponent("level\(level)")
            try? FileManager.default.removeItem(at: run)
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            try Data("{}\n".utf8).write(to: run.appendingPathComponent("config.json"))
            var dir = run
            let w = try seconds {
                dir = try Checkpoints.write(runDirectory: run, step: 100, tensors: tensors, configSHA256: String(repeating: "c", count: 64),
                                            dataCursor: .object([("step", .int(100))]), extra: .object([]),
                                            options: CheckpointOptions(compressionLevel: level))
            }
            let manifest = try Checkpoints.manifest(dir)
            let zstMB = Double(manifest.shards.reduce(0) { $0 + $1.bytes }) / 1e6
            var loaded: [String: Tensor] = [:]
            let r = try seconds { loaded = try Checkpoints.read(dir, expectedConfigSHA256: nil).tensors }
            let into = tensors.map { CheckpointTensor(name: $0.name, tensor: Tensor(shape: $0.tensor.shape)) }
            let l = try seconds { try Checkpoints.load(dir, into: into, expectedConfigSHA256: nil) }
            for (t, u) in zip(tensors, into) {
                #expect(loaded[t.name]!.bitwiseEqual(t.tensor) && u.tensor.bitwiseEqual(t.tensor))
            }
            print(String(format: "level %d: %d shards, %.1f MB -> %.1f MB (ratio %.3f); write %.2f s = %.0f MB/s; read %.2f s = %.0f MB/s; load %.2f s = %.0f MB/s",
                         level, manifest.shards.count, rawMB, zstMB, rawMB / zstMB, w, rawMB / w, r, rawMB / r, l, rawMB / l))
        }
    }
}
