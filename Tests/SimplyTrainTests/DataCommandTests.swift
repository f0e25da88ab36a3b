import Foundation
import Testing

/// `simply data generate | prepare | inspect` on the real binary.
@Suite struct DataCommandTests {
    @Test func inspectShowsAlpacaAndPreferenceMasks() throws {
        let dir = try temporaryDirectory("data-inspect")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (format, file) in [("alpaca", "a.jsonl"), ("preference", "p.jsonl")] {
            let g = try runSimply(["data", "generate", "--task", "addition", "--count", "20", "--format", format, "--output", file], cwd: dir)
            #expect(g.status == 0, "\(g.stderr)")
            let p = try runSimply(["data", "prepare", file, "--output", file + ".ex"], cwd: dir)
            #expect(p.status == 0, "\(p.stderr)")
        }
        let first = try String(contentsOf: dir.appendingPathComponent("a.jsonl"), encoding: .utf8).split(separator: "\n")[0]
        let a = try runSimply(["data", "inspect", "a.jsonl.ex", "--count", "1"], cwd: dir)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout.contains("supervised examples: 20"))
        // The prompt line carries no loss; the answer, <|im_end|>, newline and eos do.
        let lines = a.stdout.split(separator: "\n").map(String.init)
        let answer = try #require(first.split(separator: "\"output\":").last?.split(separator: "\"").first.map(String.init))
        #expect(lines.contains { $0.hasPrefix("         │ <|bos|><|im_start|>user\\nWhat is ") && $0.hasSuffix("<|im_start|>assistant\\n") }, "\(a.stdout)")
        #expect(lines.contains("    loss │ \(answer)<|im_end|>\\n<|eos|>"), "\(a.stdout)")

        let p = try runSimply(["data", "inspect", "p.jsonl.ex", "--count", "1"], cwd: dir)
        #expect(p.status == 0, "\(p.stderr)")
        let pl = p.stdout.split(separator: "\n").map(String.init)
        let prompt = try #require(pl.firstIndex { $0.hasPrefix("  prompt (") })
        #expect(pl[prompt].hasSuffix(", 0 in the loss):") && pl[prompt + 1].hasPrefix("         │ <|bos|>What is "))
        let chosen = try #require(pl.firstIndex { $0.hasPrefix("  chosen (") })
        let rejected = try #require(pl.firstIndex { $0.hasPrefix("  rejected (") })
        #expect(pl[chosen + 1].hasPrefix("    loss │ ") && pl[chosen + 1].hasSuffix("<|eos|>"))
        #expect(pl[rejected + 1].hasPrefix("    loss │ ") && pl[rejected + 1] != pl[chosen + 1])
    }

    @Test func badRecordNamesTheLineOrIsSkippedWithTheFlag() throws {
        let dir = try temporaryDirectory("data-skip")
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = #"{"instruction": "a", "output": "b"}"# + "\n" + #"{"instruction": "c", "output": 7}"# + "\n"
        try Data(text.utf8).write(to: dir.appendingPathComponent("d.jsonl"))
        let bad = try runSimply(["data", "prepare", "d.jsonl", "--output", "d.ex"], cwd: dir)
        #expect(bad.status != 0)
        #expect(bad.stderr.hasPrefix("error: ") && bad.stderr.hasSuffix("/d.jsonl:2: alpaca: field \"output\" is a number, expected a string\n"),
                "\(bad.stderr)")
        #expect(bad.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("d.ex").path))
        let ok = try runSimply(["data", "prepare", "d.jsonl", "--output", "d.ex", "--skip_invalid"], cwd: dir)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("1 supervised examples") && ok.stdout.contains("skipped 1 invalid record"))
        #expect(ok.stdout.contains("d.jsonl:2: alpaca: field \"output\" is a number"))
    }
}
