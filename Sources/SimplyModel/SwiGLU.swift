import SimplyCore

/// The SwiGLU gate (Shazeer 2020): h = silu(g) ⊙ u, silu(g) = g · σ(g).
enum SwiGLU {
    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + DetMath.exp(-x)) }

    static func forward(_ h: Tensor, gate: Tensor, up: Tensor, count: Int, parallel: Parallel) {
        parallel.forEachRange(count, grain: 4096) { r in
            for i in r {
                let g = gate.pointer[i]
                h.pointer[i] = (g * sigmoid(g)) * up.pointer[i]
            }
        }
    }

    /// dgate, dup (overwritten) from dh. silu'(g) = σ(g) · (1 + g · (1 − σ(g))).
    static func backward(dgate: Tensor, dup: Tensor, dh: Tensor, gate: Tensor, up: Tensor, count: Int, parallel: Parallel) {
        parallel.forEachRange(count, grain: 4096) { r in
            for i in r {
                let g = gate.pointer[i], s = sigmoid(g), d = dh.pointer[i]
                dup.pointer[i] = d * (g * s)
                dgate.pointer[i] = (d * up.pointer[i]) * (s * (1 + g * (1 - s)))
            }
        }
    }
}
