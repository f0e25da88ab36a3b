import SimplyCore

/// Causal grouped-query self-attention on [B·T, heads, hd] layouts.
/// Query head h reads key/value head h / (H / KV). Scores, softmax and the
/// weighted sum run per (batch, head) with fixed-order sums; threads split
/// (batch, kv-group) pairs, so no two threads write the same output.
struct Attention {
    let batch: Int, seqLen: Int, heads: Int, kvHeads: Int, headDim: Int

    var group: Int { heads / kvHeads }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// probs[B, H, T, T] and out[B·T, H·hd] from q[B·T, H·hd], k, v[B·T, KV·hd].
    func forward(out: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor, parallel: Parallel) {
        let (t, h, kvh, hd) = (seqLen, heads, kvHeads, headDim)
        let scale = self.scale, group = self.group
        parallel.forEachRange(batch * h) { r in
            for bh in r {
                let b = bh / h, head = bh % h, kv = head / group
                let qp = q.pointer + b * t * h * hd + head * hd
                let kp = k.pointer + b * t * kvh * hd + kv * hd
                let vp = v.pointer + b * t * kvh * hd + kv * hd
                let p = probs.pointer + bh * t * t
                // scores = q · kᵀ (the full T×T; the upper triangle is masked below)
                Matmul.deterministic(p, qp, kp, m: t, n: t, k: hd, transB: true, lda: h * hd, ldb: kvh * hd, ldc: t)
                for i in 0..<t {
                    let row = p + i * t
                    var mx = -Float.infinity
                    for j in 0...i { row[j] *= scale; mx = max(mx, row[j]) }
                    var sum: Float = 0
                    for j in 0...i { let e = DetMath.exp(row[j] - mx); row[j] = e; sum += e }
                    let inv = 1 / sum
                    for j in 0...i { row[j] *= inv }
                    for j in (i + 1)..<t { row[j] = 0 }
                }
                // out = probs · v
                Matmul.deterministic(out.pointer + b * t * h * hd + head * hd, p, vp, m: t, n: hd, k: t,
                                     lda: t, ldb: kvh * hd, ldc: h * hd)
            }
        }
    }

    /// dq (overwritten), dk and dv (overwritten) from dout, given the forward's q, k, v, probs.
    /// dscratch is [B, H, T, T] workspace.
    func backward(dq: Tensor, dk: Tensor, dv: Tensor, dscratch: Tensor, dout: Tensor,
                  probs: Tensor, q: Tensor, k: Tensor, v: Tensor, parallel: Parallel) {
        let (t, h, kvh, hd) = (seqLen, heads, kvHeads, headDim)
        let scale = self.scale, group = self.group
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
                    // dv += probsᵀ · dout
                    Matmul.deterministic(dvp, p, dop, m: t, n: hd, k: t, transA: true, accumulate: true,
                                         lda: t, ldb: h * hd, ldc: kvh * hd)
                    // dprobs = dout · vᵀ
                    Matmul.deterministic(ds, dop, vp, m: t, n: t, k: hd, transB: true, lda: h * hd, ldb: kvh * hd, ldc: t)
                    // softmax backward, then the scale: ds = scale · p ⊙ (dp − Σ p·dp)
                    for i in 0..<t {
                        let pr = p + i * t, dr = ds + i * t
                        var dot: Float = 0
                        for j in 0...i { dot += pr[j] * dr[j] }
                        for j in 0...i { dr[j] = scale * (pr[j] * (dr[j] - dot)) }
                        for j in (i + 1)..<t { dr[j] = 0 }
                    }
                    // dq = ds · k ;  dk += dsᵀ · q
                    Matmul.deterministic(dqp, ds, kp, m: t, n: hd, k: t, lda: t, ldb: kvh * hd, ldc: h * hd)
                    Matmul.deterministic(dkp, ds, qp, m: t, n: hd, k: t, transA: true, accumulate: true,
                                         lda: t, ldb: h * hd, ldc: kvh * hd)
                }
            }
        }
    }
}
