import SimplyCore
import SimplyRun

/// Global L2 norm of a flat gradient buffer. The buffer is cut into fixed
/// blocks (independent of the thread count); each block's sum of squares is a
/// left-to-right Double sum, and the block sums are added in block order. So
/// threads change which worker sums a block, never the bits.
public func globalNorm(_ g: Tensor, parallel: Parallel) -> Double {
    let block = normBlock
    let blocks = (g.count + block - 1) / block
    var partial = [Double](repeating: 0, count: blocks)
    partial.withUnsafeMutableBufferPointer { buf in
        let out = SendablePointer(buf.baseAddress!), gp = SendablePointer(g.pointer)
        let count = g.count
        parallel.forEachRange(blocks) { r in
            var b = r.lowerBound
            // Eight whole blocks at once: a block's sum is one chain of
            // dependent adds (the adder's latency per element); eight chains
            // side by side keep the adders busy. Each is still its block's
            // left-to-right sum.
            while b + 8 <= r.upperBound, (b + 8) * block <= count {
                sumOfSquaresOfEightBlocks(gp.p + b * block, block, into: out.p + b)
                b += 8
            }
            while b < r.upperBound {
                let lo = b * block, hi = min(count, lo + block)
                out.p[b] = sumOfSquares(gp.p + lo, hi - lo)
                b += 1
            }
        }
    }
    var total = 0.0
    for s in partial { total += s }
    return total.squareRoot()
}

/// out = x + y element by element, and the global norm of the result (the
/// bits of `globalNorm(out)`) from the same pass: the gradient tree's last
/// addition, so the norm needs no read of its own. Blocks as in globalNorm;
/// four at a time, each a left-to-right chain.
public func addReturningNorm(_ x: Tensor, _ y: Tensor, into out: Tensor, parallel: Parallel) -> Double {
    precondition(x.count == y.count && x.count == out.count)
    let block = normBlock, count = x.count
    let blocks = (count + block - 1) / block
    var partial = [Double](repeating: 0, count: blocks)
    partial.withUnsafeMutableBufferPointer { buf in
        let sums = SendablePointer(buf.baseAddress!)
        let (xp, yp, op) = (SendablePointer(x.pointer), SendablePointer(y.pointer), SendablePointer(out.pointer))
        parallel.forEachRange(blocks) { r in
            var b = r.lowerBound
            while b + 4 <= r.upperBound, (b + 4) * block <= count {
                let (x0, y0, o0) = (xp.p + b * block, yp.p + b * block, op.p + b * block)
                var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
                for i in 0..<block {
                    let v0 = x0[i] + y0[i], v1 = x0[block + i] + y0[block + i]
                    let v2 = x0[2 * block + i] + y0[2 * block + i], v3 = x0[3 * block + i] + y0[3 * block + i]
                    o0[i] = v0; o0[block + i] = v1; o0[2 * block + i] = v2; o0[3 * block + i] = v3
                    let d0 = Double(v0), d1 = Double(v1), d2 = Double(v2), d3 = Double(v3)
                    s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3
                }
                (sums.p[b], sums.p[b + 1], sums.p[b + 2], sums.p[b + 3]) = (s0, s1, s2, s3)
                b += 4
            }
            while b < r.upperBound {
                let lo = b * block, hi = min(count, lo + block)
                for i in lo..<hi { op.p[i] = xp.p[i] + yp.p[i] }
                sums.p[b] = sumOfSquares(op.p + lo, hi - lo)
                b += 1
            }
        }
    }
    var total = 0.0
    for s in partial { total += s }
    return total.squareRoot()
}

/// The norm's block: its sums of squares are fixed-order within a block.
let normBlock = 1 << 16

/// Σ x² over x[0..<n], left to right in Double (a Float's square is exact in Double).
func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var s = 0.0
    for i in 0..<n { let v = Double(x[i]); s += v * v }
    return s
}

/// out[j] = sumOfSquares(x + j·n, n) for j in 0..<8, the eight chains interleaved.
private func sumOfSquaresOfEightBlocks(_ x: UnsafePointer<Float>, _ n: Int, into out: UnsafeMutablePointer<Double>) {
    var (s0, s1, s2, s3, s4, s5, s6, s7) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    for i in 0..<n {
        let v0 = Double(x[i]), v1 = Double(x[n + i]), v2 = Double(x[2 * n + i]), v3 = Double(x[3 * n + i])
        let v4 = Double(x[4 * n + i]), v5 = Double(x[5 * n + i]), v6 = Double(x[6 * n + i]), v7 = Double(x[7 * n + i])
        s0 += v0 * v0; s1 += v1 * v1; s2 += v2 * v2; s3 += v3 * v3
        s4 += v4 * v4; s5 += v5 * v5; s6 += v6 * v6; s7 += v7 * v7
    }
    (out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7]) = (s0, s1, s2, s3, s4, s5, s6, s7)
}

/// Scales `g` so its global norm is at most `maxNorm` (no-op when maxNorm ≤ 0).
/// Returns the norm before clipping.
@discardableResult
public func clipGradients(_ g: Tensor, maxNorm: Double, parallel: Parallel) -> Double {
    let norm = globalNorm(g, parallel: parallel)
    if let scale = clipScale(norm: norm, maxNorm: maxNorm) {
        parallel.forEachRange(g.count, grain: 16384) { r in
            for i in r { g.pointer[i] *= scale }
        }
    }
    return norm
}

/// The factor clipping multiplies every gradient by (nil: no clipping).
/// The training step hands it to AdamW, which multiplies each gradient as
/// it reads it: the same products as `clipGradients`, without a pass of
/// its own over the gradients.
public func clipScale(norm: Double, maxNorm: Double) -> Float? {
    maxNorm > 0 && norm > maxNorm ? Float(maxNorm / (norm + 1e-6)) : nil
}
