import SimplyCore
import SimplyRun
import CPrefetch

/// AdamW (Loshchilov & Hutter) in PyTorch's formulation (torch.optim.AdamW):
///   p ← p − lr·wd·p                         (decoupled decay, only on `decay` entries)
///   m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g²
///   p ← p − (lr / (1−β1^t)) · m / (sqrt(v) / sqrt(1−β2^t) + ε)
/// Elementwise only, so threads may split the buffer anywhere.
public final class AdamW: @unchecked Sendable {
    public let m: Tensor
    public let v: Tensor
    public private(set) var t: Int = 0
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    private let config: TrainConfig

    public init(parameterCount: Int, config: TrainConfig) {
        m = Tensor(shape: [parameterCount])
        v = Tensor(shape: [parameterCount])
        self.config = config
        beta1 = Float(config.beta1); beta2 = Float(config.beta2)
        eps = Float(config.eps); weightDecay = Float(config.weightDecay)
    }

    /// A contiguous run of parameters and whether weight decay applies to it.
    public struct Segment: Sendable {
        public let offset: Int, count: Int, decay: Bool
        public init(offset: Int, count: Int, decay: Bool) { self.offset = offset; self.count = count; self.decay = decay }
    }

    /// One update with learning rate `lr` at step t+1 over `segments` of the flat buffers.
    /// With `gradScale` (gradient clipping, `clipScale`) each gradient is
    /// multiplied by it as it is read: g·scale rounded to Float, exactly what
    /// a clipping pass would have stored.
    /// With `afterChunk`, each thread updates its range in chunks of
    /// `chunkElements` and calls afterChunk(its range, the chunk) after each
    /// (the step hashes the state pieces a chunk completed: StatePieces).
    public func step(params: Tensor, grads: Tensor, gradScale: Float? = nil, segments: [Segment], lr: Double,
                     parallel: Parallel, chunkElements: Int = 1 << 19,
                     afterChunk: (@Sendable (_ thread: Range<Int>, _ chunk: Range<Int>) -> Void)? = nil) {
        t += 1
        // Bias corrections in Double with the project's pow; rounded once to Float.
        let bc1 = 1 - DetMath.pow(config.beta1, Double(t))
        let bc2 = 1 - DetMath.pow(config.beta2, Double(t))
        let stepSize = Float(lr / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let decayFactor = 1 - Float(lr) * weightDecay
        let (b1, b2, eps) = (beta1, beta2, self.eps)
        let (m, v) = (self.m, self.v)
        // One split of the whole buffer across threads (one hand-off per step, not
        // one per tensor); each piece walks the segments it overlaps.
        var total = 0
        for e in segments { total = max(total, e.offset + e.count) }
        let segs = segments
        let (pp, gp, mpp, vpp) = (SendablePointer(params.pointer), SendablePointer(grads.pointer),
                                  SendablePointer(m.pointer), SendablePointer(v.pointer))
        let scaled = gradScale != nil, scale = gradScale ?? 1, vscale = SIMD8<Float>(repeating: scale)
        parallel.forEachRange(total, grain: 16384) { thread in
            var from = thread.lowerBound
            while from < thread.upperBound {
                let r = from..<(afterChunk == nil ? thread.upperBound : min(thread.upperBound, from + max(1, chunkElements)))
                let p = pp.p, g = gp.p, mp = mpp.p, vp = vpp.p
                for e in segs {
                    let lo = max(r.lowerBound, e.offset), hi = min(r.upperBound, e.offset + e.count)
                    if lo >= hi { continue }
                    let decay = e.decay ? decayFactor : 1
                    // 8 elements at a time: each lane is the scalar loop's operations in
                    // its order (IEEE multiply, add, divide and square root per lane, no
                    // contraction into FMAs), so the bits are the scalar tail's.
                    var i = lo
                    let (vb1, vb2, c1, c2) = (SIMD8<Float>(repeating: b1), SIMD8<Float>(repeating: b2),
                                              SIMD8<Float>(repeating: 1 - b1), SIMD8<Float>(repeating: 1 - b2))
                    let (vbc, veps, vdecay, vstep) = (SIMD8<Float>(repeating: bc2Sqrt), SIMD8<Float>(repeating: eps),
                                                      SIMD8<Float>(repeating: decay), SIMD8<Float>(repeating: stepSize))
                    while i + 8 <= hi {
                        let gi = scaled ? Lanes.load(g + i) * vscale : Lanes.load(g + i)
                        let mi = vb1 * Lanes.load(mp + i) + c1 * gi
                        let vi = vb2 * Lanes.load(vp + i) + c2 * (gi * gi)
                        Lanes.store(mi, mp + i)
                        Lanes.store(vi, vp + i)
                        var root = vi
                        withUnsafeMutableBytes(of: &root) { r in
                            let f = r.baseAddress!.assumingMemoryBound(to: Float.self)
                            simply_sqrt8(f, f)
                        }
                        let denom = root / vbc + veps
                        Lanes.store(Lanes.load(p + i) * vdecay - vstep * (mi / denom), p + i)
                        i += 8
                    }
                    while i < hi {
                        let gi = scaled ? g[i] * scale : g[i]
                        let mi = b1 * mp[i] + (1 - b1) * gi
                        let vi = b2 * vp[i] + (1 - b2) * (gi * gi)
                        mp[i] = mi
                        vp[i] = vi
                        let denom = vi.squareRoot() / bc2Sqrt + eps
                        p[i] = p[i] * decay - stepSize * (mi / denom)
                        i += 1
                    }
                }
                afterChunk?(thread, r)
                from = r.upperBound
            }
        }
    }

    /// Restores the step counter (for resume).
    public func setStep(_ t: Int) { self.t = t }
}
