import Foundation
import Testing
import SimplyCore
import SimplyEval
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

@Suite struct GRPOLossTests {
    func reference() throws -> JSONValue {
        try JSONValue.parse(String(contentsOf: goldenURL.appendingPathComponent("grpo_reference.json"), encoding: .utf8))
    }

    func doubles(_ v: JSONValue?, _ what: String = "grpo_reference.json array") -> [Double] { goldenDoubles(v, what) }

    /// Group, batch and no scaling against TRL's formulas in PyTorch
    /// (golden/grpo_reference.json from tools/reference/grpo_reference.py).
    @Test func advantagesMatchPyTorch() throws {
        guard case let .array(cases)? = try reference()["advantages"] else { Issue.record("no cases"); return }
        #expect(cases.count >= 9)
        var scalings = Set<String>(), sawZero = false
        for c in cases {
            let scaling = try #require(GRPOLoss.RewardScaling(rawValue: c["scaling"]!.stringValue!))
            scalings.insert(scaling.rawValue)
            let (adv, zero) = GRPOLoss.advantages(doubles(c["rewards"]), groupSize: c["group_size"]!.intValue!, scaling: scaling)
            let want = doubles(c["advantages"])
            for (a, w) in pairs(adv, want, "\(scaling) advantages") { #expect(abs(a - w) <= 1e-12 * max(1, abs(w)), "\(scaling): \(a) vs torch \(w)") }
            guard case let .array(z)? = c["zero_std"] else { Issue.record("no zero_std"); continue }
            #expect(zero == z.map { $0 == .bool(true) })
            sawZero = sawZero || zero.contains(true)
        }
        #expect(scalings == ["group", "batch", "none"])
        #expect(sawZero, "the cases include a group whose rewards are all equal")
    }

    /// Every level × aggregation × (β, ε, ε_high): the batch loss, its
    /// derivative with respect to every token's log-probability, the KL mean
    /// and the clip counts, against PyTorch autograd in float64.
    @Test func lossesAndGradientsMatchPyTorch() throws {
        guard case let .array(cases)? = try reference()["losses"] else { Issue.record("no cases"); return }
        #expect(cases.count == 18)
        var clippedSomewhere = false
        for c in cases {
            let settings = GRPOLoss.Settings(
                epsilonLow: c["epsilon_low"]!.doubleValue!, epsilonHigh: c["epsilon_high"]!.doubleValue!,
                beta: c["beta"]!.doubleValue!,
                aggregation: try #require(GRPOLoss.Aggregation(rawValue: c["aggregation"]!.stringValue!)),
                level: try #require(GRPOLoss.Level(rawValue: c["level"]!.stringValue!)))
            guard case let .array(seqs)? = c["sequences"] else { Issue.record("no sequences"); continue }
            let batchTokens = seqs.reduce(0) { $0 + doubles($1["logps"]).count }
            var loss = 0.0, kl = 0.0, low = 0, high = 0
            for s in seqs {
                let comp = GRPOLoss.Completion(logps: doubles(s["logps"]), oldLogps: doubles(s["old_logps"]),
                                               refLogps: doubles(s["ref_logps"]), advantage: s["advantage"]!.doubleValue!)
                let w = GRPOLoss.weight(settings.aggregation, tokens: comp.logps.count, sequences: seqs.count,
                                        batchTokens: batchTokens, maxCompletionLength: c["max_completion_length"]!.intValue!)
                let v = GRPOLoss.sequence(comp, settings: settings, weight: w)
                loss += v.loss; kl += v.klSum; low += v.lowClipped; high += v.highClipped
                for (g, want) in pairs(v.dLogps, doubles(s["d_logps"], "d_logps"), "d_logps") {
                    #expect(abs(g - want) <= 1e-12 * max(1, abs(want)), "\(settings): d logp \(g) vs torch \(want)")
                }
            }
            let want = c["loss"]!.doubleValue!
            #expect(abs(loss - want) <= 1e-12 * max(1, abs(want)), "\(settings): loss \(loss) vs torch \(want)")
            #expect(abs(kl / Double(batchTokens) - c["kl_mean"]!.doubleValue!) <= 1e-12)
            #expect(low == c["low_clipped"]!.intValue! && high == c["high_clipped"]!.intValue!)
            clippedSomewhere = clippedSomewhere || low + high > 0
        }
        #expect(clippedSomewhere, "the cases exercise the clip")
    }
}

@Suite struct GRPOObjectiveTests {
    func objective(_ config: ExperimentConfig, threads: Int = 1,
                   rewards: [(reward: any RewardFunction, weight: Double)]? = nil) throws -> (GRPOObjective, Trainer) {
        let runtime = RuntimeOptions(threads: threads, deterministic: true)
        let o = try GRPOObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: nil), rewards: rewards)
        return (o, Trainer(config: config, objective: o, runtime: runtime))
    }

