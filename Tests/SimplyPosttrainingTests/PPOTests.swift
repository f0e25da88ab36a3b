import Foundation
import Testing
import SimplyCore
import SimplyEval
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

@Suite struct PPOLossTests {
    func doubles(_ v: JSONValue?) -> [Double] { goldenDoubles(v, "ppo_reference.json array") }
    func ragged(_ v: JSONValue?) -> [[Double]] {
        guard case let .array(a)? = v, !a.isEmpty else { Issue.record("ppo_reference.json: a ragged array is missing or empty"); return [] }
        return a.map { goldenDoubles($0, "ppo_reference.json row", allowEmpty: true) }
    }
    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-12 * max(1, abs(b)) }

    /// KL shaping, GAE, whitening, returns, both losses and their
    /// derivatives with respect to every token's log-probability and value,
    /// and the clip fractions, against TRL's formulas in PyTorch float64
    /// autograd (golden/ppo_reference.json from tools/reference/ppo_reference.py).
    @Test func rolloutAndLossesMatchPyTorch() throws {
        let json = try JSONValue.parse(String(contentsOf: goldenURL.appendingPathComponent("ppo_reference.json"), encoding: .utf8))
        guard case let .array(cases)? = json["cases"] else { Issue.record("no cases"); return }
        #expect(cases.count == 10)
        var sawPolicyClip = false, sawValueClip = false, sawWhiten = false, estimators = Set<String>()
        for c in cases {
            let st = c["settings"]!
            let s = PPOLoss.Settings(klCoef: st["kl_coef"]!.doubleValue!,
                                     klEstimator: try #require(PPOLoss.KLEstimator(rawValue: st["kl_estimator"]!.stringValue!)),
                                     cliprange: st["cliprange"]!.doubleValue!, cliprangeValue: st["cliprange_value"]!.doubleValue!,
                                     vfCoef: st["vf_coef"]!.doubleValue!, gamma: st["gamma"]!.doubleValue!, lam: st["lam"]!.doubleValue!,
                                     whitenRewards: st["whiten_rewards"] == .bool(true))
            estimators.insert(s.klEstimator.rawValue)
            sawWhiten = sawWhiten || s.whitenRewards
            let logps = ragged(c["logps"]), refs = ragged(c["ref_logps"]), values = ragged(c["values"])
            let scores = doubles(c["scores"])
            let samples = logps.indices.map { PPOLoss.Sample(logps: logps[$0], refLogps: refs[$0], values: values[$0], score: scores[$0]) }
            let r = PPOLoss.rollout(samples, settings: s)
            for (name, got, want) in [("kl", r.kl, ragged(c["kl"])), ("rewards", r.rewards, ragged(c["rewards"])),
                                      ("advantages", r.advantages, ragged(c["advantages"])), ("returns", r.returns, ragged(c["returns"]))] {
                #expect(got.map(\.count) == want.map(\.count), "\(name) shape")
                for (g, w) in pairs(Array(got.joined()), Array(want.joined()), name) { #expect(close(g, w), "\(s): \(name) \(g) vs torch \(w)") }
            }
            let newLogps = ragged(c["new_logps"]), newValues = ragged(c["new_values"])
            let dl = ragged(c["d_logps"]), dv = ragged(c["d_values"])
            let n = logps.reduce(0) { $0 + $1.count }
            var pl = 0.0, vl = 0.0, pc = 0, vc = 0
            for i in logps.indices {
                for t in logps[i].indices {
                    let x = PPOLoss.token(logp: newLogps[i][t], oldLogp: logps[i][t], advantage: r.advantages[i][t],
                                          value: newValues[i][t], oldValue: values[i][t], ret: r.returns[i][t],
                                          settings: s, weight: 1 / Double(n))
                    pl += x.policyLoss; vl += x.valueLoss
                    if x.policyClipped { pc += 1 }
                    if x.valueClipped { vc += 1 }
                    #expect(close(x.dLogp, dl[i][t]), "\(s): d logp \(x.dLogp) vs torch \(dl[i][t])")
                    #expect(close(x.dValue, dv[i][t]), "\(s): d value \(x.dValue) vs torch \(dv[i][t])")
                }
            }
            #expect(close(pl, c["policy_loss"]!.doubleValue!), "policy loss \(pl)")
            #expect(close(vl, c["value_loss"]!.doubleValue!), "value loss \(vl)")
            #expect(close(pl + s.vfCoef * vl, c["loss"]!.doubleValue!))
            #expect(close(Double(pc) / Double(n), c["policy_clipfrac"]!.doubleValue!))
            #expect(close(Double(vc) / Double(n), c["value_clipfrac"]!.doubleValue!))
            sawPolicyClip = sawPolicyClip || pc > 0
            sawValueClip = sawValueClip || vc > 0
        }
        #expect(sawPolicyClip && sawValueClip && sawWhiten && estimators == ["k1", "k3"], "the cases exercise every branch")
    }

    /// GAE by hand: γ = 1, λ = 1 gives returns = the sum of future rewards.
    @Test func gaeWithGammaAndLambdaOneIsTheRewardToGo() {
        let g = PPOLoss.gae(rewards: [0.5, -1, 2], values: [0.3, 0.1, -0.4], gamma: 1, lam: 1)
        let returns: [Double] = [1.5, 1, 2], advantages: [Double] = [1.2, 0.9, 2.4]
        for t in 0..<3 {
            #expect(abs(g.returns[t] - returns[t]) < 1e-15)
            #expect(abs(g.advantages[t] - advantages[t]) < 1e-15)
        }
    }
}

