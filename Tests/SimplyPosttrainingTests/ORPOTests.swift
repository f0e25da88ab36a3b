import Foundation
import Testing
import SimplyCore
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

/// ORPO (golden/objectives/orpo.safetensors checks the loss and every gradient
/// against PyTorch in ObjectiveReferenceTests): the pair term's derivatives,
/// thread invariance and a resume.
@Suite struct ORPOTests {
    func trainer(_ config: ExperimentConfig, threads: Int) throws -> Trainer {
        let runtime = RuntimeOptions(threads: threads, deterministic: true)
        let o = try algorithms.makeObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil))
        #expect(o is ORPOObjective)
        return Trainer(config: config, objective: o, runtime: runtime)
    }

    /// −λ log σ(log odds) against central differences in the two mean log-probs.
    @Test func oddsRatioDerivatives() {
        for (ac, ar) in [(-0.3, -1.7), (-2.5, -0.4), (-1e-3, -5.0)] {
            let v = ORPOObjective.oddsRatio(beta: 0.3, chosen: ac, rejected: ar)
            let h = 1e-6 * min(1, abs(ac))
            let dc = (ORPOObjective.oddsRatio(beta: 0.3, chosen: ac + h, rejected: ar).loss
                      - ORPOObjective.oddsRatio(beta: 0.3, chosen: ac - h, rejected: ar).loss) / (2 * h)
            let dr = (ORPOObjective.oddsRatio(beta: 0.3, chosen: ac, rejected: ar + 1e-6).loss
                      - ORPOObjective.oddsRatio(beta: 0.3, chosen: ac, rejected: ar - 1e-6).loss) / 2e-6
            #expect(abs(v.dChosen - dc) <= 1e-5 * max(1, abs(dc)), "\(ac), \(ar): \(v.dChosen) vs \(dc)")
            #expect(abs(v.dRejected - dr) <= 1e-5 * max(1, abs(dr)), "\(ac), \(ar): \(v.dRejected) vs \(dr)")
            #expect(v.loss > 0 && v.dChosen < 0 && v.dRejected > 0)   // raising the chosen lowers the loss
        }
        // A completion the model is certain of stays finite.
        #expect(ORPOObjective.oddsRatio(beta: 0.1, chosen: 0, rejected: -1).loss.isFinite)
    }

    /// Same hashes on 1 and 2 threads (two shards at once), the loss is the
    /// chosen NLL plus the odds-ratio term, and a resume from step 2's state continues identically.
    @Test func deterministicAndResumable() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.preference, count: 40, in: dir, name: "pref")
        var config = smallConfig(mode: .orpo, dataset: data, batch: 4, shards: 2, steps: 4)
        config.orpo.beta = 0.5
        let a = try trainer(config, threads: 1)
        let records = (0..<4).map { _ in a.trainStep() }
        let m0 = Dictionary(uniqueKeysWithValues: records[0].metrics.map { ($0.name, $0.value) })
        let nll = try #require(m0["nll_loss"]), ratio = try #require(m0["log_odds_ratio"])
        #expect(abs(Double(records[0].loss) - (nll - 0.5 * ratio)) < 1e-5 * max(1, nll))
        #expect(ratio < 0 && m0["logps/chosen"]! < 0 && m0["rewards/chosen"]! == 0.5 * m0["logps/chosen"]!)
        #expect(records[3].loss < records[0].loss)

        let b = try trainer(config, threads: 2)
        #expect(b.concurrentShardLanes == 2)
        #expect((0..<4).map { _ in b.trainStep().hashLine.serialized() } == records.map { $0.hashLine.serialized() })

        let c = try trainer(config, threads: 2)
        _ = c.trainStep(); _ = c.trainStep()
        let d = try trainer(config, threads: 1)
        for (x, y) in pairs(c.stateTensors(), d.stateTensors(), "state tensors") { y.tensor.copy(from: x.tensor) }
        d.resume(atStep: 2)
        #expect((0..<2).map { _ in d.trainStep().hashLine.serialized() } == records[2...].map { $0.hashLine.serialized() })
    }
}
