import Foundation
import Testing
import SimplyCore
import SimplyRun
import SimplyTrain

/// Issue 19: `simply verify` never passes a damaged run, `--resume` never
/// starts from one, a checkpoint write stopped at any disk step resumes bit
/// exact, and one run directory has one writer.
@Suite(.serialized) struct RunIntegrityTests {
    /// A micro model: 6 steps, a checkpoint every 2, all kept.
    static func config(keepLast: Int = 0) throws -> ExperimentConfig {
        try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configsURL, overrides: [
            "model.d_model=32", "model.n_layers=2", "model.n_heads=4", "model.n_kv_heads=2", "model.d_ff=48",
            "model.seq_len=16", "train.batch_size=2", "train.steps=6", "train.warmup_steps=1",
            "data.synthetic_bytes=20000", "checkpoint.interval=2", "checkpoint.keep_last=\(keepLast)",
        ])
    }

    static let runtime = RuntimeOptions(threads: 1, deterministic: true)

    static func train(_ dir: URL, _ config: ExperimentConfig, start: RunStart = .fresh,
                      crashBefore: (@Sendable (CheckpointDiskStep) -> Bool)? = nil) throws {
        _ = try runTraining(config: config, runDirectory: RunDirectory(dir), runtime: runtime, start: start,
                            crashBefore: crashBefore, log: { _ in })
    }

    static func resume(_ dir: URL, fallback: Bool = false) throws {
        let config = try ExperimentConfig.fromRunConfig(RunDirectory(dir).configURL)
        try train(dir, config, start: .resume(fallback: fallback))
    }

    /// verify's verdict: nil when it passes, else everything it said (problems, divergence or error).
    static func verify(_ dir: URL, checkpointsOnly: Bool = false) -> String? {
        do {
            let r = try Verify.run(RunDirectory(dir), from: nil, steps: nil, threads: 1, checkpointsOnly: checkpointsOnly,
                                   log: { _ in })
            if r.passed { return nil }
            return (r.problems + [r.divergence].compactMap { $0 }).joined(separator: "\n")
        } catch {
            return "error: \(error)"
        }
    }

    // MARK: - Damage

    enum PathKey: Sendable { case key(String), index(Int) }

    /// `v` with the value at `path` replaced.
    static func replacing(_ v: JSONValue, _ path: [PathKey], with new: JSONValue) -> JSONValue {
        guard let first = path.first else { return new }
        let rest = Array(path.dropFirst())
        switch (v, first) {
        case let (.object(pairs), .key(k)):
            return .object(pairs.map { $0.0 == k ? ($0.0, replacing($0.1, rest, with: new)) : $0 })
        case let (.array(items), .index(i)):
            var items = items
            items[i] = replacing(items[i], rest, with: new)
            return .array(items)
        default:
            return v
        }
    }

    /// Rewrites a manifest with `edit` applied; `resign` recomputes manifest_sha256 as the writer does.
    static func editManifest(_ url: URL, resign: Bool, _ edit: (JSONValue) -> JSONValue) throws {
        let v = edit(try JSONValue.parse(String(decoding: try Data(contentsOf: url), as: UTF8.self)))
        guard case let .object(pairs) = v else { throw ConfigErrorForTests("\(url.path): the manifest is not a JSON object") }
        var body = pairs.filter { $0.0 != "manifest_sha256" }
        let old = pairs.first { $0.0 == "manifest_sha256" }?.1 ?? .string("")
        let sha: JSONValue = resign ? .string(sha256Hex(Array(JSONValue.object(body).serialized().utf8))) : old
        body.append(("manifest_sha256", sha))
        try Data((JSONValue.object(body).pretty() + "\n").utf8).write(to: url)
    }

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
    static func write(_ b: [UInt8], _ url: URL) throws { try Data(b).write(to: url) }

    /// A zstd frame with no data whose header claims 2^40 bytes of content.
    static let hugeClaimFrame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0] + withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Array($0) }
        + [0x01, 0x00, 0x00]

    /// A real zstd bomb: 65536 RLE blocks of 128 KiB zeros, 8 GiB in a 256 KiB frame.
    static let rleBomb: [UInt8] = {
        var f: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0] + withUnsafeBytes(of: UInt64(1 << 33).littleEndian) { Array($0) }
        for i in 0..<65536 { f += [i == 65535 ? 0x03 : 0x02, 0x00, 0x10, 0x00] }
        return f
    }()

    /// One kind of damage: what it does to a copy of the run, and the file
    /// (relative to the run) that both refusals must name.
    struct Damage: Sendable {
        let name: String
        let file: String
        let apply: @Sendable (URL) throws -> Void
    }

    static let newest = "checkpoints/step-00000006"
    static let manifest6 = newest + "/manifest.json"
    static let shard6 = newest + "/shard-00000.safetensors.zst"

    /// Damage to the newest checkpoint, LATEST or the record: verify and resume both refuse.
    static let damages: [Damage] = {
        func m(_ name: String, resign: Bool, _ edit: @escaping @Sendable (JSONValue) -> JSONValue) -> Damage {
            Damage(name: name, file: manifest6) { try editManifest($0.appendingPathComponent(manifest6), resign: resign, edit) }
        }
        func latest(_ name: String, _ text: String) -> Damage {
            Damage(name: name, file: "checkpoints/LATEST") { try write(Array(text.utf8), $0.appendingPathComponent("checkpoints/LATEST")) }
        }
        return [
            Damage(name: "manifest truncated", file: manifest6) { run in
                let u = run.appendingPathComponent(manifest6); let b = try bytes(u); try write(Array(b.prefix(b.count / 2)), u)
            },
            Damage(name: "manifest empty", file: manifest6) { try write([], $0.appendingPathComponent(manifest6)) },
            Damage(name: "manifest deleted", file: manifest6) { try FileManager.default.removeItem(at: $0.appendingPathComponent(manifest6)) },
            Damage(name: "manifest not UTF-8", file: manifest6) { try write([0xFF, 0xFE, 0x7B], $0.appendingPathComponent(manifest6)) },
            Damage(name: "manifest a JSON array", file: manifest6) { try write(Array("[1,2]".utf8), $0.appendingPathComponent(manifest6)) },
            Damage(name: "manifest nested 100000 deep", file: manifest6) {
                try write(Array(String(repeating: "[", count: 100_000).utf8), $0.appendingPathComponent(manifest6))
            },
            m("step edited", resign: false) { replacing($0, [.key("step")], with: JSONValue.int(4)) },
            m("shard sha256 edited", resign: false) { replacing($0, [.key("shards"), .index(0), .key("sha256")], with: .string(String(repeating: "0", count: 64))) },
            m("shard bytes edited", resign: false) { replacing($0, [.key("shards"), .index(0), .key("bytes")], with: JSONValue.int(10)) },
            m("step edited, re-signed", resign: true) { replacing($0, [.key("step")], with: JSONValue.int(4)) },
            Damage(name: "shard bytes edited, re-signed", file: shard6) { try editManifest($0.appendingPathComponent(manifest6), resign: true) { replacing($0, [.key("shards"), .index(0), .key("bytes")], with: JSONValue.int(10)) } },
            Damage(name: "raw_bytes edited, re-signed", file: manifest6) { try editManifest($0.appendingPathComponent(manifest6), resign: true) { replacing($0, [.key("shards"), .index(0), .key("raw_bytes")], with: JSONValue.int(4096)) } },
            m("raw_bytes 2^40, re-signed", resign: true) { replacing($0, [.key("shards"), .index(0), .key("raw_bytes")], with: JSONValue.int(1 << 40)) },
            m("tensor shape edited, re-signed", resign: true) { replacing($0, [.key("tensors"), .index(0), .key("shape")], with: .array([JSONValue.int(1), JSONValue.int(1)])) },
            m("tensor shape 2^32 x 2^32, re-signed", resign: true) {
                replacing($0, [.key("tensors"), .index(0), .key("shape")], with: .array([JSONValue.int(1 << 32), JSONValue.int(1 << 32)]))
            },
            m("tensor offset edited, re-signed", resign: true) { replacing($0, [.key("tensors"), .index(1), .key("offset")], with: JSONValue.int(8)) },
            Damage(name: "tensor sha256 edited, re-signed", file: shard6) { run in
                try editManifest(run.appendingPathComponent(manifest6), resign: true) {
                    replacing($0, [.key("tensors"), .index(2), .key("sha256")], with: .string(String(repeating: "a", count: 64)))
                }
            },
            m("shard name ../, re-signed", resign: true) { replacing($0, [.key("shards"), .index(0), .key("file")], with: .string("../step-00000004/shard-00000.safetensors.zst")) },
            m("config_sha256 edited, re-signed", resign: true) { replacing($0, [.key("config_sha256")], with: .string(String(repeating: "b", count: 64))) },
            m("state_sha256 edited, re-signed", resign: true) { replacing($0, [.key("state_sha256")], with: .string(String(repeating: "c", count: 64))) },
            m("format_version edited, re-signed", resign: true) { replacing($0, [.key("format_version")], with: JSONValue.int(3)) },
            m("an unknown field, re-signed", resign: true) { v in
                guard case let .object(p) = v else { return v }; return .object(p + [("x", .int(1))])
            },
            latest("LATEST empty", ""),
            latest("LATEST garbage", "garbage\n"),
            latest("LATEST points outside", "../../x\n"),
            latest("LATEST names a missing step", "step-00000099\n"),
            latest("LATEST not UTF-8", "\u{FFFF}"),
            Damage(name: "LATEST is a directory", file: "checkpoints/LATEST") { run in
                let u = run.appendingPathComponent("checkpoints/LATEST")
                try FileManager.default.removeItem(at: u); try FileManager.default.createDirectory(at: u, withIntermediateDirectories: false)
            },
            Damage(name: "shard byte flipped", file: shard6) { run in
                let u = run.appendingPathComponent(shard6); var b = try bytes(u); b[b.count / 2] ^= 0x01; try write(b, u)
            },
            Damage(name: "shard truncated", file: shard6) { run in
                let u = run.appendingPathComponent(shard6); let b = try bytes(u); try write(Array(b.prefix(b.count - 5)), u)
            },
            Damage(name: "shard grown", file: shard6) { run in
                let u = run.appendingPathComponent(shard6); try write(try bytes(u) + [1, 2, 3], u)
            },
            Damage(name: "shard deleted", file: shard6) { try FileManager.default.removeItem(at: $0.appendingPathComponent(shard6)) },
            Damage(name: "shard replaced by a directory", file: shard6) { run in
                let u = run.appendingPathComponent(shard6)
                try FileManager.default.removeItem(at: u); try FileManager.default.createDirectory(at: u, withIntermediateDirectories: false)
            },
            Damage(name: "shard: a frame claiming 2^40 bytes, re-signed", file: shard6) { run in
                try write(hugeClaimFrame, run.appendingPathComponent(shard6))
                try editManifest(run.appendingPathComponent(manifest6), resign: true) { v in
                    var v = replacing(v, [.key("shards"), .index(0), .key("sha256")], with: .string(sha256Hex(hugeClaimFrame)))
                    v = replacing(v, [.key("shards"), .index(0), .key("bytes")], with: .int(hugeClaimFrame.count))
                    return v
                }
            },
            Damage(name: "shard: an 8 GiB RLE bomb, raw_bytes re-signed", file: manifest6) { run in
                try write(rleBomb, run.appendingPathComponent(shard6))
                try editManifest(run.appendingPathComponent(manifest6), resign: true) { v in
                    var v = replacing(v, [.key("shards"), .index(0), .key("sha256")], with: .string(sha256Hex(rleBomb)))
                    v = replacing(v, [.key("shards"), .index(0), .key("bytes")], with: .int(rleBomb.count))
                    return replacing(v, [.key("shards"), .index(0), .key("raw_bytes")], with: .int(1 << 33))
                }
            },
            Damage(name: "checkpoints/ deleted", file: "checkpoints") { run in
                try FileManager.default.removeItem(at: run.appendingPathComponent("checkpoints"))
            },
            // (The newest alone deleted looks like a crash during the last write, which resume recovers.)
            Damage(name: "the two newest checkpoints deleted, LATEST moved back", file: "checkpoints") { run in
                try FileManager.default.removeItem(at: run.appendingPathComponent(newest))
                try FileManager.default.removeItem(at: run.appendingPathComponent("checkpoints/step-00000004"))
                try write(Array("step-00000002\n".utf8), run.appendingPathComponent("checkpoints/LATEST"))
            },
            Damage(name: "shard of step 4 under a re-signed manifest", file: manifest6) { run in
                let other = run.appendingPathComponent("checkpoints/step-00000004")
                try FileManager.default.removeItem(at: run.appendingPathComponent(shard6))
                try FileManager.default.copyItem(at: other.appendingPathComponent("shard-00000.safetensors.zst"),
                                                 to: run.appendingPathComponent(shard6))
                let step4 = try JSONValue.parse(String(decoding: try Data(contentsOf: other.appendingPathComponent("manifest.json")), as: UTF8.self))
                try editManifest(run.appendingPathComponent(manifest6), resign: true) { v in
                    var v = v
                    for key in ["tensors", "shards", "state_sha256", "data_cursor"] { v = replacing(v, [.key(key)], with: step4[key] ?? .null) }
                    return v
                }
            },
            Damage(name: "step 4's checkpoint renamed to step 6, re-signed", file: manifest6) { run in
                let c = run.appendingPathComponent(newest)
                try FileManager.default.removeItem(at: c)
                try FileManager.default.copyItem(at: run.appendingPathComponent("checkpoints/step-00000004"), to: c)
                try editManifest(run.appendingPathComponent(manifest6), resign: true) { replacing($0, [.key("step")], with: .int(6)) }
            },
            Damage(name: "the newest checkpoint emptied", file: manifest6) { run in
                let c = run.appendingPathComponent(newest)
                for f in try FileManager.default.contentsOfDirectory(atPath: c.path) { try FileManager.default.removeItem(at: c.appendingPathComponent(f)) }
            },
            Damage(name: "the newest checkpoint replaced by a file", file: newest) { run in
                let c = run.appendingPathComponent(newest)
                try FileManager.default.removeItem(at: c); try write([1], c)
            },
            Damage(name: "hashes.jsonl: step 6's state edited", file: manifest6) { run in
                let u = run.appendingPathComponent("hashes.jsonl")
                var lines = String(decoding: try bytes(u), as: UTF8.self).split(separator: "\n").map(String.init)
                let v = try JSONValue.parse(lines[5])
                lines[5] = replacing(v, [.key("state_sha256")], with: .string(String(repeating: "d", count: 64))).serialized()
                try write(Array((lines.joined(separator: "\n") + "\n").utf8), u)
            },
            Damage(name: "hashes.jsonl: step 3's line deleted", file: "hashes.jsonl") { run in
                let u = run.appendingPathComponent("hashes.jsonl")
                var lines = String(decoding: try bytes(u), as: UTF8.self).split(separator: "\n").map(String.init)
                lines.remove(at: 2)
                try write(Array((lines.joined(separator: "\n") + "\n").utf8), u)
            },
            Damage(name: "hashes.jsonl: a garbage line", file: "hashes.jsonl") { run in
                let u = run.appendingPathComponent("hashes.jsonl")
                var lines = String(decoding: try bytes(u), as: UTF8.self).split(separator: "\n").map(String.init)
                lines[1] = "{\"step\": 2, garbage"
                try write(Array((lines.joined(separator: "\n") + "\n").utf8), u)
            },
            Damage(name: "config.json: lr edited", file: "config.json") { run in
                let u = run.appendingPathComponent("config.json")
                let v = try JSONValue.parse(String(decoding: try bytes(u), as: UTF8.self))
                try write(Array(replacing(v, [.key("train"), .key("lr")], with: .number("0.5")).pretty().utf8), u)
            },
        ]
    }()

    /// Damage to an older checkpoint: verify refuses; resume (from the intact newest) goes on.
    static let olderDamages: [Damage] = [
        Damage(name: "step 2's shard byte flipped", file: "checkpoints/step-00000002/shard-00000.safetensors.zst") { run in
            let u = run.appendingPathComponent("checkpoints/step-00000002/shard-00000.safetensors.zst")
            var b = try bytes(u); b[40] ^= 0x80; try write(b, u)
        },
        Damage(name: "step 4's manifest deleted", file: "checkpoints/step-00000004/manifest.json") { run in
            try FileManager.default.removeItem(at: run.appendingPathComponent("checkpoints/step-00000004/manifest.json"))
        },
        Damage(name: "step 2's state edited in hashes.jsonl", file: "checkpoints/step-00000002/manifest.json") { run in
            let u = run.appendingPathComponent("hashes.jsonl")
            var lines = String(decoding: try bytes(u), as: UTF8.self).split(separator: "\n").map(String.init)
            let v = try JSONValue.parse(lines[1])
            lines[1] = replacing(v, [.key("state_sha256")], with: .string(String(repeating: "e", count: 64))).serialized()
            try write(Array((lines.joined(separator: "\n") + "\n").utf8), u)
        },
    ]

    func copy(_ from: URL, to: URL) throws {
        try? FileManager.default.removeItem(at: to)
        try FileManager.default.copyItem(at: from, to: to)
    }

    @Test func verifyAndResumeRefuseEveryDamagedRunNamingTheFile() throws {
        let tmp = try temporaryDirectory("integrity")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let clean = tmp.appendingPathComponent("clean")
        try Self.train(clean, try Self.config())
        #expect(Self.verify(clean) == nil)
        #expect(Self.damages.count + Self.olderDamages.count >= 30)

        var silent: [String] = []
        for d in Self.damages {
            let run = tmp.appendingPathComponent("damaged")
            try copy(clean, to: run)
            try d.apply(run)
            let file = run.appendingPathComponent(d.file).path
            let verdict = Self.verify(run)
            if verdict == nil { silent.append("verify: \(d.name)") }
            #expect(verdict?.contains(file) == true, "verify, \(d.name): \(verdict ?? "passed")")
            let checkpointsOnly = Self.verify(run, checkpointsOnly: true)
            #expect(checkpointsOnly?.contains(file) == true, "verify --checkpoints-only, \(d.name): \(checkpointsOnly ?? "passed")")
            do {
                try Self.resume(run)
                silent.append("resume: \(d.name)")
            } catch {
                #expect("\(error)".contains(file), "resume, \(d.name): \(error)")
                #expect(!"\(error)".contains("\n"), "resume, \(d.name): more than one line")
            }
        }
        for d in Self.olderDamages {
            let run = tmp.appendingPathComponent("older")
            try copy(clean, to: run)
            try d.apply(run)
            let verdict = Self.verify(run)
            if verdict == nil { silent.append("verify: \(d.name)") }
            #expect(verdict?.contains(run.appendingPathComponent(d.file).path) == true, "verify, \(d.name): \(verdict ?? "passed")")
        }
        #expect(silent.isEmpty, "accepted silently: \(silent)")
        print("\(Self.damages.count + Self.olderDamages.count) kinds of damage: verify refused all, resume refused \(Self.damages.count) of \(Self.damages.count)")
    }

    @Test func fallbackResumesFromTheNewestIntactCheckpointBitExact() throws {
        let tmp = try temporaryDirectory("fallback")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let clean = tmp.appendingPathComponent("clean")
        try Self.train(clean, try Self.config())
        let want = try Data(contentsOf: clean.appendingPathComponent("hashes.jsonl"))
        let run = tmp.appendingPathComponent("run")
        try copy(clean, to: run)
        // The newest checkpoint and the one before it are damaged.
        try FileManager.default.removeItem(at: run.appendingPathComponent(Self.shard6))
        let shard4 = run.appendingPathComponent("checkpoints/step-00000004/shard-00000.safetensors.zst")
        var b = try Self.bytes(shard4); b[100] ^= 1; try Self.write(b, shard4)
        var refusal = ""
        do { try Self.resume(run) } catch { refusal = "\(error)" }
        #expect(refusal.contains("newest intact checkpoint is step-00000002") && refusal.contains("--resume --fallback"), "\(refusal)")
        try Self.resume(run, fallback: true)
        #expect(try Data(contentsOf: run.appendingPathComponent("hashes.jsonl")) == want)
        #expect(Self.verify(run) == nil)
        let names = try FileManager.default.contentsOfDirectory(atPath: run.appendingPathComponent("checkpoints").path).sorted()
        #expect(names == ["LATEST", "step-00000002", "step-00000004", "step-00000004.rejected", "step-00000006", "step-00000006.rejected"])
    }

    /// Every fsync, rename and unlink of every checkpoint write (prune included)
    /// in turn is where the process "dies"; resume then ends with the
    /// uninterrupted run's hashes.jsonl, and verify passes.
    @Test func aCheckpointWriteStoppedAtAnyDiskStepResumesBitExact() throws {
        let tmp = try temporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let config = try Self.config(keepLast: 2)
        let clean = tmp.appendingPathComponent("clean")
        let steps = DiskSteps()
        try Self.train(clean, config, crashBefore: { steps.append($0); return false })
        let want = try Data(contentsOf: clean.appendingPathComponent("hashes.jsonl"))
        let all = steps.list
        #expect(all.count >= 25, "\(all.count) disk steps")
        #expect(all.contains { if case .unlink = $0 { return true }; return false })   // pruning ran
        let base = clean.path
        for (k, step) in all.enumerated() {
            let run = tmp.appendingPathComponent("run")
            try? FileManager.default.removeItem(at: run)
            let counter = DiskSteps()
            var crashed = false
            do {
                try Self.train(run, config, crashBefore: { counter.append($0); return counter.count == k + 1 })
            } catch is CheckpointCrash {
                crashed = true
            }
            #expect(crashed, "no crash at disk step \(k)")
            let label = "stopped before \(step.description.replacingOccurrences(of: base, with: "RUN"))"
            do { try Self.resume(run) } catch { Issue.record("\(label): resume failed: \(error)"); continue }
            #expect(try Data(contentsOf: run.appendingPathComponent("hashes.jsonl")) == want, "\(label)")
            #expect(Self.verify(run) == nil, "\(label): \(Self.verify(run) ?? "")")
        }
        print("\(all.count) disk steps of 3 checkpoint writes: each a crash point, each resumed bit-exact")
    }

    /// A forgery the files cannot show — the config changed and every
    /// config hash re-signed — is caught when resume redoes a step the run
    /// recorded before it stopped.
    @Test func resumeRedoesRecordedStepsAndRefusesWhenTheyDiffer() throws {
        let tmp = try temporaryDirectory("redo")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let clean = tmp.appendingPathComponent("clean")
        try Self.train(clean, try Self.config())
        let run = tmp.appendingPathComponent("run")
        try copy(clean, to: run)
        // As a kill during the last checkpoint write leaves it: steps 5 and 6 recorded, newest checkpoint 4.
        try FileManager.default.removeItem(at: run.appendingPathComponent(Self.newest))
        try Self.write(Array("step-00000004\n".utf8), run.appendingPathComponent("checkpoints/LATEST"))
        let intact = tmp.appendingPathComponent("intact")
        try copy(run, to: intact)
        try Self.resume(intact)   // the same config redoes steps 5 and 6 as recorded
        #expect(try Data(contentsOf: intact.appendingPathComponent("hashes.jsonl")) == Data(contentsOf: clean.appendingPathComponent("hashes.jsonl")))

        let recorded = try Data(contentsOf: run.appendingPathComponent("hashes.jsonl"))
        let configURL = run.appendingPathComponent("config.json")
        var v = try JSONValue.parse(String(decoding: try Self.bytes(configURL), as: UTF8.self))
        v = Self.replacing(v, [.key("train"), .key("lr")], with: .number("0.005"))
        try Self.write(Array(v.pretty().utf8), configURL)
        let forged = try ExperimentConfig.fromRunConfig(configURL).identitySHA256
        v = Self.replacing(v, [.key("run"), .key("config_sha256")], with: .string(forged))
        try Self.write(Array(v.pretty().utf8), configURL)
        for step in ["00000002", "00000004"] {
            try Self.editManifest(run.appendingPathComponent("checkpoints/step-\(step)/manifest.json"), resign: true) {
                Self.replacing($0, [.key("config_sha256")], with: .string(forged))
            }
        }
        var refusal = ""
        do { try Self.resume(run) } catch { refusal = "\(error)" }
        #expect(refusal.contains(run.appendingPathComponent("hashes.jsonl").path) && refusal.contains("resumed step 5"), "\(refusal)")
        #expect(try Data(contentsOf: run.appendingPathComponent("hashes.jsonl")) == recorded)   // the record is kept
        #expect(Self.verify(run) != nil)
    }

    @Test func aRunWithNoCheckpointStartsAgainOnResume() throws {
        let tmp = try temporaryDirectory("restart")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let config = try Self.config()
        let clean = tmp.appendingPathComponent("clean")
        try Self.train(clean, config)
        let run = tmp.appendingPathComponent("run")
        try copy(clean, to: run)
        try FileManager.default.removeItem(at: run.appendingPathComponent("checkpoints"))
        // As a kill leaves it: some lines written, the last one cut short.
        let hashes = run.appendingPathComponent("hashes.jsonl")
        let b = try Self.bytes(hashes)
        try Self.write(Array(b.prefix(b.count / 3)), hashes)
        try Self.resume(run)
        #expect(try Data(contentsOf: hashes) == Data(try Self.bytes(clean.appendingPathComponent("hashes.jsonl"))))
        #expect(Self.verify(run) == nil)
    }

    @Test func oneWriterPerRunDirectory() throws {
        let tmp = try temporaryDirectory("lock")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let config = try Self.config()
        let run = tmp.appendingPathComponent("run")
        try Self.train(run, config)
        var held: RunLock? = try RunLock(run, purpose: "train")
        let pid = "process \(getpid()) (simply train)"
        var refusals: [String] = []
        do { try Self.resume(run) } catch { refusals.append("\(error)") }
        do { _ = try Verify.run(RunDirectory(run), from: nil, steps: nil, threads: 1, log: { _ in }) } catch { refusals.append("\(error)") }
        do { try Self.train(run, config) } catch { refusals.append("\(error)") }
        #expect(refusals.count == 3)
        for r in refusals { #expect(r.contains(pid) && r.contains("in use"), "\(r)") }
        // Another process: refused by the kernel's lock, naming this process.
        let other = try runSimply(["verify", run.path], cwd: configsURL.deletingLastPathComponent())
        #expect(other.status == 1 && other.stderr.contains("in use by \(pid)"), "\(other.stderr)")
        withExtendedLifetime(held) {}
        held = nil
        #expect(Self.verify(run) == nil)   // the lock went with its holder
    }

    @Test func aFullDiskEndsTheRunWithOneLine() throws {
        let writer = try LineWriter(URL(fileURLWithPath: "/dev/full"))
        do {
            try writer.write(.object([("step", .int(1))]))
            Issue.record("writing to /dev/full succeeded")
        } catch {
            #expect("\(error)".contains("/dev/full") && "\(error)".contains("No space left"), "\(error)")
        }
    }

    @Test func hashesRecordNamesBadLinesAndToleratesACutShortLastLine() throws {
        let tmp = try temporaryDirectory("hashes")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let u = tmp.appendingPathComponent("hashes.jsonl")
        let line = { (s: Int) in "{\"batch_sha256\":\"x\",\"loss_bits\":\"0\",\"state_sha256\":\"s\(s)\",\"step\":\(s)}" }
        try Self.write(Array((line(1) + "\n" + line(2) + "\n{\"step\":3,\"loss").utf8), u)
        let cut = try HashesRecord.read(u)
        #expect(cut.problems.isEmpty && cut.partialLastLine && cut.lines.map(\.step) == [1, 2])
        try Self.write(Array((line(1) + "\nnot json\n" + line(3) + "\n").utf8), u)
        let bad = try HashesRecord.read(u)
        #expect(bad.problems.count == 2 && bad.problems[0].hasPrefix(u.path + ":2:") && bad.problems[1].hasPrefix(u.path + ":3:"))
    }
}

/// The disk steps a hook saw, from any thread.
final class DiskSteps: @unchecked Sendable {
    private let lock = NSLock()
    private var steps: [CheckpointDiskStep] = []
    func append(_ s: CheckpointDiskStep) { lock.withLock { steps.append(s) } }
    var list: [CheckpointDiskStep] { lock.withLock { steps } }
    var count: Int { lock.withLock { steps.count } }
}
