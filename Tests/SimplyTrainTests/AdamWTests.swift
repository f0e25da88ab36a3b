import Foundation
import Testing
import SimplyCore
import SimplyRun
import SimplyTrain

let goldenDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("golden")

@Suite struct AdamWTests {
    /// Against torch.optim.AdamW (golden/adamw_reference.json, written by
    /// tools/reference/adamw_reference.py): same update rule, so agreement to
    /// float32 rounding.
    @Test func matchesTorchAdamW() throws {
        let text = try String(contentsOf: goldenDirectory.appendingPathComponent("adamw_reference.json"), encoding: .utf8)
        let ref = try JSONValue.parse(text)
        func floats(_ v: JSONValue?) -> [Float] {
            guard case let .array(items)? = v, !items.isEmpty else { Issue.record("adamw_reference.json: an array is missing or empty"); return [] }
            return items.map { Float($0.doubleValue!) }
        }
        var cfg = TrainConfig()
        cfg.beta1 = ref["config"]!["beta1"]!.doubleValue!
        cfg.beta2 = ref["config"]!["beta2"]!.doubleValue!
        cfg.eps = ref["config"]!["eps"]!.doubleValue!
        cfg.weightDecay = ref["config"]!["weight_decay"]!.doubleValue!
        let w0 = floats(ref["init_decayed"]), n0 = floats(ref["init_plain"])
        let params = Tensor(shape: [w0.count + n0.count], values: w0 + n0)
        let grads = Tensor(shape: [params.count])
        let segments = [AdamW.Segment(offset: 0, count: w0.count, decay: true),
                        AdamW.Segment(offset: w0.count, count: n0.count, decay: false)]
        let opt = AdamW(parameterCount: params.count, config: cfg)
        guard case let .array(steps)? = ref["steps"] else { Issue.record("no steps"); return }
        #expect(steps.count == 5)
        var worst: Float = 0
        for s in steps {
            grads.copy(from: floats(s["grad_decayed"]) + floats(s["grad_plain"]))
            opt.step(params: params, grads: grads, segments: segments, lr: s["lr"]!.doubleValue!, parallel: .serial)
            let expected = floats(s["decayed"]) + floats(s["plain"])
            #expect(expected.count == params.count)
            for (a, b) in zip(params.toArray(), expected) {
                worst = max(worst, abs(a - b) / max(abs(b), 1e-3))
            }
        }
        #expect(worst < 2e-6, "worst relative difference \(worst)")
    }

    /// The 8-lane update equals the plain scalar loop bit for bit: segments
    /// that start and end off the 8-element grid, with and without decay,
    /// tiny and huge gradients (v near 0 and large), 1 and 2 threads.
    @Test func laneUpdateEqualsThePlainLoop() {
        let n = 1001
        let s = RandomStream(seed: 5, name: "adam-lanes")
        let p0 = (0..<n).map { s.normal(UInt64($0)) }
        let g0 = (0..<n).map { i -> Float in s.normal(UInt64(i), 1) * ([1e-20, 1e-3, 1, 1e6] as [Float])[i % 4] }
        let segments: [AdamW.Segment] = [.init(offset: 0, count: 13, decay: false), .init(offset: 13, count: 500, decay: true),
                                         .init(offset: 513, count: 7, decay: false), .init(offset: 520, count: 481, decay: true)]
        let config = TrainConfig()
        let (b1, b2, eps, wd) = (Float(config.beta1), Float(config.beta2), Float(config.eps), Float(config.weightDecay))
        // The plain loop, over 3 steps.
        var p = p0, m = [Float](repeating: 0, count: n), v = m
        for t in 1...3 {
            let lr = 1e-3
            let bc1 = 1 - DetMath.pow(config.beta1, Double(t)), bc2 = 1 - DetMath.pow(config.beta2, Double(t))
            let stepSize = Float(lr / bc1), bc2Sqrt = Float(bc2.squareRoot()), decayFactor = 1 - Float(lr) * wd
            for e in segments {
                for i in e.offset..<(e.offset + e.count) {
                    let gi = g0[i]
                    m[i] = b1 * m[i] + (1 - b1) * gi
                    v[i] = b2 * v[i] + (1 - b2) * (gi * gi)
                    let denom = v[i].squareRoot() / bc2Sqrt + eps
                    p[i] = p[i] * (e.decay ? decayFactor : 1) - stepSize * (m[i] / denom)
                }
            }
        }
        for threads in [1, 2] {
            let pt = Tensor(shape: [n], values: p0), gt = Tensor(shape: [n], values: g0)
            let opt = AdamW(parameterCount: n, config: config)
            for _ in 1...3 { opt.step(params: pt, grads: gt, segments: segments, lr: 1e-3, parallel: Parallel(threads: threads)) }
            #expect(pt.toArray().map(\.bitPattern) == p.map(\.bitPattern), "params, \(threads) threads")
            #expect(opt.m.toArray().map(\.bitPattern) == m.map(\.bitPattern), "m, \(threads) threads")
            #expect(opt.v.toArray().map(\.bitPattern) == v.map(\.bitPattern), "v, \(threads) threads")
        }
    }

