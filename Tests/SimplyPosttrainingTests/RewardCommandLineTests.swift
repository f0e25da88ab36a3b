import Foundation
import Testing
import SimplyData

/// The `simply` binary that `swift test` built beside the test bundle.
func simplyExecutable() -> URL? {
    var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("simply")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}

struct Finished { let status: Int32; let stdout: String; let stderr: String }

/// Runs `simply args` in the repository; with `stopAfterSteps`, sends SIGTERM
/// once RUN/hashes.jsonl has that many lines.
func simply(_ args: [String], stopAfterSteps: Int? = nil, run: URL? = nil) throws -> Finished {
    guard let bin = simplyExecutable() else { throw CocoaError(.fileNoSuchFile) }
    let p = Process()
    p.executableURL = bin
    p.arguments = args
    p.currentDirectoryURL = repositoryURL
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    if let n = stopAfterSteps, let run {
        let hashes = run.appendingPathComponent("hashes.jsonl")
        func lines() -> Int { FileManager.default.contents(atPath: hashes.path).map { $0.filter { $0 == 10 }.count } ?? 0 }
        let deadline = Date().addingTimeInterval(120)
        while lines() < n && p.isRunning && Date() < deadline { usleep(2_000) }
        kill(p.processIdentifier, SIGTERM)
    }
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Finished(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// The reward mode on the real binary: a run stopped by SIGTERM and resumed
/// writes the same hashes.jsonl as an uninterrupted one, `simply verify`
/// replays it on another thread count, and `simply eval reward` scores a
/// held-out shard the same on 1 and 2 threads.
@Suite(.serialized) struct RewardCommandLineTests {
    static let small = ["--set", "model.d_model=32", "--set", "model.n_layers=2", "--set", "model.d_ff=64",
                        "--set", "model.seq_len=32", "--set", "train.steps=16", "--set", "train.warmup_steps=2",
                        "--set", "checkpoint.interval=4"]

    @Test func resumeVerifyAndEval() throws {
        let dir = try makeTempDir("cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = try preferenceShard(dir, count: 64), test = try preferenceShard(dir, count: 16, split: .test)
        func args(_ run: URL) -> [String] {
            ["train", "--experiment_config", "tiny_reward", "--experiment_dir", run.path, "--deterministic", "--threads", "2",
             "--set", "data.dataset=\(train.path)"] + Self.small
        }
        let clean = dir.appendingPathComponent("clean")
        let r = try simply(args(clean))
        #expect(r.status == 0, "\(r.stderr)")
        let want = try Data(contentsOf: clean.appendingPathComponent("hashes.jsonl"))
        #expect(want.filter { $0 == 10 }.count == 16)
        let metrics = try String(contentsOf: clean.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        #expect(metrics.contains("\"accuracy\"") && metrics.contains("\"reward_max\""))

        let stopAt = stopStep(2...12, "reward.term")
        let term = dir.appendingPathComponent("term")
        let t = try simply(args(term), stopAfterSteps: stopAt, run: term)
        #expect(t.status == 0 && t.stdout.contains("resume with:"), "SIGTERM after step \(stopAt): \(t.stdout) \(t.stderr)")
        let resumed = try simply(["train", "--experiment_dir", term.path, "--resume", "--threads", "1"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Data(contentsOf: term.appendingPathComponent("hashes.jsonl")) == want, "SIGTERM after step \(stopAt)")

        let v = try simply(["verify", clean.path, "--threads", "1"])
        #expect(v.status == 0 && v.stdout.contains("verified steps 1-16"), "\(v.stdout) \(v.stderr)")

        let e1 = try simply(["eval", "reward", "--checkpoint", clean.path, "--data", test.path, "--threads", "1", "--json"])
        let e2 = try simply(["eval", "reward", "--checkpoint", clean.path, "--data", test.path, "--threads", "2", "--json",
                             "--batch_pairs", "3"])
        #expect(e1.status == 0, "\(e1.stderr)")
        #expect(e1.stdout == e2.stdout && e1.stdout.contains("\"pairs\":16"), "\(e1.stdout) vs \(e2.stdout)")
        // Not preference data: a clear error.
        let bad = try simply(["eval", "reward", "--checkpoint", clean.path, "--data", dir.appendingPathComponent("nope.ex").path])
        #expect(bad.status != 0 && bad.stderr.contains("nope.ex"))
    }
}
