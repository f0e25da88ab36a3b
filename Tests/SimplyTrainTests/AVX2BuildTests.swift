import Foundation
import Testing
import SimplyCore

/// "The same bits on every build": the test suite builds a second binary for
/// x86-64-v3 (AVX2 + FMA, `SIMPLY_TARGET_CPU=haswell`, the 6×16 ymm kernel)
/// in its own scratch path, checks that it holds no 512-bit instruction, and
/// runs every golden run with it. On an AVX-512 host the suite's own binary
/// runs the 14×32 zmm kernel, so the goldens are then reproduced by both
/// kernels; `GoldenTests` checks the host binary.
@Suite(.serialized) struct AVX2BuildTests {
    var repo: URL { configsURL.deletingLastPathComponent() }

    func run(_ executable: String, _ args: [String], environment: [String: String] = [:]) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.currentDirectoryURL = repo
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes while the process runs (a full pipe would block it).
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return ProcessResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self))
    }

    /// `swift` on PATH, else the toolchain's usual place.
    var swift: String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(dir)/swift"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return "/opt/swift/usr/bin/swift"
    }

    /// Lines of `objdump -d` of `binary` that name a zmm register.
    func zmmLines(_ binary: URL) throws -> Int {
        let r = try run("/bin/sh", ["-c", "objdump -d --no-show-raw-insn '\(binary.path)' | grep -c '%zmm' || true"])
        #expect(r.status == 0, "objdump: \(r.stderr)")
        return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test func avx2BuildHasNo512BitInstructionsAndReproducesEveryGolden() throws {
        let scratch = repo.appendingPathComponent(".build-avx2")
        let build = try run(swift, ["build", "-c", "release", "--product", "simply", "--scratch-path", scratch.path],
                            environment: ["SIMPLY_TARGET_CPU": "haswell"])
        #expect(build.status == 0, "AVX2 build: \(build.stdout.suffix(2000)) \(build.stderr.suffix(2000))")
        let binary = scratch.appendingPathComponent("release/simply")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            Issue.record("no AVX2 binary at \(binary.path)"); return
        }
        #expect(try zmmLines(binary) == 0, "the AVX2 build holds 512-bit instructions")
        // The check can fail: on an AVX-512 host the suite's own binary uses zmm registers.
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if flags.contains(" avx512f "), let host = simplyBinary() {
            #expect(try zmmLines(host) > 0, "the host build on an AVX-512 machine has no zmm instruction")
        }
        let dir = repo.appendingPathComponent("golden/runs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 9)
        for (i, f) in files.enumerated() {
            let r = try run(binary.path, ["verify", "--golden", "golden/runs/\(f)", "--threads", "\(2 - i % 2)"])
            #expect(r.status == 0 && r.stdout.contains("identical"), "AVX2 binary, \(f): \(r.stdout)\(r.stderr)")
        }
    }
}
