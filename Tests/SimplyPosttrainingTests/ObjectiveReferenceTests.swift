import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

/// Every post-training objective end to end against PyTorch: for one real
/// batch (golden/objectives/NAME.safetensors, tools/reference/objectives_reference.py)
/// Simply's trainer computes the step's gradient as it trains (the batch
/// built from the examples, split into 2 shards and summed by the tree), and
/// every parameter's gradient and the loss must equal PyTorch autograd's in
/// float64. The reference builds rows, masks, gathered log-probabilities and
/// score and value positions itself, so a wrong mask or a position shifted
/// by one token fails here even when the loss formulas are right.
@Suite struct ObjectiveReferenceTests {
    /// The worst error relative to the tensor's scale: float32 rounding of a
    /// float64 reference (measured 2e-6 … 1e-5 on AMD EPYC Zen 4, 2026-12-04);
    /// a shifted mask or score position is off by 1e-1 or more.
    static let tolerance = 5e-5

    struct Case {
        let file: SafetensorsFile
        let overrides: [String]
        let kind: String
        let examples: [JSONValue]
    }

    static func load(_ name: String) throws -> Case {
        let file = try SafetensorsFile.read(goldenURL.appendingPathComponent("objectives/\(name).safetensors"))
        func json(_ key: String) throws -> JSONValue {
            guard let text = file.metadata[key] else { throw ConfigError("objectives/\(name): no metadata '\(key)'") }
            return try JSONValue.parse(text)
        }
        guard case let .array(o) = try json("overrides"), case let .array(examples) = try json("examples"),
              let kind = file.metadata["kind"] else {
            throw ConfigError("objectives/\(name): overrides, kind and examples are required")
        }
        return Case(file: file, overrides: o.compactMap(\.stringValue), kind: kind, examples: examples)
    }

    /// The example shard (or, for distillation, the token stream) the case trains on.
    static func writeData(_ c: Case, to dir: Scratch) throws -> URL {
        let tokenizer = ByteTokenizer()
        func tokens(_ v: JSONValue?) throws -> [Int32] {
            guard case let .array(a)? = v, !a.isEmpty else { throw ConfigError("an example lacks its tokens") }
            return a.compactMap { $0.intValue.map(Int32.init) }
        }
        func seq(_ t: [Int32], _ inLoss: Bool) -> MaskedTokens { MaskedTokens(tokens: t, mask: Array(repeating: inLoss, count: t.count)) }
        let url: URL
        switch c.kind {
        case "tokens":
            url = dir.file("stream.bin")
            try TokenShard.write(tokens: try c.file.int32s("tokens"), vocabSize: tokenizer.vocabSize, tokenizerName: tokenizer.name,
                                 documentCount: 1, to: url)
        case "supervised", "preference", "prompt":
            let kind = ExampleKind(rawValue: c.kind)!
            let examples: [PreparedExample] = try c.examples.map { e in
                let prompt = try tokens(e["prompt"])
                switch kind {
                case .supervised:
                    let completion = try tokens(e["completion"])
                    return PreparedExample(kind: .supervised, sequences: [MaskedTokens(tokens: prompt + completion,
                        mask: Array(repeating: false, count: prompt.count) + Array(repeating: true, count: completion.count))])
                case .preference:
                    return PreparedExample(kind: .preference, sequences: [seq(prompt, false), seq(try tokens(e["chosen"]), true),
                                                                          seq(try tokens(e["rejected"]), true)])
                case .prompt:
                    return PreparedExample(kind: .prompt, sequences: [seq(prompt, false)], answer: e["answer"]?.stringValue)
                }
            }
            url = dir.file("data.ex")
            try ExampleShard.write(examples, kind: kind, vocabSize: tokenizer.vocabSize, tokenizerName: tokenizer.name, to: url)
        default:
            throw ConfigError("unknown kind \(c.kind)")
        }
        return url
    }

    /// Simply's gradient of the case's batch (its loss, and the trainer whose model.grads hold it).
    static func simplyGradient(_ c: Case, dir: Scratch, threads: Int = 2) throws -> (loss: Float, trainer: Trainer) {
        let data = try writeData(c, to: dir)
        var config = ExperimentConfig.defaults(algorithms.schema)
        let repo = goldenURL.deletingLastPathComponent()
        for o in c.overrides + ["data.dataset=\(data.path)", "train.seed=7"] {
            var kv = o.split(separator: "=", maxSplits: 1).map(String.init)
            // Paths in the references are relative to the repository.
            if kv[0] == "distill.teacher_checkpoint" { kv[1] = repo.appendingPathComponent(kv[1]).path }
            try config.set(kv[0], text: kv[1])
        }
        try config.validate()
        let runtime = RuntimeOptions(threads: threads, deterministic: true)
        let objective = try algorithms.makeObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil))
        let trainer = Trainer(config: config, objective: objective, runtime: runtime)
        func fill(_ model: Transformer, prefix: String) throws {
            for e in model.layout.entries { model.parameter(e.name).copy(from: try c.file.tensor(prefix + e.name)) }
        }
        try fill(trainer.model, prefix: "policy.")
        let reference: Transformer? = switch objective {
        case let o as DPOObjective: o.reference
        case let o as GRPOObjective: o.reference
        case let o as PPOObjective: o.reference
        case let o as DistillObjective: o.teacher
        default: nil
        }
        if let reference, c.file.names.contains(where: { $0.hasPrefix("reference.") }) { try fill(reference, prefix: "reference.") }
        // A fixed rollout: the state a μ = 2 (GRPO) or 2-epoch (PPO) run holds between its updates, then step 1.
        if !objective.stateTensors.isEmpty {
            for t in objective.stateTensors { t.tensor.copy(from: try c.file.tensor("state." + t.name)) }
            trainer.resume(atStep: 1)
        }
        let r = trainer.batchGradient()
        return (r.loss, trainer)
    }

    /// Every reference in golden/objectives (one per algorithm, written by a script in tools/reference).
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: goldenURL.appendingPathComponent("objectives").path)) ?? [])
        .filter { $0.hasSuffix(".safetensors") }.map { String($0.dropLast(".safetensors".count)) }.sorted()

    /// Each algorithm but pre-training (which torch_reference.py covers) has its reference.
    @Test func everyAlgorithmHasAReference() {
        for a in algorithms.all where a.name != "pretrain" {
            #expect(Self.names.contains(a.name), "no golden/objectives/\(a.name).safetensors")
        }
    }

    @Test(arguments: names)
    func gradientOfEveryParameterMatchesPyTorch(name: String) throws {
        let c = try Self.load(name)
        let dir = try Scratch()
        let (loss, trainer) = try Self.simplyGradient(c, dir: dir)
        let want = try c.file.doubles("loss")[0]
        #expect(abs(Double(loss) - want) <= Self.tolerance * max(1, abs(want)), "\(name): loss \(loss) vs torch \(want)")
        var worst = 0.0, checked = 0
        for e in trainer.model.layout.entries {
            let err = relativeError(trainer.model.gradient(e.name).toArray(), try c.file.doubles("grad." + e.name))
            #expect(err <= Self.tolerance, "\(name): \(e.name) gradient off by \(err) of its scale")
            worst = max(worst, err); checked += 1
        }
        #expect(checked == trainer.model.layout.entries.count && checked >= 20)
        print("\(name): loss \(loss) vs \(want); worst gradient error \(worst) over \(checked) tensors")
    }
}
