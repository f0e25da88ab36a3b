import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

@Suite struct DPOTests {
    /// Every loss and both derivatives against PyTorch autograd (float64),
    /// golden/dpo_reference.json from tools/reference/dpo_reference.py.
    @Test func lossesMatchPyTorch() throws {
        let json = try JSONValue.parse(String(contentsOf: goldenURL.appendingPathComponent("dpo_reference.json"), encoding: .utf8))
        guard case let .array(cases)? = json["cases"] else { Issue.record("no cases"); return }
        #expect(cases.count >= 24)
        var kinds = Set<String>()
        for c in cases {
            let kind = try #require(DPOLoss.Kind(rawValue: c["kind"]!.stringValue!))
            kinds.insert(kind.rawValue)
            let v = DPOLoss.value(kind, beta: c["beta"]!.doubleValue!, labelSmoothing: c["label_smoothing"]!.doubleValue!,
                                  policyChosen: c["policy_chosen"]!.doubleValue!, policyRejected: c["policy_rejected"]!.doubleValue!,
                                  referenceChosen: c["reference_chosen"]!.doubleValue!,
                                  referenceRejected: c["reference_rejected"]!.doubleValue!,
                                  chosenLength: c["chosen_length"]!.intValue!, rejectedLength: c["rejected_length"]!.intValue!)
            for (got, key) in [(v.loss, "loss"), (v.dChosen, "d_chosen"), (v.dRejected, "d_rejected")] {
                let want = c[key]!.doubleValue!
                #expect(abs(got - want) <= 1e-12 * max(1, abs(want)), "\(kind) \(key): \(got) vs torch \(want)")
            }
        }
        #expect(kinds == ["sigmoid", "ipo", "hinge"])
    }

    func objective(_ config: ExperimentConfig, threads: Int = 1) throws -> (DPOObjective, Trainer) {
        let runtime = RuntimeOptions(threads: threads, deterministic: true)
        let o = try DPOObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil))
        return (o, Trainer(config: config, objective: o, runtime: runtime))
    }

    /// The objective's gradient is the gradient of its loss: analytic vs central
    /// differences, after a few steps so policy and reference differ.
    @Test func objectiveGradientMatchesFiniteDifferences() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.preference, count: 40, in: dir, name: "pref")
        var config = smallConfig(mode: .dpo, dataset: data, batch: 4, shards: 1)
        config.dpo.beta = 0.5
        config.dpo.rpoAlpha = 0.7   // the RPO term's gradient is checked too
        let (o, trainer) = try objective(config)
        for _ in 0..<3 { _ = trainer.trainStep() }
        let model = trainer.model
        _ = o.loadBatch(step: 3)
        #expect(Double(o.shardGradient(0, model: model, parallel: .serial).loss) > 0)
        try expectGradientMatchesFiniteDifferences(model, names: ["model.layers.1.mlp.down_proj.weight", "model.norm.weight", "model.embed_tokens.weight"], minGradient: 1e-4, tolerance: 2e-2) {
            model.zeroGrads()
            return Double(o.shardGradient(0, model: model, parallel: .serial).loss)
        }
    }

    /// Step 1 starts at Δ = 0 (policy = reference): loss ln 2, rewards 0. The
    /// hashes are the same on 1 and 2 threads and with 1 or 2 gradient shards'
    /// worth of threads, and a trainer restarted from step 2's state continues
    /// with the same hashes (the objective keeps no hidden state).
    @Test func deterministicAndResumable() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.preference, count: 40, in: dir, name: "pref")
        let config = smallConfig(mode: .dpo, dataset: data, batch: 4, shards: 2, steps: 4)
        let (_, a) = try objective(config, threads: 1)
        var records: [StepRecord] = []
        for _ in 0..<4 { records.append(a.trainStep()) }
        #expect(abs(records[0].loss - Float(log(2.0))) < 1e-6)
        let m0 = Dictionary(uniqueKeysWithValues: records[0].metrics.map { ($0.name, $0.value) })
        #expect(m0["rewards/chosen"] == 0 && m0["rewards/margins"] == 0 && m0["rewards/accuracies"] == 0)
        #expect(m0["logps/chosen"]! < 0)
        #expect(records[3].loss != records[0].loss)   // the policy moved away from the reference

        let (_, b) = try objective(config, threads: 2)
        #expect(b.concurrentShardLanes == 2 && a.concurrentShardLanes == 1)   // two shards at once, two references
        let lines = (0..<4).map { _ in b.trainStep().hashLine.serialized() }
        #expect(lines == records.map { $0.hashLine.serialized() })

        let (_, c) = try objective(config, threads: 2)
        _ = c.trainStep(); _ = c.trainStep()
        let (_, d) = try objective(config, threads: 1)
        for (x, y) in pairs(c.stateTensors(), d.stateTensors(), "state tensors") { y.tensor.copy(from: x.tensor) }
        d.resume(atStep: 2)
        #expect((0..<2).map { _ in d.trainStep().hashLine.serialized() } == records[2...].map { $0.hashLine.serialized() })
    }

    /// RPO adds α · (mean NLL of the chosen tokens) to the loss at step 1, where
    /// the DPO part is ln 2, and changes the bits.
    @Test func rpoAddsTheChosenNLL() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.preference, count: 40, in: dir, name: "pref")
        var config = smallConfig(mode: .dpo, dataset: data, batch: 4, shards: 2)
        let (_, plain) = try objective(config)
        let p = plain.trainStep()
        config.dpo.rpoAlpha = 2
        let (_, rpo) = try objective(config)
        let r = rpo.trainStep()
        let nll = try #require(r.metrics.first { $0.name == "nll_loss" }?.value)
        #expect(nll > 1 && p.metrics.first { $0.name == "nll_loss" }?.value == nll)
        #expect(abs(Double(r.loss) - (log(2.0) + 2 * nll)) < 1e-5 * Double(r.loss))
        #expect(r.stateSHA256 != p.stateSHA256 && r.batchSHA256 == p.batchSHA256)
    }

    @Test func wrongDataIsRefused() throws {
        let dir = try Scratch()
        let sft = try preparedTasks(.alpaca, count: 10, in: dir, name: "sft")
        let config = smallConfig(mode: .dpo, dataset: sft)
        do { _ = try objective(config); Issue.record("accepted supervised data") } catch {
            #expect("\(error)".contains("holds supervised examples; training_mode dpo needs preference examples"), "\(error)")
        }
    }
}