    /// The gradient tree's last addition with the norm: the sum's bits, and
    /// globalNorm's bits for its norm (1, 2, 3 threads; with and without
    /// groups of four blocks, and a tail).
    @Test func addReturningNormEqualsAddThenGlobalNorm() {
        let block = 1 << 16
        for n in [0, 7, 4 * block, 9 * block + 77] {
            let s = RandomStream(seed: 9, name: "tree-norm")
            let x = Tensor(shape: [n], values: (0..<n).map { s.normal(UInt64($0)) * Float(1 + $0 % 13) })
            let y = Tensor(shape: [n], values: (0..<n).map { s.normal(UInt64($0), 1) })
            let want = zip(x.toArray(), y.toArray()).map { ($0 + $1).bitPattern }
            let wantNorm = globalNorm(Tensor(shape: [n], values: zip(x.toArray(), y.toArray()).map { $0 + $1 }), parallel: .serial)
            for threads in [1, 2, 3] {
                let out = Tensor(shape: [n])
                let norm = addReturningNorm(x, y, into: out, parallel: Parallel(threads: threads))
                #expect(out.toArray().map(\.bitPattern) == want && norm.bitPattern == wantNorm.bitPattern, "\(n), \(threads) threads")
            }
        }
    }

    /// Clipping folded into AdamW (`gradScale`) gives the bits of a clipping
    /// pass followed by AdamW: parameters, m and v.
    @Test func gradScaleEqualsAClippingPass() throws {
        let n = 70_001
        let s = RandomStream(seed: 4, name: "adam-clip")
        let p0 = (0..<n).map { s.normal(UInt64($0)) }, g0 = (0..<n).map { s.normal(UInt64($0), 1) }
        let norm = globalNorm(Tensor(shape: [n], values: g0), parallel: .serial)
        let scale = try #require(clipScale(norm: norm, maxNorm: 1.0))
        #expect(clipScale(norm: norm, maxNorm: 0) == nil && clipScale(norm: norm, maxNorm: 2 * norm) == nil)
        var out: [[UInt32]] = []
        for folded in [false, true] {
            let p = Tensor(shape: [n], values: p0), g = Tensor(shape: [n], values: g0)
            let opt = AdamW(parameterCount: n, config: TrainConfig())
            let segments: [AdamW.Segment] = [.init(offset: 0, count: 40_003, decay: true), .init(offset: 40_003, count: n - 40_003, decay: false)]
            for _ in 0..<2 {
                if folded {
                    opt.step(params: p, grads: g, gradScale: scale, segments: segments, lr: 1e-3, parallel: Parallel(threads: 2))
                } else {
                    let c = Tensor(shape: [n], values: g.toArray())
                    clipGradients(c, maxNorm: 1.0, parallel: Parallel(threads: 2))
                    opt.step(params: p, grads: c, segments: segments, lr: 1e-3, parallel: Parallel(threads: 2))
                }
            }
            out.append((p.toArray() + opt.m.toArray() + opt.v.toArray()).map(\.bitPattern))
        }
        #expect(out[0] == out[1])
    }

