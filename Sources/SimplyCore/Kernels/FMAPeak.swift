import Dispatch
import Foundation

/// The machine's float32 FMA peak, measured: every thread runs a loop of
/// independent fused multiply-adds on registers only (no loads, no stores),
/// as wide as the build's matrix kernel (16 lanes with SIMPLY_AVX512, else 8).
/// Twelve accumulators are more chains than FMA units × FMA latency on any
/// x86-64 this runs on (Zen 2: 2 × 5, Sapphire/Emerald Rapids: 2 × 4,
/// Zen 5: 2 × 4), so the loop is bound by FMA throughput alone. It is the
/// same loop on every build; what it reports is what `simply bench` divides
/// training GFLOP/s by. It touches no number a model computes.
public enum FMAPeak {
#if SIMPLY_AVX512
    public typealias Vector = SIMD16<Float>
#else
    public typealias Vector = SIMD8<Float>
#endif

    /// FLOPs one `fmaBurst(iterations:)` call does per iteration.
    static let flopsPerIteration = 12 * 2 * Vector.scalarCount

    /// `iterations` rounds of 12 independent FMA chains; returns a value
    /// that depends on every chain, so nothing is optimized away.
    @inline(never)
    static func fmaBurst(iterations: Int, seed: Float) -> Float {
        let a = Vector(repeating: 0.999_999), b = Vector(repeating: seed * 1e-7)
        var c0 = Vector(repeating: seed), c1 = c0 + 1, c2 = c0 + 2, c3 = c0 + 3
        var c4 = c0 + 4, c5 = c0 + 5, c6 = c0 + 6, c7 = c0 + 7
        var c8 = c0 + 8, c9 = c0 + 9, c10 = c0 + 10, c11 = c0 + 11
        for _ in 0..<iterations {
            c0 = c0.addingProduct(a, b); c1 = c1.addingProduct(a, b); c2 = c2.addingProduct(a, b)
            c3 = c3.addingProduct(a, b); c4 = c4.addingProduct(a, b); c5 = c5.addingProduct(a, b)
            c6 = c6.addingProduct(a, b); c7 = c7.addingProduct(a, b); c8 = c8.addingProduct(a, b)
            c9 = c9.addingProduct(a, b); c10 = c10.addingProduct(a, b); c11 = c11.addingProduct(a, b)
        }
        let s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11))
        return s.sum()
    }

    /// One measurement: GFLOP/s of each of `threads` threads running the
    /// loop at the same time for about `seconds`, and their sum.
    public struct Reading: Sendable {
        public let threads: Int
        public let perThread: [Double]
        public var total: Double { perThread.reduce(0, +) }
    }

    /// Runs `repeats` rounds of `threads` threads at once; the round with the
    /// highest total counts (a shared machine only ever takes FMAs away).
    public static func measure(threads: Int, seconds: Double = 0.2, repeats: Int = 5) -> Reading {
        precondition(threads >= 1 && repeats >= 1)
        // Calibrate the iterations per round on one thread.
        var iterations = 1 << 16
        while true {
            let t0 = DispatchTime.now().uptimeNanoseconds
            sink(fmaBurst(iterations: iterations, seed: 1))
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if dt >= seconds / 4 || iterations >= 1 << 34 {
                iterations = max(1, Int(Double(iterations) * seconds / max(dt, 1e-9)))
                break
            }
            iterations *= 4
        }
        let n = iterations
        var best = Reading(threads: threads, perThread: Array(repeating: 0, count: threads))
        for round in 0..<repeats {
            let rates = RateBox(threads)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let t0 = DispatchTime.now().uptimeNanoseconds
                let s = fmaBurst(iterations: n, seed: Float(round + t + 1))
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                sink(s)
                rates.set(t, Double(n * flopsPerIteration) / dt / 1e9)
            }
            let r = Reading(threads: threads, perThread: rates.values)
            if r.total > best.total { best = r }
        }
        return best
    }

    private final class RateBox: @unchecked Sendable {
        private let lock = NSLock()
        private var v: [Double]
        init(_ n: Int) { v = Array(repeating: 0, count: n) }
        func set(_ i: Int, _ x: Double) { lock.lock(); v[i] = x; lock.unlock() }
        var values: [Double] { lock.lock(); defer { lock.unlock() }; return v }
    }

    @inline(never) static func sink(_ x: Float) { if x.isNaN { print("", terminator: "") } }
}
