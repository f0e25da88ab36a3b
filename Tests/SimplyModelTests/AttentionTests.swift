import Testing
import SimplyCore
import SimplyModel

/// Causal attention computes only the blocks the mask keeps (Attention.block
/// rows at a time) and keeps only row statistics, recomputing each block's
/// probabilities in the backward; its outputs and gradients must equal the
/// plain full-T×T version — all probabilities kept, masked scores set to 0
/// and every product over all T — bit for bit.
@Suite struct AttentionTests {
    /// The plain version: full T×T products with `Matmul.reference`, masked entries 0.
    @discardableResult
    func plainForward(_ a: Attention, out: Tensor, probs: Tensor, q: Tensor, k: Tensor, v: Tensor) -> [(max: Float, inv: Float)] {
        var stats: [(max: Float, inv: Float)] = []
        let (t, h, kvh, hd) = (a.seqLen, a.heads, a.kvHeads, a.headDim)
        let scale = 1 / Float(hd).squareRoot(), group = h / kvh
        for bh in 0..<(a.batch * h) {
            let b = bh / h, head = bh % h, kv = head / group
            let qp = q.pointer + b * t * h * hd + head * hd
            let kp = k.pointer + b * t * kvh * hd + kv * hd
            let vp = v.pointer + b * t * kvh * hd + kv * hd
            let p = probs.pointer + bh * t * t
            Matmul.reference(p, qp, kp, m: t, n: t, k: hd, transB: true, lda: h * hd, ldb: kvh * hd, ldc: t)
            for i in 0..<t {
                let row = p + i * t, lo = a.window > 0 ? max(0, i - a.window + 1) : 0
                var mx = -Float.infinity
                for j in lo...i { row[j] *= scale; mx = max(mx, row[j]) }
                var sum: Float = 0
                for j in lo...i { let e = DetMath.exp(row[j] - mx); row[j] = e; sum += e }
                let inv = 1 / sum
                stats.append((mx, inv))
                for j in lo...i { row[j] *= inv }
                for j in 0..<lo { row[j] = 0 }
                for j in (i + 1)..<t { row[j] = 0 }
            }
            Matmul.reference(out.pointer + b * t * h * hd + head * hd, p, vp, m: t, n: hd, k: t,
                             lda: t, ldb: kvh * hd, ldc: h * hd)
        }
        return stats
    }

    func plainBackward(_ a: Attention, dq: Tensor, dk: Tensor, dv: Tensor, dscratch: Tensor, dout: Tensor,
                       probs: Tensor, q: Tensor, k: Tensor, v: Tensor) {
        let (t, h, kvh, hd) = (a.seqLen, a.heads, a.kvHeads, a.headDim)
        let scale = 1 / Float(hd).squareRoot(), group = h / kvh
        for bkv in 0..<(a.batch * kvh) {
            let b = bkv / kvh, kv = bkv % kvh
            let kp = k.pointer + b * t * kvh * hd + kv * hd, vp = v.pointer + b * t * kvh * hd + kv * hd
            let dkp = dk.pointer + b * t * kvh * hd + kv * hd, dvp = dv.pointer + b * t * kvh * hd + kv * hd
            for row in 0..<t {
                (dkp + row * kvh * hd).update(repeating: 0, count: hd)
                (dvp + row * kvh * hd).update(repeating: 0, count: hd)
            }
            for head in (kv * group)..<((kv + 1) * group) {
                let bh = b * h + head
                let p = probs.pointer + bh * t * t, ds = dscratch.pointer + bh * t * t
                let qp = q.pointer + b * t * h * hd + head * hd
                let dqp = dq.pointer + b * t * h * hd + head * hd
                let dop = dout.pointer + b * t * h * hd + head * hd
                Matmul.reference(dvp, p, dop, m: t, n: hd, k: t, transA: true, accumulate: true, lda: t, ldb: h * hd, ldc: kvh * hd)
                Matmul.reference(ds, dop, vp, m: t, n: t, k: hd, transB: true, lda: h * hd, ldb: kvh * hd, ldc: t)
                for i in 0..<t {
                    let pr = p + i * t, dr = ds + i * t, lo = a.window > 0 ? max(0, i - a.window + 1) : 0
                    var dot: Float = 0
                    for j in lo...i { dot += pr[j] * dr[j] }
                    for j in lo...i { dr[j] = scale * (pr[j] * (dr[j] - dot)) }
                    for j in 0..<lo { dr[j] = 0 }
                    for j in (i + 1)..<t { dr[j] = 0 }
                }
                Matmul.reference(dqp, ds, kp, m: t, n: hd, k: t, lda: t, ldb: kvh * hd, ldc: h * hd)
                Matmul.reference(dkp, ds, qp, m: t, n: hd, k: t, transA: true, accumulate: true, lda: t, ldb: h * hd, ldc: kvh * hd)
            }
        }
    }

