import Foundation
import Testing
import SimplyCore

/// CI's bit-for-bit anchor: the checked-in golden/runs/*.json hashes must be
/// reproduced exactly (regenerate with tools/update-golden, and say why).
@Suite(.serialized) struct GoldenTests {
    var repo: URL { configsURL.deletingLastPathComponent() }

    @Test func goldenRunHashesAreReproduced() throws {
        let dir = repo.appendingPathComponent("golden/runs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 2)
        for (i, f) in files.enumerated() {
            let r = try runSimply(["verify", "--golden", "golden/runs/\(f)", "--threads", "\(1 + i % 2)"], cwd: repo)
            #expect(r.status == 0 && r.stdout.contains("identical"), "\(f): \(r.stdout)\(r.stderr)")
        }
    }

    @Test func aMovedBitIsCaughtAtItsStep() throws {
        let tmp = try temporaryDirectory("golden")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let text = try String(contentsOf: repo.appendingPathComponent("golden/runs/tiny.json"), encoding: .utf8)
        let golden = try JSONValue.parse(text)
        guard case let .array(hashes)? = golden["hashes"], let bits = hashes[2]["loss_bits"]?.stringValue else {
            Issue.record("golden/runs/tiny.json has no step 3"); return
        }
        let moved = String(format: "%08x", UInt32(bits, radix: 16)! ^ 1)
        let altered = tmp.appendingPathComponent("tiny.json")
        try text.replacingOccurrences(of: "\"\(bits)\"", with: "\"\(moved)\"").write(to: altered, atomically: true, encoding: .utf8)
        let r = try runSimply(["verify", "--golden", altered.path], cwd: repo)
        #expect(r.status == 1)
        #expect(r.stdout.contains("step 3: loss_bits differs"), "\(r.stdout)\(r.stderr)")
    }
}
