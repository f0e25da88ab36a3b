import SimplyCore

/// Rotary position embedding (Su et al. 2021) in Hugging Face's rotate_half
/// layout: dimension i pairs with i + hd/2, inv_freq_i = θ^(−2i/hd).
/// The cos/sin tables are computed once in Double with DetMath, then rounded.
struct RoPE {
    let half: Int
    let cos: [Float]   // [seqLen, half]
    let sin: [Float]

    init(headDim: Int, seqLen: Int, theta: Double) {
        half = headDim / 2
        var c = [Float](repeating: 0, count: seqLen * half), s = c
        for i in 0..<half {
            let invFreq = DetMath.pow(theta, -Double(2 * i) / Double(headDim))
            for t in 0..<seqLen {
                let angle = Double(t) * invFreq
                c[t * half + i] = Float(DetMath.cos(angle))
                s[t * half + i] = Float(DetMath.sin(angle))
            }
        }
        cos = c; sin = s
    }

    /// Rotates x[B·T, heads, hd] in place at positions t = row mod T.
    /// inverse = true applies Rᵀ (the backward pass of the rotation).
    func apply(_ x: Tensor, rows: Int, seqLen: Int, heads: Int, inverse: Bool, parallel: Parallel) {
        let hd = 2 * half, half = self.half
        let cosT = self.cos, sinT = self.sin
        parallel.forEachRange(rows, grain: 8) { r in
            for n in r {
                let t = n % seqLen
                for h in 0..<heads {
                    let v = x.pointer + (n * heads + h) * hd
                    for i in 0..<half {
                        let c = cosT[t * half + i], s = inverse ? -sinT[t * half + i] : sinT[t * half + i]
                        let x1 = v[i], x2 = v[i + half]
                        v[i] = x1 * c - x2 * s
                        v[i + half] = x2 * c + x1 * s
                    }
                }
            }
        }
    }

    /// Rotates x[N, heads, hd] in place, row n at position positions[n]: the
    /// forward rotation of `apply` with the same arithmetic, so a token gets
    /// the same bits whether its position comes from its row or from a KV cache.
    func apply(_ x: Tensor, positions: [Int], heads: Int, parallel: Parallel) {
        let hd = 2 * half, half = self.half
        let cosT = self.cos, sinT = self.sin
        positions.withUnsafeBufferPointer { pb in
            let pp = SendablePointer(UnsafeMutablePointer(mutating: pb.baseAddress!))
            parallel.forEachRange(pb.count, grain: 8) { r in
                for n in r {
                    let t = pp.p[n]
                    for h in 0..<heads {
                        let v = x.pointer + (n * heads + h) * hd
                        for i in 0..<half {
                            let c = cosT[t * half + i], s = sinT[t * half + i]
                            let x1 = v[i], x2 = v[i + half]
                            v[i] = x1 * c - x2 * s
                            v[i + half] = x2 * c + x1 * s
                        }
                    }
                }
            }
        }
    }
}
