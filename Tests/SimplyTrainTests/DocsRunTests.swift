import Foundation
import Testing

/// Every command in the README and the guides works as written, in order, on
/// a fresh clone: `tools/doctest.sh --fast` clones this repository's HEAD
/// (committed files only), runs the quick start (setup builds the clone) and
/// every `sh` block with `simply train` capped at 3 steps, and skips only the
/// blocks marked `# doctest: full` (they need the full recipe's runs).
@Suite(.serialized) struct DocsRunTests {
    @Test func everyDocumentedCommandRunsOnAFreshClone() throws {
        let repo = configsURL.deletingLastPathComponent()
        let work = try temporaryDirectory("doctest")
        defer { try? FileManager.default.removeItem(at: work) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [repo.appendingPathComponent("tools/doctest.sh").path, "--fast"]
        p.currentDirectoryURL = repo
        p.environment = ProcessInfo.processInfo.environment.merging(["DOCTEST_DIR": work.path]) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(text.suffix(3000))")
        #expect(text.contains("doctest: all blocks ran"), "\(text.suffix(3000))")
        let ran = text.split(separator: "\n").filter { $0.hasSuffix(" s)") && $0.contains(" ok (") }.count
        #expect(ran >= 15, "only \(ran) blocks ran:\n\(text)")
    }
}