    @Test func sameBitsOnAnyThreadCount() {
        let n = 100_003
        let s = RandomStream(seed: 3, name: "adam")
        var results: [[UInt32]] = []
        for threads in [1, 2, 3] {
            let p = Tensor(shape: [n], values: (0..<n).map { s.normal(UInt64($0)) })
            let g = Tensor(shape: [n], values: (0..<n).map { s.normal(UInt64($0), 1) })
            let opt = AdamW(parameterCount: n, config: TrainConfig())
            for _ in 0..<3 {
                opt.step(params: p, grads: g, segments: [.init(offset: 0, count: n, decay: true)], lr: 1e-3,
                         parallel: Parallel(threads: threads))
            }
            results.append(p.toArray().map(\.bitPattern))
        }
        #expect(results[0] == results[1] && results[1] == results[2])
    }

    @Test func scheduleWarmsUpThenDecaysToMin() {
        var c = TrainConfig()
        c.steps = 100; c.warmupSteps = 10; c.lr = 1e-3; c.minLR = 1e-4
        #expect(abs(learningRate(step: 0, config: c) - 1e-4) < 1e-12)
        #expect(abs(learningRate(step: 9, config: c) - 1e-3) < 1e-12)
        #expect(abs(learningRate(step: 99, config: c) - 1e-4) < 1e-12)
        let mid = learningRate(step: 10 + 89 / 2, config: c)
        #expect(mid > 5.4e-4 && mid < 5.6e-4)
        for k in 10..<99 { #expect(learningRate(step: k + 1, config: c) <= learningRate(step: k, config: c)) }
    }

    /// The norm's kernel (eight blocks' chains interleaved) equals its plain
    /// definition bit for bit: each 2¹⁶-element block summed left to right in
    /// Double, the block sums added in block order. Values of wildly different
    /// sizes, so any other order would round differently.
    @Test func globalNormEqualsItsPlainDefinition() {
        let block = 1 << 16
        for n in [0, 5, block, 8 * block, 8 * block + 3, 19 * block + 1234] {
            let vals = (0..<n).map { i -> Float in
                let u = UInt32(truncatingIfNeeded: (UInt64(i) &* 0x9E3779B97F4A7C15) >> 32)
                return Float(Int32(bitPattern: u) % 1000) * Float(1 << (u % 23)) * 1e-5
            }
            var total = 0.0
            var lo = 0
            while lo < n {
                var s = 0.0
                for i in lo..<min(n, lo + block) { let v = Double(vals[i]); s += v * v }
                total += s
                lo += block
            }
            let g = Tensor(shape: [n], values: vals)
            for threads in [1, 2, 3] {
                #expect(globalNorm(g, parallel: Parallel(threads: threads)).bitPattern == total.squareRoot().bitPattern,
                        "\(n) values, \(threads) threads")
            }
        }
    }

    @Test func clippingScalesToMaxNormAndIsThreadInvariant() {
        let n = 300_000
        let vals = (0..<n).map { Float($0 % 7) - 3 }
        var norms: [Double] = []
        for threads in [1, 2] {
            let g = Tensor(shape: [n], values: vals)
            norms.append(clipGradients(g, maxNorm: 1.0, parallel: Parallel(threads: threads)))
            let after = globalNorm(g, parallel: .serial)
            #expect(abs(after - 1.0) < 1e-4)
        }
        let exact = (vals.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
        #expect(norms[0].bitPattern == norms[1].bitPattern)
        #expect(abs(norms[0] - exact) / exact < 1e-12)
    }
}