    func config(_ dir: Scratch, batch: Int = 8, shards: Int = 2) throws -> ExperimentConfig {
        let data = try preparedTasks(.promptOnly, count: 40, in: dir, name: "prompts")
        var c = smallConfig(mode: .grpo, dataset: data, batch: batch, shards: shards, steps: 4)
        c.grpo.numGenerations = 4
        c.grpo.maxCompletionLength = 6
        // An untrained model never answers a sum right; `format` (a clean
        // turn) is what gives some groups a spread of rewards.
        c.grpo.rewards = "exact_match,format:0.5"
        return c
    }

    func metrics(_ r: StepRecord) -> [String: Double] { Dictionary(uniqueKeysWithValues: r.metrics.map { ($0.name, $0.value) }) }

    /// Rollouts are part of the contract: the same hashes on 1 and 2 threads,
    /// and a trainer restarted from step 2's state samples the same rollouts
    /// and continues with the same hashes.
    @Test func deterministicAndResumable() throws {
        let dir = try Scratch()
        let c = try config(dir)
        let (_, a) = try objective(c, threads: 1)
        let records = (0..<4).map { _ in a.trainStep() }
        let m = metrics(records[0])
        for key in ["reward", "reward_std", "frac_reward_zero_std", "kl", "entropy", "rewards/exact_match/mean",
                    "rewards/format/mean", "clip_ratio/region_mean", "completions/mean_length", "completions/clipped_ratio"] {
            #expect(m[key] != nil, "metric \(key)")
        }
        #expect(m["kl"] == 0, "step 1: the policy is the reference")
        #expect(m["clip_ratio/region_mean"] == 0, "one update per rollout: ρ = 1 exactly")
        #expect(m["entropy"]! > 1, "an untrained model is uncertain")
        #expect(m["completions/mean_length"]! >= 1 && m["completions/max_length"]! <= 6)
        #expect(Set(records.map(\.batchSHA256)).count == 4, "each step samples new completions")

        let (_, b) = try objective(c, threads: 2)
        #expect(b.concurrentShardLanes == (c.train.gradShards >= 2 ? 2 : 1))
        #expect((0..<4).map { _ in b.trainStep().hashLine.serialized() } == records.map { $0.hashLine.serialized() })

        let (_, d) = try objective(c, threads: 2)
        let (_, e) = try objective(c, threads: 1)
        _ = e.trainStep(); _ = e.trainStep()
        for (x, y) in pairs(e.stateTensors(), d.stateTensors(), "state tensors") { y.tensor.copy(from: x.tensor) }
        d.resume(atStep: 2)
        #expect((0..<2).map { _ in d.trainStep().hashLine.serialized() } == records[2...].map { $0.hashLine.serialized() })
    }

