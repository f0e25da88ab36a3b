import Testing
import SimplyCore
import SimplyModel

/// The hooks post-training objectives use: scaled loss gradients (DPO, policy
/// gradients) and the score head (reward models, value heads).
@Suite struct PosttrainingHooksTests {
    static func model(scoreHead: Bool = false) -> Transformer {
        var c = ModelConfig(vocabSize: 37, dModel: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 24, seqLen: 8)
        c.scoreHead = scoreHead
        let m = Transformer(config: c, maxBatch: 2)
        m.initialize(seed: 7)
        return m
    }
    static let tokens: [Int32] = (0..<16).map { Int32(($0 * 7 + 3) % 37) }
    static let targets: [Int32] = (0..<16).map { Int32(($0 * 5 + 1) % 37) }

    /// backward after scaleLossGradient(s) is the gradient of Σ s·w·CE: the
    /// same as weights w·s, to float32 rounding (the products are ordered differently).
    @Test func scaledLossGradientIsTheGradientOfTheScaledLoss() {
        let w: [Float] = (0..<16).map { $0 % 3 == 0 ? 0 : 1 }
        let s: [Float] = (0..<16).map { $0 < 8 ? -0.7 : 1.9 }
        let a = Self.model(), b = Self.model()
        a.zeroGrads(); b.zeroGrads()
        _ = a.forward(tokens: Self.tokens, targets: Self.targets, weights: w, batch: 2, seqLen: 8, parallel: .serial)
        a.scaleLossGradient(s, parallel: .serial)
        a.backward(parallel: .serial)
        _ = b.forward(tokens: Self.tokens, targets: Self.targets, weights: zip(w, s).map { $0 * $1 }, batch: 2, seqLen: 8,
                      parallel: .serial)
        b.backward(parallel: .serial)
        var worst: Float = 0, scale: Float = 0
        for i in 0..<a.layout.count {
            worst = max(worst, abs(a.grads.pointer[i] - b.grads.pointer[i]))
            scale = max(scale, abs(b.grads.pointer[i]))
        }
        #expect(scale > 0.01)
        #expect(worst <= 1e-5 * scale, "max diff \(worst) vs max |g| \(scale)")
        // Per-position losses: w·CE, zero where w is zero.
        let pl = a.positionLosses
        #expect(pl.count == 16 && pl.pointer[0] == 0 && pl.pointer[1] > 0)
    }

    /// L = Σ_k c_k · score(row_k) with the LM head skipped: analytic gradient
    /// from backward(scoreGradients:) against central differences.
    @Test func scoreHeadGradientMatchesFiniteDifferences() {
        let m = Self.model(scoreHead: true)
        #expect(m.layout.entries.last?.name == "score.weight" && m.layout.entries.last?.shape == [1, 16])
        let rows = [7, 12], coeff: [Float] = [1.3, -0.8]
        let zeros = [Float](repeating: 0, count: 16)
        func value() -> Double {
            let l = m.forward(tokens: Self.tokens, targets: Self.targets, weights: zeros, batch: 2, seqLen: 8,
                              parallel: .serial, withLogits: false)
            #expect(l == 0)
            return zip(m.scores(rows: rows), coeff).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
        m.zeroGrads()
        _ = value()
        m.backward(parallel: .serial, scoreGradients: zip(rows, coeff).map { (row: $0, gradient: $1) })
        func numeric(_ p: Tensor, _ i: Int) -> Double {
            let saved = p.pointer[i]
            func central(_ h: Float) -> Double {
                p.pointer[i] = saved + h; let up = value()
                p.pointer[i] = saved - h; let down = value()
                p.pointer[i] = saved
                return (up - down) / (Double(saved + h) - Double(saved - h))
            }
            return (4 * central(5e-3) - central(1e-2)) / 3
        }
        for name in ["score.weight", "model.norm.weight", "model.layers.0.self_attn.q_proj.weight", "model.embed_tokens.weight"] {
            let g = m.gradient(name)
            let i = (0..<g.count).max { abs(g.pointer[$0]) < abs(g.pointer[$1]) }!
            let analytic = Double(g.pointer[i]), fd = numeric(m.parameter(name), i)
            #expect(abs(analytic) > 1e-3, "\(name): pick a sizeable gradient")
            #expect(abs(fd - analytic) <= 2e-3 * abs(analytic) + 1e-5, "\(name)[\(i)]: analytic \(analytic) vs numeric \(fd)")
        }
        // The LM head got no gradient: the tied embedding rows not used as inputs stay zero.
        let used = Set(Self.tokens.map(Int.init))
        let unused = (0..<37).first { !used.contains($0) }!
        let e = m.gradient("model.embed_tokens.weight")
        #expect((0..<16).allSatisfy { e.pointer[unused * 16 + $0] == 0 })
    }
}