@Suite struct PPOObjectiveTests {
    func objective(_ config: ExperimentConfig, threads: Int = 1,
                   rewards: [(reward: any RewardFunction, weight: Double)]? = [(DigitCount(), 1)]) throws -> (PPOObjective, Trainer) {
        let runtime = RuntimeOptions(threads: threads, deterministic: true)
        let o = try PPOObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil), rewards: rewards)
        return (o, Trainer(config: config, objective: o, runtime: runtime))
    }

    func config(_ dir: Scratch, batch: Int = 8, shards: Int = 2) throws -> ExperimentConfig {
        let data = try preparedTasks(.promptOnly, count: 40, in: dir, name: "prompts")
        var c = smallConfig(mode: .ppo, dataset: data, batch: batch, shards: shards, steps: 6)
        c.model.scoreHead = true
        c.ppo.numPPOEpochs = 2
        c.ppo.numMiniBatches = 2
        c.ppo.responseLength = 6
        c.ppo.rewards = "format"
        return c
    }

    func metrics(_ r: StepRecord) -> [String: Double] { Dictionary(uniqueKeysWithValues: r.metrics.map { ($0.name, $0.value) }) }

    /// The same hashes on 1 and 2 threads; a trainer given the state after
    /// step 3 (the middle of the second rollout's cycle: its rollout is in the
    /// state tensors) continues with the uninterrupted hashes.
    @Test func deterministicAndResumableMidCycle() throws {
        let dir = try Scratch()
        let c = try config(dir)
        let (o, a) = try objective(c, threads: 1)
        #expect(o.stateTensors.map(\.name).allSatisfy { $0.hasPrefix("ppo.rollout.") } && o.stateTensors.count == 6)
        let records = (0..<8).map { _ in a.trainStep() }
        let m = metrics(records[0])
        for key in ["objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward",
                    "objective/scores", "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg",
                    "val/clipfrac_avg", "val/ratio", "val/mean", "policy/entropy_avg"] {
            #expect(m[key] != nil, "metric \(key)")
        }
        #expect(m["objective/kl"] == 0, "rollout 0: the policy is the reference")
        #expect(m["policy/approxkl_avg"] == 0 && m["policy/clipfrac_avg"] == 0 && m["val/clipfrac_avg"] == 0,
                "the first step's minibatch is evaluated at the rollout's weights: ρ = 1, V = V_old exactly")
        #expect(abs(m["val/ratio"]! - 1) < 1e-12)
        #expect(m["objective/entropy"]! > 1, "an untrained model is uncertain")
        let later = metrics(records[3])
        #expect(later["policy/approxkl_avg"]! > 0, "after 3 updates on the same rollout the policy has moved")
        // Steps of one rollout share its rollout metrics; the next rollout is new.
        #expect(metrics(records[1])["objective/scores"] == m["objective/scores"])
        #expect(Set(records.map(\.batchSHA256)).count == 8, "each step trains on another minibatch")

        let (_, b) = try objective(c, threads: 2)
        #expect(b.concurrentShardLanes == (c.train.gradShards >= 2 ? 2 : 1))
        #expect((0..<8).map { _ in b.trainStep().hashLine.serialized() } == records.map { $0.hashLine.serialized() })

        let (_, e) = try objective(c, threads: 1)
        for _ in 0..<5 { _ = e.trainStep() }
        let (_, d) = try objective(c, threads: 2)
        #expect(d.stateHash() != e.stateHash())
        for (x, y) in pairs(e.stateTensors(), d.stateTensors(), "state tensors") { #expect(x.name == y.name); y.tensor.copy(from: x.tensor) }
        d.resume(atStep: 5)
        #expect(d.stateHash() == records[4].stateSHA256, "the state hash covers the rollout")
        #expect((0..<3).map { _ in d.trainStep().hashLine.serialized() } == records[5...].map { $0.hashLine.serialized() })
    }

    /// The objective's gradient (policy and value parts) is the gradient of
    /// its loss with the rollout held fixed: analytic vs central differences,
    /// on a later step of a cycle, where the ratio is no longer 1.
    @Test func gradientMatchesFiniteDifferences() throws {
        let dir = try Scratch()
        var c = try config(dir, batch: 8, shards: 1)
        c.ppo.numMiniBatches = 1
        c.ppo.numPPOEpochs = 4
        c.ppo.klCoef = 0.5
        c.ppo.vfCoef = 0.5
        let (o, trainer) = try objective(c)
        for _ in 0..<6 { _ = trainer.trainStep() }
        let model = trainer.model
        _ = o.loadBatch(step: 6, policy: model, parallel: .serial)
        try expectGradientMatchesFiniteDifferences(model, names: ["score.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight", "model.embed_tokens.weight"], minGradient: 1e-5, tolerance: 3e-2) {
            model.zeroGrads()
            return Double(o.shardGradient(0, model: model, parallel: .serial).loss)
        }
    }

    @Test func badSettingsAreRefused() throws {
        let dir = try Scratch()
        func refused(_ c: ExperimentConfig, _ text: String, rewards: [(reward: any RewardFunction, weight: Double)]? = [(DigitCount(), 1)]) {
            do { _ = try objective(c, rewards: rewards); Issue.record("accepted: \(text)") } catch {
                #expect("\(error)".contains(text), "\(error)")
                #expect(!"\(error)".contains("\n"))
            }
        }
        var c = try config(dir)
        c.ppo.numMiniBatches = 3
        refused(c, "train.batch_size 8 must be a multiple of ppo.num_mini_batches 3")
        c = try config(dir)
        c.ppo.numMiniBatches = 8
        refused(c, "must be a multiple of train.grad_shards 2")
        c = try config(dir)
        c.model.scoreHead = false
        refused(c, "model.score_head")
        c = try config(dir)
        c.ppo.responseLength = 90
        refused(c, "ppo.response_length 90")
        c = try config(dir)
        c.ppo.rewards = "format,bleu"
        refused(c, "ppo.rewards: unknown reward 'bleu'", rewards: nil)
        c.ppo.rewards = "reward_model"
        refused(c, "ppo.rewards: reward_model needs ppo.reward_model", rewards: nil)
        var e = ExperimentConfig.defaults
        do { try e.set("ppo.kl_estimator", text: "k2"); Issue.record("accepted k2") } catch {
            #expect("\(error)".contains("ppo.kl_estimator"), "\(error)")
        }
        do { try e.set("ppo.cliprange", text: "-1"); Issue.record("accepted a negative cliprange") } catch {
            #expect("\(error)".contains("ppo.cliprange"), "\(error)")
        }
    }
}
