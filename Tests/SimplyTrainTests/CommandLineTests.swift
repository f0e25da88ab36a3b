import Foundation
import Testing
import SimplyCore
import SimplyRun
import SimplyTrain

/// The `simply` binary that `swift test` built beside the test bundle.
func simplyBinary() -> URL? {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("simply")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}

struct ProcessResult { let status: Int32; let stdout: String; let stderr: String }

/// The step at which an interruption test stops a run: drawn from a Philox
/// stream keyed by `name` and SIMPLY_TEST_SEED (default 1), never from an
/// unseeded generator, so a failure reproduces with the seed it prints.
func stopStep(_ range: ClosedRange<Int>, _ name: String) -> Int {
    let seed = ProcessInfo.processInfo.environment["SIMPLY_TEST_SEED"].flatMap { UInt64($0) } ?? 1
    return range.lowerBound + Int(RandomStream(seed: seed, name: "test.stop." + name).uint64(0) % UInt64(range.count))
}

func runSimply(_ args: [String], cwd: URL) throws -> ProcessResult {
    guard let bin = simplyBinary() else { throw ConfigErrorForTests("simply binary not found next to the tests") }
    let p = Process()
    p.executableURL = bin
    p.arguments = args
    p.currentDirectoryURL = cwd
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: e, as: UTF8.self))
}

struct ConfigErrorForTests: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func temporaryDirectory(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("simply-\(name)-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

@Suite(.serialized) struct CommandLineTests {
    /// docs/design.md's promise on the real binary: `tiny` twice, on 1 and on 2
    /// threads, writes byte-identical hashes.jsonl files.
    @Test func tinyHashesAreByteIdenticalAcrossRunsAndThreads() throws {
        let tmp = try temporaryDirectory("cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let repo = configsURL.deletingLastPathComponent()
        var files: [Data] = []
        for (i, threads) in [1, 2, 2, 1].enumerated() {
            let dir = tmp.appendingPathComponent("run\(i)")
            let r = try runSimply(["train", "--experiment_config", "tiny", "--experiment_dir", dir.path,
                                   "--deterministic", "--threads", "\(threads)", "--set", "train.steps=6"], cwd: repo)
            #expect(r.status == 0, "\(r.stderr)")
            files.append(try Data(contentsOf: dir.appendingPathComponent("hashes.jsonl")))
            let metrics = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            #expect(metrics.split(separator: "\n").count == 6)
            let config = try JSONValue.parse(try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8))
            #expect(config["run"]?["deterministic"]?.boolValue == true)
            #expect(config["train"]?["steps"]?.intValue == 6)
        }
        #expect(String(decoding: files[0], as: UTF8.self).split(separator: "\n").count == 6)
        #expect(files.allSatisfy { $0 == files[0] })
    }

    @Test func badInputIsAOneLineErrorNamingTheKey() throws {
        let tmp = try temporaryDirectory("cli-bad")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let repo = configsURL.deletingLastPathComponent()
        let r = try runSimply(["train", "--experiment_config", "tiny", "--experiment_dir", tmp.appendingPathComponent("x").path,
                               "--set", "model.d_modle=64"], cwd: repo)
        #expect(r.status != 0)
        #expect(r.stderr.contains("model.d_modle"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: tmp.appendingPathComponent("x").path))
    }

    /// A new user's slips get a suggestion: a TRL key name, a misspelt config name.
    @Test func didYouMeanForKeysAndConfigNames() throws {
        let repo = configsURL.deletingLastPathComponent()
        let key = try runSimply(["train", "--set", "train.learning_rate=1e-3"], cwd: repo)
        #expect(key.status != 0 && key.stderr.contains("did you mean 'train.lr'"), "\(key.stderr)")
        let name = try runSimply(["train", "--experiment_config", "tiny_stf"], cwd: repo)
        #expect(name.status != 0 && name.stderr.contains("did you mean 'tiny_sft'"), "\(name.stderr)")
    }

    /// `simply config keys` lists every key with its default, what it accepts and a meaning.
    @Test func configKeysListsEveryKeyWithItsMeaning() throws {
        let repo = configsURL.deletingLastPathComponent()
        let r = try runSimply(["config", "keys"], cwd: repo)
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        for row in ExperimentConfig.keyReference(.pretraining) {
            #expect(!row.meaning.isEmpty && !row.accepts.isEmpty, "\(row.name) needs a line in ConfigKeyHelp.swift")
            #expect(lines.contains { $0.hasPrefix(row.name + " ") && $0.contains(row.meaning) }, "\(row.name) is not listed")
        }
        let show = try runSimply(["config", "show", "tiny_sft", "--set", "train.steps=5"], cwd: repo)
        let shown = try JSONValue.parse(show.stdout)
        #expect(show.status == 0 && shown["train"]?["steps"]?.intValue == 5, "\(show.stdout)")
    }

    /// Output folders are created; --checkpoint and --load_checkpoint name the same thing on every command.
    @Test func outputFoldersAreCreatedAndCheckpointFlagsAreAliases() throws {
        let tmp = try temporaryDirectory("cli-out")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let repo = configsURL.deletingLastPathComponent()
        func path(_ s: String) -> String { tmp.appendingPathComponent(s).path }
        let g = try runSimply(["data", "generate", "--task", "addition", "--count", "8", "--split", "test", "--format", "prompt_only",
                               "--conversational", "--output", path("new/deeper/q.jsonl")], cwd: repo)
        #expect(g.status == 0, "\(g.stderr)")
        #expect(try runSimply(["data", "prepare", path("new/deeper/q.jsonl"), "--output", path("other/q.ex")], cwd: repo).status == 0)
        #expect(try runSimply(["train", "--experiment_dir", path("run"), "--deterministic", "--set", "train.steps=2",
                               "--set", "model.seq_len=96"], cwd: repo).status == 0)
        for flag in ["--checkpoint", "--load_checkpoint"] {
            let e = try runSimply(["eval", "generate", flag, path("run"), "--data", path("other/q.ex"), "--max_new_tokens", "2",
                                   "--out", path("results/\(flag)/eval.json")], cwd: repo)
            #expect(e.status == 0 && FileManager.default.fileExists(atPath: path("results/\(flag)/eval.json")), "eval \(flag): \(e.stderr)")
            let s = try runSimply(["sample", flag, path("run"), "--prompt", "ab", "--max_new_tokens", "2"], cwd: repo)
            #expect(s.status == 0, "sample \(flag): \(s.stderr)")
        }
    }

    @Test func refusesToOverwriteARun() throws {
        let tmp = try temporaryDirectory("cli-exists")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let repo = configsURL.deletingLastPathComponent()
        let dir = tmp.appendingPathComponent("run")
        let args = ["train", "--experiment_config", "tiny", "--experiment_dir", dir.path, "--deterministic", "--set", "train.steps=2"]
        #expect(try runSimply(args, cwd: repo).status == 0)
        let before = try Data(contentsOf: dir.appendingPathComponent("hashes.jsonl"))
        let again = try runSimply(args, cwd: repo)
        #expect(again.status != 0 && again.stderr.contains("already holds a run"))
        #expect(try Data(contentsOf: dir.appendingPathComponent("hashes.jsonl")) == before)
    }
}
