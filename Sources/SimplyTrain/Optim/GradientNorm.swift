import SimplyCore
import SimplyRun

/// Global L2 norm of a flat gradient buffer. The buffer is cut into fixed
/// blocks (independent of the thread count); each block's sum of squares is a
/// left-to-right Double sum, and the block sums are added in block order. So
/// threads change which worker sums a block, never the bits.
public func globalNorm(_ g: Tensor, parallel: Parallel) -> Double {
    let block = 1 << 16
    let blocks = (g.count + block - 1) / block
    var partial = [Double](repeating: 0, count: blocks)
    partial.withUnsafeMutableBufferPointer { buf in
        let out = SendablePointer(buf.baseAddress!)
        parallel.forEachRange(blocks) { r in
            for b in r {
                let lo = b * block, hi = min(g.count, lo + block)
                var s = 0.0
                for i in lo..<hi { let x = Double(g.pointer[i]); s += x * x }
                out.p[b] = s
            }
        }
    }
    var total = 0.0
    for s in partial { total += s }
    return total.squareRoot()
}

/// Scales `g` so its global norm is at most `maxNorm` (no-op when maxNorm ≤ 0).
/// Returns the norm before clipping.
@discardableResult
public func clipGradients(_ g: Tensor, maxNorm: Double, parallel: Parallel) -> Double {
    let norm = globalNorm(g, parallel: parallel)
    if maxNorm > 0, norm > maxNorm {
        let scale = Float(maxNorm / (norm + 1e-6))
        parallel.forEachRange(g.count, grain: 16384) { r in
            for i in r { g.pointer[i] *= scale }
        }
    }
    return norm
}
