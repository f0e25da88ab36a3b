import Foundation
import Testing
import SimplyCore
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

private let repoRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// One case of golden/distill_reference.json (tools/reference/distill_reference.py).
private struct ReferenceCase {
    let rows: Int, vocab: Int
    let temperature: Float
    let student: Tensor, teacher: Tensor
    let weights: [Float]
    let loss: Double
    let grad: [Double]

    static func all() throws -> [ReferenceCase] {
        let text = try String(contentsOf: repoRoot.appendingPathComponent("golden/distill_reference.json"), encoding: .utf8)
        let json = try JSONValue.parse(text)
        guard case let .array(cases)? = json["cases"] else { throw ConfigError("no cases") }
        func doubles(_ v: JSONValue, _ key: String) -> [Double] { goldenDoubles(v[key], "distill_reference.json \(key)") }
        return cases.map { c in
            let rows = c["rows"]!.intValue!, vocab = c["vocab"]!.intValue!
            return ReferenceCase(rows: rows, vocab: vocab, temperature: Float(c["temperature"]!.doubleValue!),
                                 student: Tensor(shape: [rows, vocab], values: doubles(c, "student").map { Float($0) }),
                                 teacher: Tensor(shape: [rows, vocab], values: doubles(c, "teacher").map { Float($0) }),
                                 weights: doubles(c, "weights").map { Float($0) },
                                 loss: c["loss"]!.doubleValue!, grad: doubles(c, "grad"))
        }
    }
}

private func randomTensor(_ shape: [Int], seed: UInt64, scale: Float) -> Tensor {
    let stream = RandomStream(seed: seed, name: "distill-test")
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t[i] = stream.normal(0, UInt64(i)) * scale }
    return t
}

// MARK: - Runs with a teacher

/// A model small enough to train for a few steps inside a test.
private func microConfig(dModel: Int = 32, layers: Int = 2, seqLen: Int = 16, vocab: Int = 259, steps: Int = 4,
                         shards: Int = 2) throws -> ExperimentConfig {
    try ExperimentConfig.resolve(experiment: "tiny", configDirectory: repoRoot.appendingPathComponent("configs"), overrides: [
        "model.d_model=\(dModel)", "model.n_layers=\(layers)", "model.n_heads=4", "model.n_kv_heads=2", "model.d_ff=48",
        "model.seq_len=\(seqLen)", "model.vocab_size=\(vocab)", "train.batch_size=4", "train.grad_shards=\(shards)",
        "train.steps=\(steps)", "train.warmup_steps=1", "train.lr=0.01", "data.synthetic_bytes=20000",
    ])
}

/// A temporary teacher run: config.json and one checkpoint after `steps` pretraining steps.
private final class TeacherRun {
    let url: URL
    let config: ExperimentConfig
    init(_ config: ExperimentConfig, steps: Int = 6) throws {
        self.config = config
        url = FileManager.default.temporaryDirectory.appendingPathComponent("simply-distill-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try Data((config.json().pretty() + "\n").utf8).write(to: url.appendingPathComponent("config.json"))
        let trainer = try Trainer(config: config, data: try TrainingData.load(config),
                                  runtime: RuntimeOptions(threads: 2, deterministic: true))
        for _ in 0..<steps { _ = trainer.trainStep() }
        try Checkpoints.write(runDirectory: url, step: trainer.step, tensors: trainer.stateTensors(),
                              configSHA256: config.identitySHA256, dataCursor: trainer.dataCursor,
                              extra: .object([]), options: CheckpointOptions())
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

private func distillConfig(teacher: TeacherRun, alpha: Double = 0.5, temperature: Double = 2,
                           student: ExperimentConfig? = nil) throws -> ExperimentConfig {
    var c = try student ?? microConfig(dModel: 16, layers: 1)
    c.train.mode = "distill"
    c.distill.teacherCheckpoint = teacher.url.path
    c.distill.alpha = alpha
    c.distill.temperature = temperature
    return c
}

private func records(_ config: ExperimentConfig, threads: Int) throws -> (lines: [String], records: [StepRecord]) {
    let runtime = RuntimeOptions(threads: threads, deterministic: true)
    let objective = try algorithms.makeObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil))
    let trainer = Trainer(config: config, objective: objective, runtime: runtime)
    // Two threads and two shards: the shards run at once, each with its own teacher.
    #expect(trainer.concurrentShardLanes == (threads >= 2 && config.train.gradShards >= 2 ? 2 : 1))
    let r = (0..<config.train.steps).map { _ in trainer.trainStep() }
    return (r.map { $0.hashLine.serialized() }, r)
}

private func configError(_ body: () throws -> Void) -> String? {
    do { try body() } catch let e as ConfigError { return e.description } catch { Issue.record("not a ConfigError: \(error)") }
    return nil
}

@Suite struct DistillationTests {
    /// Loss and gradient against PyTorch autograd in float64. Float32 rounding
    /// stays near 1e-6; 1e-5 separates rounding from a wrong formula (a missing
    /// T or T² is off by ≥ 2× on the T ≠ 1 cases).
    @Test func kernelMatchesPyTorch() throws {
        let cases = try ReferenceCase.all()
        #expect(cases.count == 4)
        for c in cases {
            for scale: Float in [1, 0.3] {
                let dl = Tensor(shape: [c.rows, c.vocab])
                let loss = Distillation.lossAndGradient(dlogits: dl, student: c.student, teacher: c.teacher, weights: c.weights,
                                                        temperature: c.temperature, gradientScale: scale,
                                                        rows: c.rows, vocab: c.vocab, parallel: .serial)
                #expect(abs(Double(loss) - c.loss) / c.loss < 1e-5, "T=\(c.temperature): loss \(loss) vs \(c.loss)")
                let err = relativeError(dl.toArray(), c.grad.map { $0 * Double(scale) })
                #expect(err < 1e-5, "T=\(c.temperature) scale \(scale): gradient error \(err)")
                // The zero-weight row gets nothing.
                #expect((0..<c.vocab).allSatisfy { dl[c.vocab + $0] == 0 })
            }
        }
    }

