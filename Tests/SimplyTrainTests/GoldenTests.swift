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
        // Every training mode has its golden run (the post-training ones train on golden/data/).
        #expect(Set(["tiny.json", "tiny-shards.json", "sft.json", "dpo.json", "reward.json", "grpo.json", "grpo-mu2.json",
                     "ppo.json", "distill.json"]).isSubset(of: Set(files)), "\(files)")
        for (i, f) in files.enumerated() {
            let r = try runSimply(["verify", "--golden", "golden/runs/\(f)", "--threads", "\(1 + i % 2)"], cwd: repo)
            #expect(r.status == 0 && r.stdout.contains("identical"), "\(f): \(r.stdout)\(r.stderr)")
        }
    }

    /// A golden file with no hashes, too few, or a missing key fails; it never passes by comparing nothing.
    @Test func anEmptyOrIncompleteGoldenFails() throws {
        let tmp = try temporaryDirectory("golden-empty")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let text = try String(contentsOf: repo.appendingPathComponent("golden/runs/tiny.json"), encoding: .utf8)
        guard case let .object(fields) = try JSONValue.parse(text), case let .array(hashes)? = try JSONValue.parse(text)["hashes"] else {
            Issue.record("golden/runs/tiny.json is not an object with hashes"); return
        }
        let cases: [(String, JSONValue, String)] = [
            ("empty", .object(fields.map { $0.0 == "hashes" ? ($0.0, .array([])) : $0 }), "0 hashes for"),
            ("short", .object(fields.map { $0.0 == "hashes" ? ($0.0, .array(Array(hashes.prefix(2)))) : $0 }), "2 hashes for"),
            ("no-hashes", .object(fields.filter { $0.0 != "hashes" }), "needs config, overrides, steps and hashes"),
        ]
        for (name, value, message) in cases {
            let f = tmp.appendingPathComponent("\(name).json")
            try Data(value.pretty().utf8).write(to: f)
            let r = try runSimply(["verify", "--golden", f.path], cwd: repo)
            #expect(r.status != 0 && (r.stdout + r.stderr).contains(message), "\(name): \(r.stdout)\(r.stderr)")
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
