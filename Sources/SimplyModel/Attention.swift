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
/// Linear memory (the FlashAttention scheme, without its running rescale):
/// a block's probabilities exist only in one thread's scratch. The forward
/// keeps each query row's maximum and 1/Σexp; the backward recomputes the
/// block's scores with the same product and its probabilities with the same
/// operations from those statistics, so they have the forward's bits. The
/// row statistics are exact (the whole row is in the block, so no online
/// rescaling is needed, which would change the bits). Memory: 2 floats per
/// (row, head) plus `block` × T floats of scratch per thread, instead of
/// T × T per (batch, head) kept for the backward.
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

    /// Floats of the row statistics `forward` keeps for `backward`: a row
    /// maximum and 1/Σexp per (batch, head, query row).
    public static func statsCount(batch: Int, heads: Int, seqLen: Int) -> Int { batch * heads * seqLen * 2 }

    /// Floats of one thread's block of scores (`block` rows × seqLen).
    var blockCount: Int { Self.block * seqLen }

    /// out[B·T, H·hd] from q[B·T, H·hd], k, v[B·T, KV·hd], and the row
    /// statistics stats[B, H, T, 2] = (max of the scaled scores, 1/Σexp):
    /// all that `backward` needs besides q, k, v. A block's probabilities live
    /// in one thread's scratch of `block` × T floats and are gone after the
    /// block, so memory grows with T, not T².
    public func forward(out: Tensor, stats: Tensor, q: Tensor, k: Tensor, v: Tensor, parallel: Parallel) {
        let (t, h, kvh, hd) = (seqLen, heads, kvHeads, headDim)
        let group = self.group, block = Self.block, blockCount = self.blockCount
        parallel.forEachRange(batch * h) { r in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: blockCount)
            defer { p.deallocate() }
            for bh in r {
                let b = bh / h, head = bh % h, kv = head / group
                let qp = q.pointer + b * t * h * hd + head * hd
                let kp = k.pointer + b * t * kvh * hd + kv * hd
                let vp = v.pointer + b * t * kvh * hd + kv * hd
                let st = stats.pointer + bh * t * 2
                for r0 in stride(from: 0, to: t, by: block) {
                    let r1 = min(t, r0 + block)
                    // p[0..<r1-r0, 0..<r1] = softmax(scale · q[r0..<r1] · kᵀ), row by row
                    Matmul.deterministic(p, qp + r0 * h * hd, kp, m: r1 - r0, n: r1, k: hd, transB: true,
                                         lda: h * hd, ldb: kvh * hd, ldc: t)
                    for i in r0..<r1 {
                        let lo = firstColumn(i)
                        (st[2 * i], st[2 * i + 1]) = Self.softmaxRow(p + (i - r0) * t + lo, i + 1 - lo, scale: scale)
                        maskRow(p + (i - r0) * t, row: i, blockEnd: r1)
                    }
                    // out[r0..<r1] = p · v[0..<r1]
                    Matmul.deterministic(out.pointer + (b * t + r0) * h * hd + head * hd, p, vp,
                                         m: r1 - r0, n: hd, k: r1, lda: t, ldb: kvh * hd, ldc: h * hd)
                }
            }
        }
    }

    /// One row of raw scores → probabilities, in place: scaled, then a
    /// max-subtracted DetMath softmax with its left-to-right sum. Returns the
    /// row's statistics (max of the scaled scores, 1/Σexp). The training
    /// forward and the KV-cache sampler (`cachedAttention`) both use it, so a
    /// cached row has the forward's bits.
    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, scale: Float) -> (max: Float, inv: Float) {
        scaleRow(row, n, scale)
        let mx = Lanes.rowMax(row, n)
        Lanes.expShifted(row, n, shift: mx)
        let inv = 1 / Lanes.sequentialSum(row, n)
        scaleRow(row, n, inv)
        return (mx, inv)
    }

    /// Row i's probabilities over columns 0..<i+1 again, from its scores
    /// (the same product as the forward's) and the forward's statistics:
    /// the same operations on the same values, so the same bits.
    @inline(__always)
    func recomputeRow(_ rowStart: UnsafeMutablePointer<Float>, row i: Int, blockEnd r1: Int, stats st: UnsafeMutablePointer<Float>) {
        let lo = firstColumn(i), row = rowStart + lo, n = i + 1 - lo
        Self.scaleRow(row, n, scale)
        Lanes.expShifted(row, n, shift: st[2 * i])
        Self.scaleRow(row, n, st[2 * i + 1])
        maskRow(rowStart, row: i, blockEnd: r1)
    }

    /// Exact +0 left of the window and right of the diagonal (up to the block's end).
    @inline(__always)
    func maskRow(_ rowStart: UnsafeMutablePointer<Float>, row i: Int, blockEnd r1: Int) {
        let lo = firstColumn(i)
        if lo > 0 { rowStart.update(repeating: 0, count: lo) }
        if i + 1 < r1 { (rowStart + i + 1).update(repeating: 0, count: r1 - i - 1) }
    }

    /// x[j] *= s for j in 0..<n (independent elements).
    @inline(__always)
    static func scaleRow(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float) {
        for j in 0..<n { x[j] *= s }
    }

    /// dq (overwritten), dk and dv (overwritten) from dout, given the forward's
    /// q, k, v and row statistics. Query blocks go in order; each recomputes
    /// its probabilities (scores, then `recomputeRow`) into a thread's
    /// scratch and adds its terms to dv and dk, whose FMA chains continue from
    /// block to block (`accumulate`): key row j's chain runs over query rows
    /// i = j's block start, …, T − 1 in order, one head after another, exactly
    /// as when all of a head's probabilities were kept.
    public func backward(dq: Tensor, dk: Tensor, dv: Tensor, dout: Tensor,
                         stats: Tensor, q: Tensor, k: Tensor, v: Tensor, parallel: Parallel) {
        let (t, h, kvh, hd) = (seqLen, heads, kvHeads, headDim)
        let scale = self.scale, group = self.group, block = Self.block, blockCount = self.blockCount
        parallel.forEachRange(batch * kvh) { r in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: 2 * blockCount)
            defer { p.deallocate() }
            let ds = p + blockCount
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
                    let st = stats.pointer + bh * t * 2
                    let qp = q.pointer + b * t * h * hd + head * hd
                    let dqp = dq.pointer + b * t * h * hd + head * hd
                    let dop = dout.pointer + b * t * h * hd + head * hd
                    for r0 in stride(from: 0, to: t, by: block) {
                        let r1 = min(t, r0 + block), m = r1 - r0
                        // p[0..<m, 0..<r1]: this block's probabilities, recomputed
                        Matmul.deterministic(p, qp + r0 * h * hd, kp, m: m, n: r1, k: hd, transB: true,
                                             lda: h * hd, ldb: kvh * hd, ldc: t)
                        for i in r0..<r1 { recomputeRow(p + (i - r0) * t, row: i, blockEnd: r1, stats: st) }
                        // dv[0..<r1] += pᵀ · dout[r0..<r1]
                        Matmul.deterministic(dvp, p, dop + r0 * h * hd, m: r1, n: hd, k: m, transA: true, accumulate: true,
                                             lda: t, ldb: h * hd, ldc: kvh * hd)
                        // dprobs[0..<m, 0..<r1] = dout[r0..<r1] · vᵀ
                        Matmul.deterministic(ds, dop + r0 * h * hd, vp, m: m, n: r1, k: hd, transB: true,
                                             lda: h * hd, ldb: kvh * hd, ldc: t)
                        // softmax backward, then the scale: ds = scale · p ⊙ (dp − Σ p·dp)
                        for i in r0..<r1 {
                            let pr = p + (i - r0) * t, dr = ds + (i - r0) * t, lo = firstColumn(i)
                            var dot: Float = 0
                            for j in lo...i { dot += pr[j] * dr[j] }
                            for j in lo...i { dr[j] = scale * (pr[j] * (dr[j] - dot)) }
                            maskRow(dr, row: i, blockEnd: r1)
                        }
                        // dq[r0..<r1] = ds · k[0..<r1]
                        Matmul.deterministic(dqp + r0 * h * hd, ds, kp, m: m, n: hd, k: r1,
                                             lda: t, ldb: kvh * hd, ldc: h * hd)
                        // dk[0..<r1] += dsᵀ · q[r0..<r1]
                        Matmul.deterministic(dkp, ds, qp + r0 * h * hd, m: r1, n: hd, k: m, transA: true, accumulate: true,
                                             lda: t, ldb: h * hd, ldc: kvh * hd)
                    }
                }
            }
        }
    }
}