    /// The gradient is added to what is there (the CE gradient), not written over it.
    @Test func kernelAddsIntoTheGradient() throws {
        let c = try ReferenceCase.all()[0]
        let base = randomTensor([c.rows, c.vocab], seed: 3, scale: 0.1)
        let dl = Tensor(shape: [c.rows, c.vocab]); dl.copy(from: base)
        let fresh = Tensor(shape: [c.rows, c.vocab])
        _ = Distillation.lossAndGradient(dlogits: dl, student: c.student, teacher: c.teacher, weights: c.weights,
                                         temperature: c.temperature, rows: c.rows, vocab: c.vocab, parallel: .serial)
        _ = Distillation.lossAndGradient(dlogits: fresh, student: c.student, teacher: c.teacher, weights: c.weights,
                                         temperature: c.temperature, rows: c.rows, vocab: c.vocab, parallel: .serial)
        #expect((0..<dl.count).allSatisfy { dl[$0] == base[$0] + fresh[$0] })
    }

    /// KL(p ‖ p) = 0 with zero gradient (up to rounding of the two softmaxes of the same row).
    @Test func identicalLogitsGiveZero() {
        let s = randomTensor([7, 41], seed: 5, scale: 3)
        let dl = Tensor(shape: [7, 41])
        let loss = Distillation.lossAndGradient(dlogits: dl, student: s, teacher: s, weights: Array(repeating: 1, count: 7),
                                                temperature: 2, rows: 7, vocab: 41, parallel: .serial)
        #expect(abs(loss) < 1e-5)
        #expect(dl.toArray().allSatisfy { abs($0) < 1e-6 })
    }

    /// Threads split rows only: 1 and 3 threads give the same bits.
    @Test func kernelBitsDoNotDependOnThreads() {
        let rows = 37, vocab = 301
        let s = randomTensor([rows, vocab], seed: 1, scale: 4), t = randomTensor([rows, vocab], seed: 2, scale: 4)
        let w = (0..<rows).map { Float($0 % 5) / Float(rows) }
        func run(_ threads: Int) -> (Float, Tensor) {
            let dl = randomTensor([rows, vocab], seed: 9, scale: 0.01)
            let l = Distillation.lossAndGradient(dlogits: dl, student: s, teacher: t, weights: w, temperature: 1.7,
                                                 gradientScale: 0.5, rows: rows, vocab: vocab,
                                                 parallel: Parallel(threads: threads, deterministic: true))
            return (l, dl)
        }
        let (l1, g1) = run(1), (l3, g3) = run(3)
        #expect(l1.bitPattern == l3.bitPattern)
        #expect(g1.bitwiseEqual(g3))
        #expect(l1 > 0)
    }

    /// α = 1 is plain next-token cross-entropy: the same hash lines as pretraining, bit for bit
    /// (while α = 0.5 differs, so the teacher does reach the bits).
    @Test func alphaOneIsPretraining() throws {
        let teacher = try TeacherRun(try microConfig())
        let student = try microConfig(dModel: 16, layers: 1, steps: 3)
        var pretrain = student
        pretrain.train.mode = "pretrain"
        let plain = try records(pretrain, threads: 2).lines
        let distilled = try records(distillConfig(teacher: teacher, alpha: 1, student: student), threads: 2)
        #expect(distilled.lines == plain)
        #expect(distilled.records.allSatisfy { r in r.metrics.first { $0.name == "kd" }!.value > 0 })
        let mixed = try records(distillConfig(teacher: teacher, alpha: 0.5, student: student), threads: 2).lines
        #expect(mixed[0] != plain[0])
    }

