import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyRun
import SimplyTrain

@Suite struct MixtureTests {
    /// Two token shards with different text, written to a temporary folder.
    func shards() throws -> (URL, String) {
        let dir = try temporaryDirectory("mixture")
        for (name, seed) in [("a", UInt64(11)), ("b", UInt64(12))] {
            let tokens = ByteTokenizer().encode(SyntheticCorpus.generate(seed: seed, bytes: 30_000 + Int(seed) * 1000))
            try TokenShard.write(tokens: tokens, vocabSize: 259, tokenizerName: "byte", documentCount: 1,
                                 to: dir.appendingPathComponent("\(name).tokens"))
        }
        return (dir, dir.appendingPathComponent("a.tokens").path + "@0.7," + dir.appendingPathComponent("b.tokens").path + "@0.3")
    }

    /// A mixture run resumed mid-way sees exactly the batches (and bits) of an uninterrupted one.
    @Test func resumedMixtureSeesTheSameBatches() throws {
        let (dir, spec) = try shards()
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = try microConfig(steps: 8, shards: 2)
        config.data.dataset = spec
        let data = try TrainingData.load(config)
        #expect(data.parts.count == 2 && data.parts.map(\.weight) == [0.7, 0.3])

        let a = try Trainer(config: config, data: data, runtime: RuntimeOptions(threads: 2, deterministic: true))
        var lines: [String] = []
        var snapshot: [[Float]] = []
        for _ in 0..<8 {
            lines.append(a.trainStep().hashLine.serialized())
            if a.step == 4 { snapshot = a.stateTensors().map { $0.tensor.toArray() } }
        }
        let b = try Trainer(config: config, data: try TrainingData.load(config), runtime: RuntimeOptions(threads: 1, deterministic: true))
        for (t, values) in zip(b.stateTensors(), snapshot) { t.tensor.copy(from: values) }
        b.resume(atStep: 4)
        let resumed = (0..<4).map { _ in b.trainStep().hashLine.serialized() }
        #expect(resumed == Array(lines[4...]))

        // The weights decide the batches: all weight on one part gives other batches.
        var onlyB = config
        onlyB.data.dataset = spec.replacingOccurrences(of: "@0.7", with: "@0").replacingOccurrences(of: "@0.3", with: "@1")
        let c = try Trainer(config: onlyB, data: try TrainingData.load(onlyB), runtime: RuntimeOptions(threads: 1, deterministic: true))
        #expect(c.trainStep().batchSHA256 != (try JSONValue.parse(lines[0]))["batch_sha256"]?.stringValue)
    }

    @Test func badMixtureSpecsNameTheKey() throws {
        var config = try microConfig()
        for bad in ["a.tokens@x,b.tokens@1", "a.tokens,b.tokens", "builtin:synthetic@0,builtin:synthetic@0"] {
            config.data.dataset = bad
            do { _ = try TrainingData.load(config); Issue.record("\(bad) accepted") } catch {
                #expect("\(error)".contains("data.dataset"), "\(error)")
            }
        }
    }
}
