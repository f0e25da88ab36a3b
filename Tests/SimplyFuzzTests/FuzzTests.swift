import Foundation
import Testing
import SimplyFuzz

/// Every fuzz target over a fixed, seeded run of mutations, and every stored
/// input that once crashed a parser. A crash here stops the test process.
@Suite struct FuzzTests {
    /// Where crashing inputs are kept: Regressions/TARGET/NAME, next to this file.
    static let regressions = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Regressions")

    /// Mutations per target, sized so the suite takes a few seconds in release.
    static let budget: [String: Int] = ["json": 60_000, "safetensors": 60_000, "manifest": 20_000,
                                        "tokenizer": 20_000, "hf-tokenizer": 1_000, "config": 2_000, "jsonl": 8_000,
                                        "lora": 20_000]

    @Test(arguments: FuzzTargets.names)
    func targetSurvivesSeededMutations(name: String) throws {
        let target = try #require(FuzzTargets.named(name))
        let runs = try #require(Self.budget[name], "no budget for \(name)")
        let stats = FuzzRunner.run(target, seed: 20261203, runs: runs)
        #expect(stats.runs == runs)
    }

    @Test func everyTargetHasValidSeeds() throws {
        for t in FuzzTargets.all {
            #expect(!t.seeds().isEmpty, "\(t.name) has no seeds")
        }
    }

    /// The same seed gives the same inputs: a run can be replayed.
    @Test func mutationsAreDeterministic() {
        let corpus = [Array(#"{"a": [1, 2.5, "x"], "b": {"c": null}}"#.utf8), Array("plain".utf8)]
        func sequence(_ seed: UInt64) -> [[UInt8]] {
            var m = Mutator(seed: seed)
            return (0..<200).map { m.mutate(corpus[$0 % 2], corpus: corpus) }
        }
        #expect(sequence(7) == sequence(7))
        #expect(sequence(7) != sequence(8))
    }

    /// Numbers are replaced with boundary values.
    @Test func numberReplacementUsesBoundaryValues() {
        var m = Mutator(seed: 3)
        var seen = Set<String>()
        for _ in 0..<400 {
            var b = Array(#"{"n": 12}"#.utf8)
            m.replaceNumber(&b)
            seen.insert(String(decoding: b, as: UTF8.self))
        }
        for v in ["4294967296", "-1", "1e308", "9223372036854775807", "2147483647"] {
            #expect(seen.contains(#"{"n": \#(v)}"#), "never tried \(v)")
        }
    }

    @Test func storedRegressionsRunWithoutCrashing() throws {
        let fm = FileManager.default
        var count = 0
        for name in FuzzTargets.names {
            let dir = Self.regressions.appendingPathComponent(name)
            let files = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            let target = try #require(FuzzTargets.named(name))
            for f in files {
                let bytes = try #require(fm.contents(atPath: dir.appendingPathComponent(f).path), "cannot read \(name)/\(f)")
                target.run([UInt8](bytes))
                count += 1
            }
        }
        #expect(count >= 6, "regression inputs not found under \(Self.regressions.path)")
    }

    @Test func unknownTargetIsNil() {
        #expect(FuzzTargets.named("nope") == nil)
        #expect(Set(FuzzTargets.names) == ["json", "safetensors", "manifest", "tokenizer", "hf-tokenizer", "config", "jsonl", "lora"])
    }
}
