import Foundation
import Testing
import SimplyCore
import SimplyRun
import SimplyTrain

/// The `simply` binary that `swift test` built beside the test bundle.
func simplyBinary() -> URL? {
    var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("simply")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}

func runSimply(_ args: [String], cwd: URL) throws -> (status: Int32, stdout: String, stderr: String) {
    let bin = try #require(simplyBinary(), "simply binary not found next to the tests")
    let p = Process()
    p.executableURL = bin
    p.arguments = args
    p.currentDirectoryURL = cwd
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

@Suite(.serialized) struct HFCommandLineTests {
    /// export → import → eval logits on the binary: the imported run gives the
    /// trained run's logits bit for bit; bad input is one line and exit 1.
    @Test func exportImportAndLogitsOnTheBinary() throws {
        let dir = try scratchDirectory("cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try trainedRun(dir.appendingPathComponent("run"))
        let e = try runSimply(["export", "--format", "hf", "--checkpoint", "run", "hf"], cwd: dir)
        #expect(e.status == 0, "\(e.stderr)")
        #expect(e.stdout.contains("LlamaForCausalLM"))
        let again = try runSimply(["export", "--format", "hf", "--checkpoint", "run", "hf"], cwd: dir)
        #expect(again.status == 1 && again.stderr.hasPrefix("error: ") && again.stderr.contains("not empty"))
        let i = try runSimply(["import", "hf", "back"], cwd: dir)
        #expect(i.status == 0, "\(i.stderr)")
        // An imported model is a starting point, not a run: resume and verify say so in one line.
        for args in [["train", "--experiment_dir", "back", "--resume", "--deterministic"], ["verify", "back"]] {
            let r = try runSimply(args, cwd: dir)
            let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }   // train prints its banner first
            #expect(r.status == 1 && errors.count == 1 && errors[0].contains("an imported model (simply import)"), "\(r.stderr)")
        }

        // input_ids as I32: write the header by hand (SafetensorsWriter writes F32 only).
        let ids: [Int32] = (0..<32).map { Int32(($0 * 37) % 259) }
        let header = "{\"input_ids\":{\"dtype\":\"I32\",\"shape\":[2,16],\"data_offsets\":[0,128]}}"
        var bytes = [UInt8]()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8)
        for v in ids { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        try Data(bytes).write(to: dir.appendingPathComponent("tokens.safetensors"))
        var outputs: [Tensor] = []
        for (name, source) in [("a", "run"), ("b", "back")] {
            let r = try runSimply(["eval", "logits", "--checkpoint", source, "--tokens", "tokens.safetensors",
                                   "--out", "\(name).safetensors"], cwd: dir)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try JSONValue.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["loss"]?.doubleValue ?? 0 > 0)
            outputs.append(try SafetensorsFile.read(dir.appendingPathComponent("\(name).safetensors")).tensor("logits"))
        }
        #expect(outputs[0].shape == [2, 16, 259] && outputs[0].bitwiseEqual(outputs[1]))

        // An unsupported architecture: one line naming the file and key, nothing written.
        let config = dir.appendingPathComponent("hf/config.json")
        let text = String(decoding: try Data(contentsOf: config), as: UTF8.self)
        try Data(text.replacingOccurrences(of: "LlamaForCausalLM", with: "GPT2LMHeadModel").utf8).write(to: config)
        let bad = try runSimply(["import", "hf", "bad"], cwd: dir)
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("error: ") && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
        #expect(bad.stderr.contains("config.json: architectures: unsupported architecture GPT2LMHeadModel"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad").path))
    }
}
