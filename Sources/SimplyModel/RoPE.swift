import SimplyCore

/// Rotary position embedding (Su et al. 2021) in Hugging Face's rotate_half
/// layout: dimension i pairs with i + hd/2, inv_freq_i = θ^(−2i/hd), then
/// the config's frequency scaling (`RoPEScaling`: linear or Llama 3).
/// The cos/sin tables are computed once in Double with DetMath, then rounded.
struct RoPE {
    let half: Int
    let cos: [Float]   // [seqLen, half]
    let sin: [Float]

    init(headDim: Int, seqLen: Int, theta: Double, scaling: RoPEScaling = RoPEScaling()) {
        half = headDim / 2
        var c = [Float](repeating: 0, count: seqLen * half), s = c
        for i in 0..<half {
            let invFreq = scaling.scaled(DetMath.pow(theta, -Double(2 * i) / Double(headDim)))
            for t in 0..<seqLen {
                let angle = Double(t) * invFreq
                c[t * half + i] = Float(DetMath.cos(angle))
                s[t * half + i] = Float(DetMath.sin(angle))
            }
        }
        cos = c; sin = s
    }

    /// Rotates one head vector v[hd] in place with the table row (c, s) of its
    /// position: v_i ← v_i·c_i − v_{i+half}·s_i, v_{i+half} ← v_{i+half}·c_i + v_i·s_i
    /// (s negated for the inverse). Pairs are independent, so 8 go per step.
    @inline(__always)
    static func rotate(_ v: UnsafeMutablePointer<Float>, _ c: UnsafePointer<Float>, _ s: UnsafePointer<Float>,
                       half: Int, inverse: Bool) {
        var i = 0
        while i + 8 <= half {
            let c8 = Lanes.load(c + i), s8 = inverse ? -Lanes.load(s + i) : Lanes.load(s + i)
            let x1 = Lanes.load(v + i), x2 = Lanes.load(v + i + half)
            Lanes.store(x1 * c8 - x2 * s8, v + i)
            Lanes.store(x2 * c8 + x1 * s8, v + i + half)
            i += 8
        }
        while i < half {
            let ci = c[i], si = inverse ? -s[i] : s[i]
            let x1 = v[i], x2 = v[i + half]
            v[i] = x1 * ci - x2 * si
            v[i + half] = x2 * ci + x1 * si
            i += 1
        }
    }

    /// Rotates x[B·T, heads, hd] and, in the same pass over rows, y[B·T, yHeads, hd]
    /// in place at positions t = row mod T (queries and keys: one thread hand-off
    /// instead of two). inverse = true applies Rᵀ (the backward pass of the rotation).
    func apply(_ x: Tensor, heads: Int, and y: Tensor?, heads yHeads: Int, rows: Int, seqLen: Int, inverse: Bool,
               parallel: Parallel) {
        let hd = 2 * half, half = self.half
        cos.withUnsafeBufferPointer { cb in
            sin.withUnsafeBufferPointer { sb in
                let cp = SendablePointer(UnsafeMutablePointer(mutating: cb.baseAddress!))
                let sp = SendablePointer(UnsafeMutablePointer(mutating: sb.baseAddress!))
                let xp = SendablePointer(x.pointer), yp = SendablePointer(y?.pointer ?? x.pointer)
                parallel.forEachRange(rows, grain: 8) { r in
                    for n in r {
                        let t = n % seqLen
                        let c = cp.p + t * half, s = sp.p + t * half
                        for h in 0..<heads { Self.rotate(xp.p + (n * heads + h) * hd, c, s, half: half, inverse: inverse) }
                        for h in 0..<yHeads { Self.rotate(yp.p + (n * yHeads + h) * hd, c, s, half: half, inverse: inverse) }
                    }
                }
            }
        }
    }

    /// Rotates x[N, heads, hd] in place, row n at position positions[n]: the
    /// forward rotation of `apply` with the same arithmetic (`rotate`), so a token gets
    /// the same bits whether its position comes from its row or from a KV cache.
    func apply(_ x: Tensor, positions: [Int], heads: Int, parallel: Parallel) {
        let hd = 2 * half, half = self.half
        cos.withUnsafeBufferPointer { cb in
            sin.withUnsafeBufferPointer { sb in
                positions.withUnsafeBufferPointer { pb in
                    let cp = SendablePointer(UnsafeMutablePointer(mutating: cb.baseAddress!))
                    let sp = SendablePointer(UnsafeMutablePointer(mutating: sb.baseAddress!))
                    let pp = SendablePointer(UnsafeMutablePointer(mutating: pb.baseAddress!))
                    let xp = SendablePointer(x.pointer)
                    parallel.forEachRange(pb.count, grain: 8) { r in
                        for n in r {
                            let t = pp.p[n]
                            for h in 0..<heads {
                                Self.rotate(xp.p + (n * heads + h) * hd, cp.p + t * half, sp.p + t * half, half: half, inverse: false)
                            }
                        }
                    }
                }
            }
        }
    }
}