    /// μ = 2 (TRL num_iterations): a rollout every second step, kept in the
    /// state tensors; the second step of a cycle trains on the same batch
    /// with the policy moved, so ρ ≠ 1 and a small ε clips; the same hashes
    /// on 1 and 2 threads; a trainer given the state after step 3 (in the
    /// middle of the second cycle) continues with the uninterrupted hashes.
    @Test func numIterationsReusesTheRolloutAndResumesMidCycle() throws {
        let dir = try Scratch()
        var c = try config(dir)
        c.train.steps = 6
        c.grpo.numIterations = 2
        c.grpo.epsilon = 1e-4; c.grpo.epsilonHigh = 1e-4
        let digits: [(reward: any RewardFunction, weight: Double)] = [(DigitCount(), 1)]   // groups whose rewards differ
        let (o, a) = try objective(c, threads: 1, rewards: digits)
        #expect(o.stateTensors.map(\.name) == ["grpo.rollout.tokens", "grpo.rollout.lengths", "grpo.rollout.logprobs",
                                                "grpo.rollout.rewards"])
        let records = (0..<6).map { _ in a.trainStep() }
        let batches = records.map(\.batchSHA256)
        #expect(batches[0] == batches[1] && batches[2] == batches[3] && batches[4] == batches[5], "μ steps per rollout")
        #expect(Set(batches).count == 3, "each cycle samples a new rollout")
        for (i, r) in records.enumerated() {
            let clipped = metrics(r)["clip_ratio/region_mean"]!
            if i % 2 == 0 { #expect(clipped == 0, "step \(i + 1): the rollout's own weights, ρ = 1") }
            else { #expect(clipped > 0, "step \(i + 1): the policy has moved and ε = 1e-4 clips; \(metrics(r))") }
        }
        #expect(metrics(records[1])["reward"] == metrics(records[0])["reward"], "one rollout, one reward")

        let (_, b) = try objective(c, threads: 2, rewards: digits)
        #expect((0..<6).map { _ in b.trainStep().hashLine.serialized() } == records.map { $0.hashLine.serialized() })

        let (_, e) = try objective(c, threads: 1, rewards: digits)
        for _ in 0..<3 { _ = e.trainStep() }
        let (_, d) = try objective(c, threads: 2, rewards: digits)
        #expect(d.stateHash() != e.stateHash())
        for (x, y) in pairs(e.stateTensors(), d.stateTensors(), "state tensors") { #expect(x.name == y.name); y.tensor.copy(from: x.tensor) }
        d.resume(atStep: 3)
        #expect(d.stateHash() == records[2].stateSHA256, "the state hash covers the rollout")
        #expect((0..<3).map { _ in d.trainStep().hashLine.serialized() } == records[3...].map { $0.hashLine.serialized() })

        // μ = 1 keeps no state: its bits are those of a run without the key.
        c.grpo.numIterations = 1
        #expect(try objective(c).0.stateTensors.isEmpty)
    }

    /// The objective's gradient is the gradient of its loss, with the
    /// rollout (advantages, old log-probs) held fixed: analytic vs central
    /// differences, with β > 0 so the KL term is in it too.
    @Test func gradientMatchesFiniteDifferences() throws {
        let dir = try Scratch()
        var c = try config(dir, batch: 8, shards: 1)
        c.grpo.beta = 0.5
        let (o, trainer) = try objective(c, rewards: [(DigitCount(), 1)])
        for _ in 0..<3 { _ = trainer.trainStep() }
        let model = trainer.model
        var spread = false
        for step in 3..<12 {
            _ = o.loadBatch(step: step, policy: model, parallel: .serial)
            model.zeroGrads()
            let r = o.shardGradient(0, model: model, parallel: .serial)
            if let z = r.metrics.first(where: { $0.name == "frac_reward_zero_std" })?.value, z < 1 { spread = true; break }
        }
        #expect(spread, "some group has rewards that differ (else the advantages are all 0)")
        try expectGradientMatchesFiniteDifferences(model, names: ["model.layers.1.mlp.down_proj.weight", "model.norm.weight", "model.embed_tokens.weight"], minGradient: 1e-5, tolerance: 3e-2) {
            model.zeroGrads()
            return Double(o.shardGradient(0, model: model, parallel: .serial).loss)
        }
    }

    /// Dynamic sampling drops the groups whose rewards are all equal. With
    /// β = 0 their advantages are 0, so the kept groups' gradient is the
    /// plain one, renormalized by the kept tokens instead of all (`dapo`):
    /// g_dynamic = g_plain · (all tokens / kept tokens).
    @Test func dynamicSamplingRenormalizesOverGroupsWithSignal() throws {
        let dir = try Scratch()
        var c = try config(dir, batch: 8, shards: 1)
        c.grpo.beta = 0
        c.grpo.lossType = "dapo"
        let (plain, trainer) = try objective(c, rewards: [(DigitCount(), 1)])
        for _ in 0..<2 { _ = trainer.trainStep() }
        c.grpo.dynamicSampling = true
        let (dynamic, _) = try objective(c, rewards: [(DigitCount(), 1)])
        let model = trainer.model
        var checked = false
        for step in 2..<16 where !checked {
            _ = plain.loadBatch(step: step, policy: model, parallel: .serial)
            _ = dynamic.loadBatch(step: step, policy: model, parallel: .serial)
            let zero = (0..<2).map { g in Set(plain.advantages[(g * 4)..<(g * 4 + 4)]) == [0] }
            guard zero.contains(true) && zero.contains(false) else { continue }   // one group dropped, one kept
            #expect(dynamic.kept == (0..<8).map { !zero[$0 / 4] })
            let all = plain.completionTokens.reduce(0, +)
            let keptTokens = (0..<8).filter { dynamic.kept[$0] }.reduce(0) { $0 + plain.completionTokens[$1] }
            #expect(dynamic.batchTokens == keptTokens && plain.batchTokens == all)
            model.zeroGrads()
            _ = plain.shardGradient(0, model: model, parallel: .serial)
            let g = model.grads.toArray()
            model.zeroGrads()
            _ = dynamic.shardGradient(0, model: model, parallel: .serial)
            let d = model.grads.toArray()
            let scale = Double(all) / Double(keptTokens)
            var worst = 0.0, largest = 0.0
            for (x, y) in pairs(g, d, "gradients") {
                worst = max(worst, abs(Double(y) - scale * Double(x)))
                largest = max(largest, abs(Double(y)))
            }
            #expect(largest > 0 && worst <= 1e-4 * largest, "worst \(worst) of \(largest)")
            checked = true
        }
        #expect(checked, "a step with one group dropped and one kept")
    }

    @Test func badSettingsAreRefused() throws {
        let dir = try Scratch()
        var c = try config(dir)
        c.train.batchSize = 6
        do { _ = try objective(c); Issue.record("accepted batch 6 with 4 generations") } catch {
            #expect("\(error)".contains("train.batch_size 6 must be a multiple of grpo.num_generations 4"), "\(error)")
        }
        c = try config(dir)
        c.grpo.rewards = "exact_match,bleu"
        do { _ = try objective(c); Issue.record("accepted an unknown reward") } catch {
            #expect("\(error)".contains("grpo.rewards: unknown reward 'bleu'"), "\(error)")
        }
        c = try config(dir)
        c.grpo.maxCompletionLength = 90
        do { _ = try objective(c); Issue.record("accepted completions that cannot fit a row") } catch {
            #expect("\(error)".contains("grpo.max_completion_length 90: the longest prompt"), "\(error)")
        }
        c = try config(dir)
        c.grpo.rewards = "reward_model"
        do { _ = try objective(c); Issue.record("accepted reward_model without a checkpoint") } catch {
            #expect("\(error)".contains("grpo.reward_model"), "\(error)")
        }
    }
}

/// A reward a library user might plug in: the number of digits in the
/// completion (an untrained model's samples differ in it, so groups spread).
struct DigitCount: RewardFunction {
    var name: String { "digits" }
    func rewards(_ inputs: [RewardInput], parallel: Parallel) -> [Double] {
        inputs.map { Double($0.completion.filter { $0 >= 48 && $0 <= 57 }.count) }
    }
}