    func random(_ shape: [Int], _ name: String, scale: Float) -> Tensor {
        let s = RandomStream(seed: 77, name: name)
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t.pointer[i] = scale * s.normal(0, UInt64(i)) }
        return t
    }

    func bits(_ t: Tensor) -> [UInt32] { (0..<t.count).map { t.pointer[$0].bitPattern } }

    /// The share of score entries the blocks compute, against counting them one by one.
    @Test func causalFractionCountsTheBlocksEntries() {
        for t in [1, 31, 32, 33, 100, 128, 256] {
            var entries = 0
            for row in 0..<t { entries += min(t, (row / Attention.block + 1) * Attention.block) }
            #expect(Attention.causalFraction(seqLen: t) == Double(entries) / Double(t * t), "T = \(t)")
        }
        #expect(Attention.causalFraction(seqLen: 256) == 0.5625)
    }

    /// Shapes around the block edges (T below, at and past multiples of the
    /// block, T = 1), grouped and plain heads; 1 and 2 threads.
    @Test(arguments: [(2, 37, 4, 2, 8), (1, 70, 3, 3, 16), (1, 64, 2, 1, 4), (2, 1, 2, 2, 8), (1, 33, 2, 2, 32), (1, 96, 2, 1, 8)])
    func blockedCausalAttentionEqualsFullProducts(shape: (Int, Int, Int, Int, Int)) {
        check(shape, window: 0)
    }

    /// Sliding windows (Mistral) narrower than a block, across blocks, and as wide as the sequence.
    @Test(arguments: [(2, 37, 4, 2, 8, 5), (1, 70, 3, 3, 16, 32), (1, 96, 2, 1, 8, 1), (1, 64, 2, 1, 4, 64), (1, 80, 2, 2, 8, 33)])
    func slidingWindowAttentionEqualsFullProducts(shape: (Int, Int, Int, Int, Int, Int)) {
        check((shape.0, shape.1, shape.2, shape.3, shape.4), window: shape.5)
    }

    func check(_ shape: (Int, Int, Int, Int, Int), window: Int) {
        let (batch, t, h, kvh, hd) = shape
        let a = Attention(batch: batch, seqLen: t, heads: h, kvHeads: kvh, headDim: hd, window: window)
        let n = batch * t
        // Large scores (scale 3) so some probabilities underflow to 0 inside the kept triangle too.
        let q = random([n, h * hd], "q", scale: 3), k = random([n, kvh * hd], "k", scale: 3)
        let v = random([n, kvh * hd], "v", scale: 1), dout = random([n, h * hd], "dout", scale: 1)
        let probsCount = batch * h * t * t
        let refOut = Tensor(shape: [n, h * hd]), refProbs = Tensor(shape: [probsCount])
        let refDq = Tensor(shape: [n, h * hd]), refDk = Tensor(shape: [n, kvh * hd]), refDv = Tensor(shape: [n, kvh * hd])
        let refStats = plainForward(a, out: refOut, probs: refProbs, q: q, k: k, v: v)
        plainBackward(a, dq: refDq, dk: refDk, dv: refDv, dscratch: Tensor(shape: [probsCount]), dout: dout,
                      probs: refProbs, q: q, k: k, v: v)
        for threads in [1, 2] {
            let parallel = Parallel(threads: threads)
            let out = Tensor(shape: [n, h * hd])
            let stats = random([Attention.statsCount(batch: batch, heads: h, seqLen: t)], "stale", scale: 100)
            let dq = random([n, h * hd], "stale-dq", scale: 1), dk = random([n, kvh * hd], "stale-dk", scale: 1)
            let dv = random([n, kvh * hd], "stale-dv", scale: 1)
            a.forward(out: out, stats: stats, q: q, k: k, v: v, parallel: parallel)
            a.backward(dq: dq, dk: dk, dv: dv, dout: dout, stats: stats, q: q, k: k, v: v, parallel: parallel)
            #expect(bits(out) == bits(refOut), "out, \(shape), \(threads) threads")
            #expect(bits(dq) == bits(refDq), "dq, \(shape), \(threads) threads")
            #expect(bits(dk) == bits(refDk), "dk, \(shape), \(threads) threads")
            #expect(bits(dv) == bits(refDv), "dv, \(shape), \(threads) threads")
            // The kept statistics are the plain softmax's: its row maximum (of the scaled scores) and 1/Σexp.
            var same = true
            for bh in 0..<(batch * h) {
                for i in 0..<t where stats.pointer[2 * (bh * t + i)] != refStats[bh * t + i].max
                    || stats.pointer[2 * (bh * t + i) + 1] != refStats[bh * t + i].inv { same = false }
            }
            #expect(same, "stats, \(shape), window \(window)")
        }
    }
}
