import Foundation
import Testing
import SimplyCore

/// Preemption on the real binary with real signals (issue 3): a run stopped by
/// SIGTERM, or killed with SIGKILL, then resumed, ends with the same
/// hashes.jsonl as a run that was never interrupted; `simply verify` passes
/// on it and names what an altered file changed.
@Suite(.serialized) struct ResumeTests {
    static let overrides = ["--set", "train.steps=24", "--set", "checkpoint.interval=4", "--set", "train.warmup_steps=4",
                            "--set", "data.synthetic_bytes=200000"]
    var repo: URL { configsURL.deletingLastPathComponent() }

    func train(_ dir: URL, extra: [String] = []) throws -> ProcessResult {
        try runSimply(["train", "--experiment_config", "tiny", "--experiment_dir", dir.path, "--deterministic",
                       "--threads", "2"] + Self.overrides + extra, cwd: repo)
    }

    func resume(_ dir: URL, threads: Int = 1) throws -> ProcessResult {
        try runSimply(["train", "--experiment_dir", dir.path, "--resume", "--threads", "\(threads)"], cwd: repo)
    }

    func lineCount(_ url: URL) -> Int {
        guard let d = FileManager.default.contents(atPath: url.path) else { return 0 }
        return d.filter { $0 == UInt8(ascii: "\n") }.count
    }

    /// Starts training, waits until `afterSteps` steps are recorded, sends `signal`.
    func interrupted(_ dir: URL, afterSteps: Int, signal: Int32) throws -> (status: Int32, stdout: String) {
        guard let bin = simplyBinary() else { throw ConfigErrorForTests("simply binary not found") }
        let p = Process()
        p.executableURL = bin
        p.arguments = ["train", "--experiment_config", "tiny", "--experiment_dir", dir.path, "--deterministic",
                       "--threads", "2"] + Self.overrides
        p.currentDirectoryURL = repo
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let hashes = dir.appendingPathComponent("hashes.jsonl")
        let deadline = Date().addingTimeInterval(120)
        while lineCount(hashes) < afterSteps && p.isRunning && Date() < deadline { usleep(2_000) }
        kill(p.processIdentifier, signal)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self))
    }

    @Test func sigtermAndSigkillThenResumeGiveIdenticalHashes() throws {
        let tmp = try temporaryDirectory("resume")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let clean = tmp.appendingPathComponent("clean")
        let r = try train(clean)
        #expect(r.status == 0, "\(r.stderr)")
        let want = try Data(contentsOf: clean.appendingPathComponent("hashes.jsonl"))
        #expect(lineCount(clean.appendingPathComponent("hashes.jsonl")) == 24)

        // SIGTERM at a random step: finish the step, checkpoint, exit 0, say how to resume.
        let termStep = stopStep(2...20, "resume.term")
        let term = tmp.appendingPathComponent("term")
        let t = try interrupted(term, afterSteps: termStep, signal: SIGTERM)
        #expect(t.status == 0, "SIGTERM after step \(termStep): exit \(t.status)")
        #expect(t.stdout.contains("resume with: simply train --experiment_dir"), "\(t.stdout)")
        let rt = try resume(term)
        #expect(rt.status == 0, "\(rt.stderr)")
        #expect(try Data(contentsOf: term.appendingPathComponent("hashes.jsonl")) == want, "SIGTERM after step \(termStep)")

        // SIGKILL in the second half: resume from the last complete checkpoint.
        let killStep = stopStep(13...22, "resume.kill")
        let killed = tmp.appendingPathComponent("kill")
        let k = try interrupted(killed, afterSteps: killStep, signal: SIGKILL)
        #expect(k.status != 0)
        let rk = try resume(killed, threads: 2)
        #expect(rk.status == 0, "\(rk.stderr)")
        #expect(try Data(contentsOf: killed.appendingPathComponent("hashes.jsonl")) == want, "SIGKILL after step \(killStep)")
        print("SIGTERM after step \(termStep), SIGKILL after step \(killStep): hashes identical to the uninterrupted run")
    }

    @Test func verifyPassesAndNamesWhatChanged() throws {
        let tmp = try temporaryDirectory("verify")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let run = tmp.appendingPathComponent("run")
        #expect(try train(run, extra: ["--set", "train.steps=12", "--set", "checkpoint.keep_last=0"]).status == 0)

        let ok = try runSimply(["verify", run.path, "--threads", "1"], cwd: repo)
        #expect(ok.status == 0 && ok.stdout.contains("verified steps 1-12"), "\(ok.stdout)\(ok.stderr)")
        let fromCheckpoint = try runSimply(["verify", run.path, "--from", "8", "--threads", "2"], cwd: repo)
        #expect(fromCheckpoint.status == 0 && fromCheckpoint.stdout.contains("verified steps 9-12"), "\(fromCheckpoint.stdout)\(fromCheckpoint.stderr)")

        // One altered line of hashes.jsonl: the right step and hash.
        let hashes = run.appendingPathComponent("hashes.jsonl")
        let original = try String(contentsOf: hashes, encoding: .utf8)
        var lines = original.split(separator: "\n").map(String.init)
        let v = try JSONValue.parse(lines[4])
        let state = v["state_sha256"]!.stringValue!
        let flipped = (state.first == "0" ? "1" : "0") + state.dropFirst()
        lines[4] = lines[4].replacingOccurrences(of: state, with: flipped)
        try (lines.joined(separator: "\n") + "\n").write(to: hashes, atomically: true, encoding: .utf8)
        let bad = try runSimply(["verify", run.path], cwd: repo)
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("step 5: state_sha256 differs"), "\(bad.stdout)")
        try original.write(to: hashes, atomically: true, encoding: .utf8)

        // One altered byte of one tensor in the step-8 checkpoint (re-compressed, so
        // the file is a valid shard): verify stops at step 8 and names the tensor.
        let ckpt = run.appendingPathComponent("checkpoints/step-00000008")
        let shard = try FileManager.default.contentsOfDirectory(atPath: ckpt.path).filter { $0.hasSuffix(".safetensors.zst") }.sorted()[0]
        let zst = ckpt.appendingPathComponent(shard)
        let raw = tmp.appendingPathComponent("shard.safetensors")
        #expect(try runTool("zstd", ["-q", "-d", "-f", zst.path, "-o", raw.path]) == 0)
        var bytes = [UInt8](try Data(contentsOf: raw))
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
        let file = try SafetensorsFile.parse(bytes, name: "shard")
        let target = "model.layers.1.mlp.up_proj.weight"
        guard let entry = file.entries[target] else { Issue.record("no \(target) in the first shard"); return }
        bytes[8 + headerLength + entry.begin + 4 * 17 + 3] ^= 0x40   // the sign/exponent byte of element 17
        try Data(bytes).write(to: raw)
        #expect(try runTool("zstd", ["-q", "-f", raw.path, "-o", zst.path]) == 0)
        let damaged = try runSimply(["verify", run.path], cwd: repo)
        #expect(damaged.status == 1)
        #expect(damaged.stdout.contains("step 8") && damaged.stdout.contains(target), "\(damaged.stdout)\(damaged.stderr)")
        #expect(damaged.stdout.contains("largest absolute difference"))
    }
}

func runTool(_ name: String, _ args: [String]) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [name] + args
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}