    /// A few steps of distillation on 1 and 2 threads (and 1 or 2 gradient
    /// shards' worth of rows) write identical hash lines; the loss is
    /// α·ce + (1 − α)·kd of the reported metrics.
    @Test func distillRunIsThreadInvariant() throws {
        let teacher = try TeacherRun(try microConfig())
        let config = try distillConfig(teacher: teacher, alpha: 0.3, temperature: 1.5)
        let one = try records(config, threads: 1), two = try records(config, threads: 2)
        #expect(one.lines.count == 4)
        #expect(one.lines == two.lines)
        for r in one.records {
            let m = Dictionary(uniqueKeysWithValues: r.metrics.map { ($0.name, $0.value) })
            #expect(m["kd"]! > 0 && m["ce"]! > 0 && m["teacher_ce"]! > 0)
            let combined = 0.3 * m["ce"]! + 0.7 * m["kd"]!
            #expect(abs(Double(r.loss) - combined) < 1e-4 * combined, "loss \(r.loss) vs \(combined)")
        }
        // The teacher was trained 6 steps, the student not at all: it starts worse on the labels.
        let first = Dictionary(uniqueKeysWithValues: one.records[0].metrics.map { ($0.name, $0.value) })
        #expect(first["teacher_ce"]! < first["ce"]!)
    }

    /// Distilling from a teacher lowers the KL to it over a few steps.
    @Test func kdFalls() throws {
        let teacher = try TeacherRun(try microConfig(), steps: 20)
        var student = try microConfig(dModel: 16, layers: 1, steps: 25)
        student.train.warmupSteps = 2
        let r = try records(distillConfig(teacher: teacher, alpha: 0, student: student), threads: 2).records
        let kd = r.map { run in run.metrics.first { $0.name == "kd" }!.value }
        let first = kd.prefix(3).reduce(0, +) / 3, last = kd.suffix(3).reduce(0, +) / 3
        #expect(last < 0.7 * first, "kd \(first) -> \(last)")
    }

    @Test func teacherMismatchesAreConfigErrors() throws {
        let teacher = try TeacherRun(try microConfig(), steps: 1)
        let runtime = RuntimeOptions(threads: 1, deterministic: true)
        func build(_ c: ExperimentConfig) throws { _ = try DistillObjective(ObjectiveContext(config: c, runtime: runtime, initCheckpoint: nil)) }
        // A run directory and its checkpoint directory both name the teacher.
        try build(distillConfig(teacher: teacher))
        var viaCheckpoint = try distillConfig(teacher: teacher)
        viaCheckpoint.distill.teacherCheckpoint = try Checkpoints.latest(runDirectory: teacher.url).path
        try build(viaCheckpoint)

        let vocab = configError { try build(distillConfig(teacher: teacher, student: microConfig(dModel: 16, layers: 1, vocab: 300))) }
        #expect(vocab?.contains("model.vocab_size") == true)
        let seq = configError { try build(distillConfig(teacher: teacher, student: microConfig(dModel: 16, layers: 1, seqLen: 32))) }
        #expect(seq?.contains("model.seq_len") == true)
        // A shorter student than the teacher is fine.
        try build(distillConfig(teacher: teacher, student: microConfig(dModel: 16, layers: 1, seqLen: 8)))
        var empty = try distillConfig(teacher: teacher)
        empty.distill.teacherCheckpoint = ""
        #expect(configError { try build(empty) }?.contains("distill.teacher_checkpoint") == true)
        var missing = try distillConfig(teacher: teacher)
        missing.distill.teacherCheckpoint = teacher.url.appendingPathComponent("nope").path
        #expect(configError { try build(missing) }?.contains("distill.teacher_checkpoint") == true)
    }
    /// The teacher checkpoint is part of the run's data identity (what resume
    /// and verify check): another teacher, another data_sha256.
    @Test func teacherIsPartOfTheDataIdentity() throws {
        let a = try TeacherRun(try microConfig(), steps: 1), b = try TeacherRun(try microConfig(), steps: 2)
        let runtime = RuntimeOptions(threads: 1, deterministic: true)
        func identity(_ t: TeacherRun) throws -> DataIdentity {
            try DistillObjective(ObjectiveContext(config: distillConfig(teacher: t), runtime: runtime, initCheckpoint: nil)).data
        }
        let ia = try identity(a)
        #expect(try identity(a).sha256 == ia.sha256)
        #expect(try identity(b).sha256 != ia.sha256)
        #expect(ia.source.contains("teacher"))
        #expect(ia.sha256 != (try TrainingData.load(distillConfig(teacher: a))).sha256)
    }
}
