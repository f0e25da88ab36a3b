import SimplyCore

/// Causal grouped-query self-attention on [B·T, heads, hd] layouts.
/// Query head h reads key/value head h / (H / KV). Scores, softmax and the
/// weighted sum run per (batch, head) with fixed-order sums; threads split
/// (batch, kv-group) pairs, so no two threads write the same output.
///
/// Causal blocks: the T query rows are cut into blocks of `block` rows, and
/// rows r0..<r1 only compute and store score columns 0..<r1. A masked entry
/// (j > i) is exactly +0 in probs and dscores, and the products that consume
/// them are fma chains in which those +0 terms come last (p·v, ds·k) or
/// first (pᵀ·dout, dsᵀ·q), where fma(+0, x, acc) returns acc for any finite
/// x and any acc other than −0; so the chains stop (or start) at the block
/// edge and the bits stay those of the full T×T products
/// (AttentionTests compares with the full products). Columns ≥ r1 of a
/// block's rows are never written or read.
///
/// Sliding window (Mistral): with `window` w > 0, row i attends to columns
/// max(0, i − w + 1)...i. The columns left of that are computed by the block
/// product like any other, then set to exactly +0 before the softmax is read,
/// so they add nothing to the chains above (and the softmax's max and sum
/// run over the window only).
public struct Attention: Sendable {
    public let batch: Int, seqLen: Int, heads: Int, kvHeads: Int, headDim: Int
    /// 0: full causal attention.
    public let window: Int

    public init(batch: Int, seqLen: Int, heads: Int, kvHeads: Int, headDim: Int, window: Int = 0) {
        self.batch = batch; self.seqLen = seqLen; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.window = window
    }

    /// The first column row i attends to.
    @inline(__always) func firstColumn(_ i: Int) -> Int { window > 0 ? max(0, i - window + 1) : 0 }

    /// Query rows per causal block.
    public static let block = 32

    /// The share of the T×T score entries the causal blocks compute: rows
    /// r0..<r1 of each block take columns 0..<r1 (0.5625 at T = 256).
    public static func causalFraction(seqLen t: Int) -> Double {
        if t <= 0 { return 0 }
        var entries = 0
        for r0 in stride(from: 0, to: t, by: block) { let r1 = min(t, r0 + block); entries += (r1 - r0) * r1 }
        return Double(entries) / Double(t * t)
    }

    var group: Int { heads / kvHeads }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// probs[B, H, T, T] and out[B·T, H·hd] from q[B·T, H·hd], k, v[B·T, KV·hd].
    public func forward(out: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor, parallel: Parallel) {
        let (t, h, kvh, hd) = (seqLen, heads, kvHeads, headDim)
        let scale = self.scale, group = self.group, block = Self.block
        parallel.forEachRange(batch * h) { r in
            for bh in r {
                let b = bh / h, head = bh % h, kv = head / group
                let qp = q.pointer + b * t * h * hd + head * hd
                let kp = k.pointer + b * t * kvh * hd + kv * hd
                let vp = v.pointer + b * t * kvh * hd + kv * hd
                let p = probs.pointer + bh * t * t
                for r0 in stride(from: 0, to: t, by: block) {
                    let r1 = min(t, r0 + block)
                    // scores[r0..<r1, 0..<r1] = q · kᵀ
                    Matmul.deterministic(p + r0 * t, qp + r0 * h * hd, kp, m: r1 - r0, n: r1, k: hd, transB: true,
                                         lda: h * hd, ldb: kvh * hd, ldc: t)
                    for i in r0..<r1 {
                        let lo = firstColumn(i), row = p + i * t + lo, n = i + 1 - lo
                        Self.scaleRow(row, n, scale)
                        let mx = Lanes.rowMax(row, n)
                        Lanes.expShifted(row, n, shift: mx)
                        let inv = 1 / Lanes.sequentialSum(row, n)
                        Self.scaleRow(row, n, inv)
                        if lo > 0 { (p + i * t).update(repeating: 0, count: lo) }
                        if i + 1 < r1 { (p + i * t + i + 1).update(repeating: 0, count: r1 - i - 1) }
                    }
                    // out[r0..<r1] = probs[r0..<r1, 0..<r1] · v[0..<r1]
                    Matmul.deterministic(out.pointer + (b * t + r0) * h * hd + head * hd, p + r0 * t, vp,
                                         m: r1 - r0, n: hd, k: r1, lda: t, ldb: kvh * hd, ldc: h * hd)
                }
            }
        }
    }

