import Foundation
import Testing
import SimplyCore
import SimplyEval
import SimplyData
import SimplyModel
import SimplyRun
import SimplyTrain
import SimplyPosttraining

let repositoryURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A preference example shard of `count` built-in task pairs (correct answer
/// vs near miss), written with `simply data prepare`'s code into `dir`.
func preferenceShard(_ dir: URL, task: TaskKind = .copying, count: Int = 32, split: TaskSplit = .train) throws -> URL {
    let examples = TaskGenerator.examples(task, seed: 1, split: split, count: count, maxDigits: 2)
    let jsonl = dir.appendingPathComponent("\(task.rawValue)-\(split.rawValue).jsonl")
    try Data(examples.map { TaskRecordFormat.preference.record($0).serialized() + "\n" }.joined().utf8).write(to: jsonl)
    let out = dir.appendingPathComponent("\(task.rawValue)-\(split.rawValue).ex")
    _ = try DataPrepare.prepare(inputs: [jsonl], format: .preference, textField: "text", tokenizer: ByteTokenizer(), output: out)
    return out
}

/// d_model 32, 2 layers, seq_len 32, byte tokenizer: a reward model small enough for a test.
func tinyRewardConfig(dataset: URL, steps: Int = 4, shards: Int = 2) -> ExperimentConfig {
    var model = ModelConfig(vocabSize: 512, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 64, seqLen: 32)
    model.scoreHead = true
    var c = ExperimentConfig(model: model)
    c.train.mode = Algorithm.reward.name
    c.train.steps = steps
    c.train.batchSize = 8
    c.train.gradShards = shards
    c.train.lr = 3e-3
    c.train.minLR = 3e-4
    c.train.warmupSteps = 2
    c.data.dataset = dataset.path
    c.data.tokenizer = "byte"
    return c
}

func makeTempDir(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("simply-reward-\(name)-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

func rewardTrainer(_ config: ExperimentConfig, threads: Int) throws -> Trainer {
    let runtime = RuntimeOptions(threads: threads, deterministic: true)
    let objective = try algorithms.makeObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil))
    return Trainer(config: config, objective: objective, runtime: runtime)
}

@Suite struct RewardModelTests {
    // MARK: - The loss against PyTorch autograd

    /// golden/reward_reference.json (tools/reference/reward_reference.py):
    /// TRL's loss and its autograd gradients in float64.
    @Test func bradleyTerryMatchesTorchAutograd() throws {
        let text = try String(contentsOf: repositoryURL.appendingPathComponent("golden/reward_reference.json"), encoding: .utf8)
        let ref = try JSONValue.parse(text)
        func doubles(_ v: JSONValue?) -> [Double] { goldenDoubles(v, "reward_reference.json array") }
        guard case let .array(cases)? = ref["cases"] else { Issue.record("no cases"); return }
        #expect(cases.count == 4)
        // Relative 1e-12, with an absolute floor for values near 0 (log(1 + e^−z)
        // without log1p loses ~1e-16 absolute when e^−z is tiny).
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-12 * abs(b) + 1e-15 }
        for c in cases {
            let name = c["name"]!.stringValue!
            let chosen = doubles(c["chosen"]), rejected = doubles(c["rejected"])
            #expect(!chosen.isEmpty && chosen.count == rejected.count)
            let r = BradleyTerry.loss(chosen: chosen, rejected: rejected, margin: c["margin"]!.doubleValue!,
                                      centerCoefficient: c["center_coefficient"]!.doubleValue!)
            let want = c["loss"]!.doubleValue!
            #expect(close(r.loss, want), "\(name): loss \(r.loss) vs torch \(want)")
            for (i, (a, b)) in pairs(r.dChosen, doubles(c["d_chosen"]), "d_chosen").enumerated() {
                #expect(close(a, b), "\(name): dChosen[\(i)] \(a) vs torch \(b)")
            }
            for (i, (a, b)) in pairs(r.dRejected, doubles(c["d_rejected"]), "d_rejected").enumerated() {
                #expect(close(a, b), "\(name): dRejected[\(i)] \(a) vs torch \(b)")
            }
        }
    }

    /// Shards divide by the global batch: the shards' losses and gradients add up to the batch's.
    @Test func shardsWithGlobalDivisorSumToTheBatchMean() {
        let s = RandomStream(seed: 5, name: "bt")
        let c = (0..<12).map { Double(s.normal(0, UInt64($0))) }, r = (0..<12).map { Double(s.normal(1, UInt64($0))) }
        let whole = BradleyTerry.loss(chosen: c, rejected: r, margin: 0.2, centerCoefficient: 0.05)
        let a = BradleyTerry.loss(chosen: Array(c[..<5]), rejected: Array(r[..<5]), margin: 0.2, centerCoefficient: 0.05, divisor: 12)
        let b = BradleyTerry.loss(chosen: Array(c[5...]), rejected: Array(r[5...]), margin: 0.2, centerCoefficient: 0.05, divisor: 12)
        #expect(abs(a.loss + b.loss - whole.loss) < 1e-14)
        #expect(pairs(a.dChosen + b.dChosen, whole.dChosen, "dChosen").allSatisfy { abs($0 - $1) < 1e-15 })
        #expect(pairs(a.dRejected + b.dRejected, whole.dRejected, "dRejected").allSatisfy { abs($0 - $1) < 1e-15 })
    }

    // MARK: - The objective

    @Test func needsTheScoreHeadAndPreferenceData() throws {
        let dir = try makeTempDir("checks")
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = tinyRewardConfig(dataset: try preferenceShard(dir))
        config.model.scoreHead = false
        let runtime = RuntimeOptions(threads: 1, deterministic: true)
        #expect { _ = try RewardObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil)) } throws: {
            "\($0)".contains("model.score_head")
        }
        // Supervised data is not preference data.
        let jsonl = dir.appendingPathComponent("sft.jsonl")
        try Data("{\"prompt\": \"a\", \"completion\": \"b\"}\n".utf8).write(to: jsonl)
        let sft = dir.appendingPathComponent("sft.ex")
        _ = try DataPrepare.prepare(inputs: [jsonl], format: .auto, textField: "text", tokenizer: ByteTokenizer(), output: sft)
        var wrong = tinyRewardConfig(dataset: sft)
        wrong.model.scoreHead = true
        #expect { _ = try RewardObjective(ObjectiveContext(config: wrong, runtime: runtime, initCheckpoint: nil)) } throws: {
            "\($0)".contains("preference")
        }
    }

    @Test func rowsAreInterleavedPairsAndFreshHeadIsDeclared() throws {
        let dir = try makeTempDir("rows")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = tinyRewardConfig(dataset: try preferenceShard(dir))
        let objective = try RewardObjective(ObjectiveContext(config: config, runtime: RuntimeOptions(threads: 1, deterministic: true),
                                                             initCheckpoint: nil))
        #expect(objective.rowsPerShard == 8)          // 2 · 8 pairs / 2 shards
        #expect(objective.tokensPerStep == 2 * 8 * 32)
        #expect(objective.freshParameters == ["score.weight"])
        let h0 = objective.loadBatch(step: 0), h1 = objective.loadBatch(step: 1)
        #expect(h0 != h1)
        #expect(objective.loadBatch(step: 0) == h0)
    }

    /// Same bits on 1 and 2 threads (docs/design.md), and the metrics are sane.
    @Test func sameHashesOnOneAndTwoThreads() throws {
        let dir = try makeTempDir("threads")
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = tinyRewardConfig(dataset: try preferenceShard(dir), steps: 4)
        config.reward.margin = 0.1
        config.reward.centerCoefficient = 0.01
        func run(_ threads: Int) throws -> ([String], [[Metric]]) {
            let t = try rewardTrainer(config, threads: threads)
            #expect(t.concurrentShardLanes == min(threads, 2))
            let records = (0..<config.train.steps).map { _ in t.trainStep() }
            return (records.map { $0.hashLine.serialized() }, records.map(\.metrics))
        }
        let (one, m1) = try run(1)
        let (two, m2) = try run(2)
        #expect(one.count == 4)
        #expect(one == two)
        #expect(m1 == m2)
        let names = m1[0].map(\.name)
        #expect(names == ["accuracy", "margin", "reward_mean", "reward_min", "reward_max"])
        for m in m1 {
            let v = Dictionary(uniqueKeysWithValues: m.map { ($0.name, $0.value) })
            #expect((0...1).contains(v["accuracy"]!))
            #expect(v["reward_min"]! <= v["reward_mean"]! && v["reward_mean"]! <= v["reward_max"]!)
        }
        var other = config
        other.reward.margin = 0.5
        let t = try rewardTrainer(other, threads: 1)
        #expect(t.trainStep().hashLine.serialized() != one[0], "the margin reaches the bits")
    }

    /// The loss falls on the training pairs, and the trained model ranks them
    /// better than the untrained one (RewardObjective.evaluate, same on 1 and 2 threads).
    @Test func lossFallsAndAccuracyRises() throws {
        let dir = try makeTempDir("learn")
        defer { try? FileManager.default.removeItem(at: dir) }
        let shardURL = try preferenceShard(dir, count: 32)
        var config = tinyRewardConfig(dataset: shardURL, steps: 60)
        config.train.lr = 1e-2
        config.train.minLR = 1e-3
        let trainer = try rewardTrainer(config, threads: 2)
        let examples = try ExampleShard.read(shardURL).examples
        let before = RewardModelEvaluation.evaluate(model: trainer.model, examples: examples, pad: ByteTokenizer().pad, pairsPerForward: 4,
                                              parallel: Parallel(threads: 2))
        let records = (0..<config.train.steps).map { _ in trainer.trainStep() }
        func mean(_ r: ArraySlice<StepRecord>) -> Double { r.reduce(0) { $0 + Double($1.loss) } / Double(r.count) }
        let first = mean(records[..<5]), last = mean(records[(records.count - 5)...])
        print("reward loss first 5 steps \(first), last 5 \(last)")
        #expect(first > 0.6, "starts near log 2 = 0.693 (got \(first))")
        #expect(last < first - 0.2, "loss \(first) -> \(last)")
        let after = RewardModelEvaluation.evaluate(model: trainer.model, examples: examples, pad: ByteTokenizer().pad, pairsPerForward: 4,
                                             parallel: Parallel(threads: 2))
        let afterOne = RewardModelEvaluation.evaluate(model: trainer.model, examples: examples, pad: ByteTokenizer().pad, pairsPerForward: 4,
                                                parallel: .serial)
        print("training-pair accuracy \(before.accuracy) -> \(after.accuracy)")
        #expect(after == afterOne)
        #expect(after.pairs == 32 && after.truncated == 0)
        #expect(after.accuracy >= 0.8 && after.accuracy > before.accuracy)
        #expect(after.margin > 0)
    }

    /// The objective's gradient (score head read at each row's last token,
    /// backward through the network) against central differences of its
    /// loss, computed in Double from `forward` and `scores`.
    @Test func gradientMatchesFiniteDifferences() throws {
        let dir = try makeTempDir("fd")
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = tinyRewardConfig(dataset: try preferenceShard(dir), steps: 1)
        config.reward.margin = 0.3
        config.reward.centerCoefficient = 0.05
        let trainer = try rewardTrainer(config, threads: 2)
        let model = trainer.model, objective = trainer.objective
        let parallel = Parallel(threads: 2)
        // A larger head than init so the gradient through the network is not tiny.
        let w = model.parameter("score.weight")
        for j in 0..<w.count { w.pointer[j] *= 20 }
        _ = objective.loadBatch(step: 0)
        model.zeroGrads()
        var objectiveLoss = 0.0
        for s in 0..<config.train.gradShards {   // backward adds into grads
            objectiveLoss += Double(objective.shardGradient(s, model: model, parallel: parallel).loss)
        }

        // The loss from scratch: same rows as the objective (pair i → rows 2i, 2i + 1).
        let examples = try ExampleShard.read(URL(fileURLWithPath: config.data.dataset))
        let cursor = DataCursor(numExamples: examples.examples.count, batchSize: 8, seed: config.train.seed)
        let t = config.model.seqLen
        var rows = SequenceRows(rows: 16, seqLen: t, pad: ByteTokenizer().pad)
        for p in 0..<8 {
            let e = examples.examples[cursor.exampleIndex(step: 0, slot: p)]
            rows.set(row: 2 * p, e.sequences[0] + e.sequences[1])
            rows.set(row: 2 * p + 1, e.sequences[0] + e.sequences[2])
        }
        func loss() -> Double {
            var c: [Double] = [], r: [Double] = []
            for s in 0..<2 {   // the model holds 8 rows (one shard) at a time
                let lo = s * 8 * t
                _ = model.forward(tokens: Array(rows.inputs[lo..<(lo + 8 * t)]), targets: Array(rows.targets[lo..<(lo + 8 * t)]),
                                  weights: [Float](repeating: 0, count: 8 * t), batch: 8, seqLen: t, parallel: parallel,
                                  withLogits: false)
                let sc = model.scores(rows: (0..<8).map { rows.lastPosition(row: s * 8 + $0) - lo })
                for p in 0..<4 { c.append(Double(sc[2 * p])); r.append(Double(sc[2 * p + 1])) }
            }
            return BradleyTerry.loss(chosen: c, rejected: r, margin: 0.3, centerCoefficient: 0.05).loss
        }
        let l0 = loss()
        #expect(abs(l0 - objectiveLoss) < 1e-5 * abs(l0), "objective loss \(objectiveLoss) vs \(l0)")

        func check(_ name: String, _ index: Int, eps: Float, tolerance: Double) {
            let p = model.parameter(name), g = Double(model.gradient(name).pointer[index])
            let x = p.pointer[index]
            p.pointer[index] = x + eps; let up = loss()
            p.pointer[index] = x - eps; let down = loss()
            p.pointer[index] = x
            let fd = (up - down) / Double(2 * eps)
            print("\(name)[\(index)]: analytic \(g), finite difference \(fd)")
            #expect(abs(g) > 1e-6, "\(name)[\(index)] gradient is zero")
            #expect(abs(g - fd) <= tolerance * abs(fd), "\(name)[\(index)]: analytic \(g) vs finite difference \(fd)")
        }
        check("score.weight", 5, eps: 1e-2, tolerance: 1e-3)
        check("score.weight", 17, eps: 1e-2, tolerance: 1e-3)
        // Through the network: the score gradient flows back into the weights.
        check("model.norm.weight", 3, eps: 1e-2, tolerance: 2e-2)
        check("model.layers.1.mlp.down_proj.weight", 40, eps: 1e-2, tolerance: 5e-2)
    }
}
