import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

@Suite struct SFTTests {
    func trainer(_ config: ExperimentConfig, threads: Int = 1) throws -> (SFTObjective, Trainer) {
        let runtime = RuntimeOptions(threads: threads, deterministic: true)
        let o = try SFTObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil))
        return (o, Trainer(config: config, objective: o, runtime: runtime))
    }

    /// The loss is the mean next-token cross-entropy over the completion
    /// (assistant) tokens of the global batch, nothing else: recomputed here
    /// from per-position losses with every position weighted 1.
    @Test func lossIsTheMeanOverAssistantTokens() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.alpaca, count: 30, in: dir, name: "sft")
        let config = smallConfig(mode: .sft, dataset: data, batch: 4, shards: 2)
        let (o, t) = try trainer(config)
        let shard = try ExampleShard.read(data)
        let record = t.trainStep()   // step 0's batch, with the initial weights

        // Independent recomputation with a fresh model (same seed → same initial weights).
        let m = Transformer(config: config.model, maxBatch: config.train.batchSize)
        m.initialize(seed: config.train.seed)
        let cursor = DataCursor(numExamples: shard.examples.count, batchSize: 4, seed: config.train.seed)
        let seqLen = config.model.seqLen
        var inputs: [Int32] = [], targets: [Int32] = [], masked: [Bool] = []
        for slot in 0..<4 {
            let s = shard.examples[cursor.exampleIndex(step: 0, slot: slot)].sequences[0]
            #expect(s.count <= seqLen + 1)
            for j in 0..<seqLen {
                inputs.append(j < s.count ? s.tokens[j] : 258)
                targets.append(j + 1 < s.count ? s.tokens[j + 1] : 258)
                masked.append(j + 1 < s.count && s.mask[j + 1])
            }
        }
        _ = m.forward(tokens: inputs, targets: targets, weights: Array(repeating: 1, count: inputs.count), batch: 4,
                      seqLen: seqLen, parallel: .serial)
        let ce = m.positionLosses
        var sum = 0.0, n = 0
        for i in 0..<inputs.count where masked[i] { sum += Double(ce[i]); n += 1 }
        #expect(n > 4 * 5 && n < inputs.count / 4, "loss tokens \(n)")   // answers + end markers only
        let mean: Double = sum / Double(n)
        let got = Double(record.loss)
        #expect(abs(got - mean) < 1e-5 * mean, "\(got) vs \(mean)")
        let metrics = Dictionary(uniqueKeysWithValues: record.metrics.map { ($0.name, $0.value) })
        #expect(metrics["num_tokens"] == Double(n))
        #expect((0...1).contains(metrics["mean_token_accuracy"]!))
        _ = o
    }

    @Test func threadsDoNotChangeBitsAndLossFalls() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.alpaca, count: 30, in: dir, name: "sft")
        let config = smallConfig(mode: .sft, dataset: data, batch: 4, shards: 2, steps: 12)
        let (_, a) = try trainer(config, threads: 1)
        let (_, b) = try trainer(config, threads: 3)
        var la: [Float] = []
        for _ in 0..<12 {
            let ra = a.trainStep(), rb = b.trainStep()
            #expect(ra.hashLine.serialized() == rb.hashLine.serialized())
            la.append(ra.loss)
        }
        let late: Float = la.suffix(3).reduce(0, +), early: Float = la.prefix(3).reduce(0, +)
        #expect(late < 0.9 * early, "\(la)")
    }
}
