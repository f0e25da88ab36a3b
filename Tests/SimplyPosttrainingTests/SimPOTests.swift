import Foundation
import Testing
import SimplyCore
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

/// SimPO (golden/objectives/simpo.safetensors checks the loss and every
/// gradient against PyTorch in ObjectiveReferenceTests): the pair loss's
/// derivatives, thread invariance and a resume.
@Suite struct SimPOTests {
    func trainer(_ config: ExperimentConfig, threads: Int) throws -> Trainer {
        let runtime = RuntimeOptions(threads: threads, deterministic: true)
        let o = try algorithms.makeObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil))
        #expect(o is SimPOObjective)
        return Trainer(config: config, objective: o, runtime: runtime)
    }

    /// The pair loss against central differences in the two mean log-probs; at
    /// a reward margin of exactly γ the loss is ln 2.
    @Test func pairLossDerivatives() {
        for (ac, ar, e) in [(-0.3, -1.7, 0.0), (-2.5, -0.4, 0.1), (-1e-3, -5.0, 0.3)] {
            func loss(_ c: Double, _ r: Double) -> Double {
                SimPOObjective.pairLoss(beta: 2, gamma: 1, labelSmoothing: e, chosen: c, rejected: r).loss
            }
            let v = SimPOObjective.pairLoss(beta: 2, gamma: 1, labelSmoothing: e, chosen: ac, rejected: ar)
            let h = 1e-6
            let dc = (loss(ac + h, ar) - loss(ac - h, ar)) / (2 * h), dr = (loss(ac, ar + h) - loss(ac, ar - h)) / (2 * h)
            #expect(abs(v.dChosen - dc) <= 1e-6 * max(1, abs(dc)) && abs(v.dRejected - dr) <= 1e-6 * max(1, abs(dr)))
            #expect(v.dChosen == -v.dRejected)
        }
        #expect(abs(SimPOObjective.pairLoss(beta: 2, gamma: 1, labelSmoothing: 0, chosen: -1, rejected: -1.5).loss - log(2)) < 1e-12)
    }

    /// Same hashes on 1 and 2 threads (two shards at once), the loss includes
    /// cpo_alpha · the chosen NLL, and a resume from step 2's state continues identically.
    @Test func deterministicAndResumable() throws {
        let dir = try Scratch()
        let data = try preparedTasks(.preference, count: 40, in: dir, name: "pref")
        var config = smallConfig(mode: .simpo, dataset: data, batch: 4, shards: 2, steps: 4)
        config.simpo.cpoAlpha = 0.5
        let a = try trainer(config, threads: 1)
        let records = (0..<4).map { _ in a.trainStep() }
        var plain = config
        plain.simpo.cpoAlpha = 0
        let p = try trainer(plain, threads: 1).trainStep()
        let m0 = Dictionary(uniqueKeysWithValues: records[0].metrics.map { ($0.name, $0.value) })
        let nll = try #require(m0["nll_loss"])
        #expect(abs(Double(records[0].loss) - (Double(p.loss) + 0.5 * nll)) < 1e-5 * max(1, nll))
        #expect(m0["rewards/chosen"]! == 2 * m0["logps/chosen"]!)
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
