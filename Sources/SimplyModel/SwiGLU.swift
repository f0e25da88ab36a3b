import SimplyCore

/// The SwiGLU gate (Shazeer 2020): h = silu(g) ⊙ u, silu(g) = g · σ(g).
/// Element-wise: 8 independent elements per step (`DetMath.exp` on SIMD8,
/// lane-for-lane the scalar arithmetic), the scalar code for the tail.
enum SwiGLU {
    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + DetMath.exp(-x)) }
    @inline(__always) static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let one = SIMD8<Float>(repeating: 1)
        return one / (one + DetMath.exp(-x))
    }

    static func forward(_ h: Tensor, gate: Tensor, up: Tensor, count: Int, parallel: Parallel) {
        let (hp, gp, upp) = (SendablePointer(h.pointer), SendablePointer(gate.pointer), SendablePointer(up.pointer))
        parallel.forEachRange(count / 8, grain: 512) { r in
            for c in r {
                let i = c * 8
                let g = Lanes.load(gp.p + i)
                Lanes.store((g * sigmoid(g)) * Lanes.load(upp.p + i), hp.p + i)
            }
        }
        for i in (count / 8 * 8)..<count {
            let g = gp.p[i]
            hp.p[i] = (g * sigmoid(g)) * upp.p[i]
        }
    }

    /// dgate, dup (overwritten) from dh. silu'(g) = σ(g) · (1 + g · (1 − σ(g))).
    static func backward(dgate: Tensor, dup: Tensor, dh: Tensor, gate: Tensor, up: Tensor, count: Int, parallel: Parallel) {
        let (dgp, dupp, dhp) = (SendablePointer(dgate.pointer), SendablePointer(dup.pointer), SendablePointer(dh.pointer))
        let (gp, upp) = (SendablePointer(gate.pointer), SendablePointer(up.pointer))
        let one = SIMD8<Float>(repeating: 1)
        parallel.forEachRange(count / 8, grain: 512) { r in
            for c in r {
                let i = c * 8
                let g = Lanes.load(gp.p + i), d = Lanes.load(dhp.p + i)
                let s = sigmoid(g)
                Lanes.store(d * (g * s), dupp.p + i)
                Lanes.store((d * Lanes.load(upp.p + i)) * (s * (one + g * (one - s))), dgp.p + i)
            }
        }
        for i in (count / 8 * 8)..<count {
            let g = gp.p[i], s = sigmoid(g), d = dhp.p[i]
            dupp.p[i] = d * (g * s)
            dgp.p[i] = (d * upp.p[i]) * (s * (1 + g * (1 - s)))
        }
    }
}
