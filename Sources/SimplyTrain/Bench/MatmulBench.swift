import SimplyCore
import SimplyModel
import SimplyRun

/// One matrix-product shape a training step runs: C[m,n] = op(A) · op(B),
/// `count` times per optimizer step.
public struct MatmulShape: Sendable {
    public let name: String
    public let m, n, k: Int
    public let transA, transB: Bool
    public let count: Int
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    /// The products of one training step of `model` (`batch` rows of
    /// `seqLen` in `shards` gradient shards), identical shapes merged.
    /// "linear" are the projections and the LM head (forward y = x·Wᵀ,
    /// backward dx = dy·W and dW += dyᵀ·x); "attention" the per-(row, head)
    /// T×T products, which run one thread each inside the head loop (the
    /// backward recomputes the scores: linear-memory attention). With gradient
    /// checkpointing every `checkpointEvery` layers, the backward also runs the
    /// forward products of every layer but the last segment's again (not the
    /// down projection, whose output it does not need).
    public static func trainingStep(_ c: ModelConfig, batch: Int, shards: Int, checkpointEvery: Int = 0)
        -> (linear: [MatmulShape], attention: [MatmulShape]) {
        let rows = batch / shards * c.seqLen, d = c.dModel, hd = c.headDim
        let qd = c.nHeads * hd, kvd = c.nKVHeads * hd, f = c.dFF, t = c.seqLen
        var linear: [MatmulShape] = []
        let perLayer = [("q", qd, d), ("k", kvd, d), ("v", kvd, d), ("o", d, qd), ("gate", f, d), ("up", f, d), ("down", d, f)]
        for (name, out, inp, times) in perLayer.map({ ($0.0, $0.1, $0.2, c.nLayers * shards) }) + [("head", c.vocabSize, d, shards)] {
            linear.append(MatmulShape(name: name + ".fwd", m: rows, n: out, k: inp, transA: false, transB: true, count: times))
            linear.append(MatmulShape(name: name + ".dx", m: rows, n: inp, k: out, transA: false, transB: false, count: times))
            linear.append(MatmulShape(name: name + ".dw", m: out, n: inp, k: rows, transA: true, transB: false, count: times))
        }
        let k = checkpointEvery
        let recomputed = k > 0 ? ((c.nLayers - 1) / k) * k : 0
        if recomputed > 0 {
            for (name, out, inp) in perLayer where name != "down" {
                linear.append(MatmulShape(name: name + ".fwd", m: rows, n: out, k: inp, transA: false, transB: true,
                                          count: recomputed * shards))
            }
        }
        let heads = batch * c.nHeads * c.nLayers, again = batch * c.nHeads * recomputed
        let attention = [
            MatmulShape(name: "scores.fwd+bwd,ds.bwd", m: t, n: t, k: hd, transA: false, transB: true, count: 3 * heads + again),
            MatmulShape(name: "pv.fwd+dq.bwd", m: t, n: hd, k: t, transA: false, transB: false, count: 2 * heads + again),
            MatmulShape(name: "dv+dk.bwd", m: t, n: hd, k: t, transA: true, transB: false, count: 2 * heads),
        ]
        return (merged(linear), attention)
    }

    static func merged(_ shapes: [MatmulShape]) -> [MatmulShape] {
        var out: [MatmulShape] = []
        for s in shapes {
            if let i = out.firstIndex(where: { $0.m == s.m && $0.n == s.n && $0.k == s.k && $0.transA == s.transA && $0.transB == s.transB }) {
                let o = out[i]
                out[i] = MatmulShape(name: o.name + "," + s.name, m: o.m, n: o.n, k: o.k, transA: o.transA, transB: o.transB,
                                     count: o.count + s.count)
            } else {
                out.append(s)
            }
        }
        return out
    }
}

/// Seconds per call of one shape for each implementation and thread count:
/// the fastest of repeated calls (a loaded machine only ever adds time).
public struct MatmulTiming: Sendable {
    public let shape: MatmulShape
    /// "deterministic" / "openblas" → threads → seconds per call.
    public var seconds: [String: [Int: Double]] = [:]

    public func gflops(_ kernel: String, threads: Int) -> Double? {
        seconds[kernel]?[threads].map { shape.flops / $0 / 1e9 }
    }
}

public enum MatmulBench {
    public static let kernels = ["deterministic", "openblas"]

    /// Times `shape` with `Matmul.deterministic` (through `Parallel`) and one
    /// OpenBLAS sgemm call on OpenBLAS's own `threads`-thread pool, each
    /// repeated until `minSeconds` have passed (at least 3 calls, at most 1000).
    public static func time(_ shape: MatmulShape, threads: [Int], minSeconds: Double) -> MatmulTiming {
        let aCount = shape.m * shape.k, bCount = shape.k * shape.n
        let a = Tensor(shape: [aCount]), b = Tensor(shape: [bCount]), c = Tensor(shape: [shape.m * shape.n])
        // Values in [-1, 1): the speed does not depend on them (no denormals).
        for i in 0..<aCount { a.pointer[i] = Float((i &* 2654435761) % 2001) / 1000 - 1 }
        for i in 0..<bCount { b.pointer[i] = Float((i &* 40503) % 2001) / 1000 - 1 }
        var timing = MatmulTiming(shape: shape)
        for t in threads {
            let parallel = Parallel(threads: t, deterministic: true)
            timing.seconds["deterministic", default: [:]][t] = best(minSeconds) {
                Matmul.deterministic(c.pointer, a.pointer, b.pointer, m: shape.m, n: shape.n, k: shape.k,
                                     transA: shape.transA, transB: shape.transB, parallel: parallel)
            }
            timing.seconds["openblas", default: [:]][t] = best(minSeconds) {
                BLASBaseline.sgemm(c.pointer, a.pointer, b.pointer, m: shape.m, n: shape.n, k: shape.k,
                                   transA: shape.transA, transB: shape.transB, threads: t)
            }
        }
        OpenBLASRuntime.setThreads(1)
        return timing
    }

    static func best(_ minSeconds: Double, _ body: () -> Void) -> Double {
        body()   // warm-up: caches, page faults, thread pools
        var fastest = Double.infinity, spent = 0.0, calls = 0
        while calls < 3 || (spent < minSeconds && calls < 1000) {
            let t0 = monotonicSeconds()
            body()
            let dt = monotonicSeconds() - t0
            fastest = min(fastest, dt); spent += dt; calls += 1
        }
        return fastest
    }

    /// Count-weighted GFLOP/s over `timings`: Σ flops·count / Σ seconds·count.
    public static func aggregate(_ timings: [MatmulTiming], kernel: String, threads: Int) -> Double {
        var flops = 0.0, seconds = 0.0
        for t in timings {
            guard let s = t.seconds[kernel]?[threads] else { continue }
            flops += t.shape.flops * Double(t.shape.count)
            seconds += s * Double(t.shape.count)
        }
        return seconds > 0 ? flops / seconds / 1e9 : 0
    }
}