    /// x[j] *= s for j in 0..<n (independent elements).
    @inline(__always)
    static func scaleRow(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float) {
        for j in 0..<n { x[j] *= s }
    }

    /// dq (overwritten), dk and dv (overwritten) from dout, given the forward's q, k, v, probs.
    /// dscratch is [B, H, T, T] workspace.
    public func backward(dq: Tensor, dk: Tensor, dv: Tensor, dscratch: Tensor, dout: Tensor,
                  probs: Tensor, q: Tensor, k: Tensor, v: Tensor, parallel: Parallel) {
        let (t, h, kvh, hd) = (seqLen, heads, kvHeads, headDim)
        let scale = self.scale, group = self.group, block = Self.block
        parallel.forEachRange(batch * kvh) { r in
            for bkv in r {
                let b = bkv / kvh, kv = bkv % kvh
                let kp = k.pointer + b * t * kvh * hd + kv * hd
                let vp = v.pointer + b * t * kvh * hd + kv * hd
                let dkp = dk.pointer + b * t * kvh * hd + kv * hd
                let dvp = dv.pointer + b * t * kvh * hd + kv * hd
                for row in 0..<t {
                    (dkp + row * kvh * hd).update(repeating: 0, count: hd)
                    (dvp + row * kvh * hd).update(repeating: 0, count: hd)
                }
                // The query heads of this kv head, in order: their dk, dv contributions add up in head order.
                for head in (kv * group)..<((kv + 1) * group) {
                    let bh = b * h + head
                    let p = probs.pointer + bh * t * t
                    let ds = dscratch.pointer + bh * t * t
                    let qp = q.pointer + b * t * h * hd + head * hd
                    let dqp = dq.pointer + b * t * h * hd + head * hd
                    let dop = dout.pointer + b * t * h * hd + head * hd
                    for r0 in stride(from: 0, to: t, by: block) {
                        let r1 = min(t, r0 + block)
                        // dv[r0..<r1] += probs[r0..<T, r0..<r1]ᵀ · dout[r0..<T]  (rows above r0 are masked there)
                        Matmul.deterministic(dvp + r0 * kvh * hd, p + r0 * t + r0, dop + r0 * h * hd,
                                             m: r1 - r0, n: hd, k: t - r0, transA: true, accumulate: true,
                                             lda: t, ldb: h * hd, ldc: kvh * hd)
                        // dprobs[r0..<r1, 0..<r1] = dout · vᵀ
                        Matmul.deterministic(ds + r0 * t, dop + r0 * h * hd, vp, m: r1 - r0, n: r1, k: hd, transB: true,
                                             lda: h * hd, ldb: kvh * hd, ldc: t)
                        // softmax backward, then the scale: ds = scale · p ⊙ (dp − Σ p·dp)
                        for i in r0..<r1 {
                            let pr = p + i * t, dr = ds + i * t, lo = firstColumn(i)
                            var dot: Float = 0
                            for j in lo...i { dot += pr[j] * dr[j] }
                            for j in lo...i { dr[j] = scale * (pr[j] * (dr[j] - dot)) }
                            if lo > 0 { dr.update(repeating: 0, count: lo) }
                            if i + 1 < r1 { (dr + i + 1).update(repeating: 0, count: r1 - i - 1) }
                        }
                    }
                    for r0 in stride(from: 0, to: t, by: block) {
                        let r1 = min(t, r0 + block)
                        // dq[r0..<r1] = ds[r0..<r1, 0..<r1] · k[0..<r1]
                        Matmul.deterministic(dqp + r0 * h * hd, ds + r0 * t, kp, m: r1 - r0, n: hd, k: r1,
                                             lda: t, ldb: kvh * hd, ldc: h * hd)
                        // dk[r0..<r1] += ds[r0..<T, r0..<r1]ᵀ · q[r0..<T]
                        Matmul.deterministic(dkp + r0 * kvh * hd, ds + r0 * t + r0, qp + r0 * h * hd,
                                             m: r1 - r0, n: hd, k: t - r0, transA: true, accumulate: true,
                                             lda: t, ldb: h * hd, ldc: kvh * hd)
                    }
                }
            }
        }
    }
}
