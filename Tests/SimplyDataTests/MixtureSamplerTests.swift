import Testing
import SimplyData

@Suite struct MixtureSamplerTests {
    @Test func frequenciesFollowTheWeights() {
        let m = MixtureSampler(weights: [0.7, 0.2, 0.1, 0], seed: 5)
        var counts = [0, 0, 0, 0]
        for step in 0..<2000 { for slot in 0..<8 { counts[m.choose(step: step, slot: slot)] += 1 } }
        let n = Double(counts.reduce(0, +))
        #expect(abs(Double(counts[0]) / n - 0.7) < 0.02)
        #expect(abs(Double(counts[1]) / n - 0.2) < 0.02)
        #expect(abs(Double(counts[2]) / n - 0.1) < 0.02)
        #expect(counts[3] == 0)
    }

    @Test func pureFunctionOfSeedStepAndSlot() {
        let a = MixtureSampler(weights: [1, 1], seed: 9), b = MixtureSampler(weights: [1, 1], seed: 9)
        let c = MixtureSampler(weights: [1, 1], seed: 10)
        let pa = (0..<500).map { a.choose(step: $0, slot: 3) }
        #expect(pa == (0..<500).map { b.choose(step: $0, slot: 3) })
        #expect(pa != (0..<500).map { c.choose(step: $0, slot: 3) })
        #expect((0..<100).allSatisfy { MixtureSampler(weights: [2], seed: 1).choose(step: $0, slot: 0) == 0 })
    }
}
