import Foundation
import Testing
import SimplyCore
import SimplyPosttraining

@Suite struct GRPOLossTests {
    func reference() throws -> JSONValue {
        try JSONValue.parse(String(contentsOf: goldenURL.appendingPathComponent("grpo_reference.json"), encoding: .utf8))
    }

    func doubles(_ v: JSONValue?) -> [Double] {
        guard case let .array(a)? = v else { return [] }
        return a.map { $0.doubleValue! }
    }

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
            #expect(adv.count == want.count)
            for (a, w) in zip(adv, want) { #expect(abs(a - w) <= 1e-12 * max(1, abs(w)), "\(scaling): \(a) vs torch \(w)") }
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
                for (g, want) in zip(v.dLogps, doubles(s["d_logps"])) {
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
