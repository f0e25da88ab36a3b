import Dispatch
import Synchronization
import Testing
import SimplyCore

/// Deterministic test data of mixed magnitude: ±[1, 2) × 2^e with e in -12...12,
/// so the products span ~2^48 and any change in summation order changes bits
/// (shown by `reorderingWouldBeDetected`).
func matmulTestValues(_ count: Int, name: String) -> [Float] {
    let stream = RandomStream(seed: 2024, name: name)
    return (0..<count).map { i in
        let w = stream.words(UInt64(i))
        let significand = 1 + Float(w.0 >> 8) * (1.0 / 16_777_216.0)
        let exponent = Int(w.1 % 25) - 12
        return Float(sign: w.2 & 1 == 0 ? .plus : .minus, exponent: exponent, significand: significand)
    }
}

/// One product to check: shapes, layout, and extra row padding of A, B, C
/// (padding 0 means "pass nil and let Matmul use the default").
struct MatmulCase: CustomStringConvertible, Sendable {
    var m: Int, n: Int, k: Int
    var transA = false, transB = false, accumulate = false
    var padA = 0, padB = 0, padC = 0
    var threads = 1

    var description: String {
        "\(m)x\(n)x\(k) tA=\(transA) tB=\(transB) acc=\(accumulate) pad=\(padA),\(padB),\(padC) t=\(threads)"
    }
}

/// Padding lanes of C are set to this NaN; a kernel that writes outside
/// C[m, n] would change it.
private let sentinel = Float(bitPattern: 0x7FC0_5A5A)

/// Runs `deterministic` and `reference` on the same inputs; returns both C
/// buffers (including padding) as bit patterns. Without `withReference` the
/// reference is skipped (returned empty).
func runMatmulCase(_ t: MatmulCase, withReference: Bool = true) -> (fast: [UInt32], reference: [UInt32]) {
    let rowsA = t.transA ? t.k : t.m, colsA = t.transA ? t.m : t.k
    let rowsB = t.transB ? t.n : t.k, colsB = t.transB ? t.k : t.n
    let lda = colsA + t.padA, ldb = colsB + t.padB, ldc = t.n + t.padC
    let tag = "\(t.m).\(t.n).\(t.k)"
    let a = matmulTestValues(max(1, rowsA * lda), name: "A" + tag)
    let b = matmulTestValues(max(1, rowsB * ldb), name: "B" + tag)
    var c0 = matmulTestValues(max(1, t.m * ldc), name: "C" + tag)
    for i in 0..<t.m { for j in t.n..<ldc { c0[i * ldc + j] = sentinel } }
    var fast = c0, reference = c0
    a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            fast.withUnsafeMutableBufferPointer { c in
                Matmul.deterministic(c.baseAddress!, a.baseAddress!, b.baseAddress!,
                                     m: t.m, n: t.n, k: t.k,
                                     transA: t.transA, transB: t.transB, accumulate: t.accumulate,
                                     lda: t.padA > 0 ? lda : nil, ldb: t.padB > 0 ? ldb : nil,
                                     ldc: t.padC > 0 ? ldc : nil,
                                     parallel: Parallel(threads: t.threads))
            }
            if withReference { reference.withUnsafeMutableBufferPointer { c in
                Matmul.reference(c.baseAddress!, a.baseAddress!, b.baseAddress!,
                                 m: t.m, n: t.n, k: t.k,
                                 transA: t.transA, transB: t.transB, accumulate: t.accumulate,
                                 lda: lda, ldb: ldb, ldc: ldc)
            } }
        }
    }
    return (fast.map(\.bitPattern), withReference ? reference.map(\.bitPattern) : [])
}

/// Every (m, n, k) of the grid in one layout, each against the reference;
/// shape number i (in loop order) gets padded strides when i % padEvery ==
/// padRemainder. Returns how many shapes ran and the ones that differ.
func gridMismatches(ms: [Int], ns: [Int], ks: [Int], layout: Int, accumulate: Bool,
                    padEvery: Int, padRemainder: Int, pads: (a: Int, b: Int, c: Int)) -> (count: Int, mismatches: [String]) {
    var index = 0, mismatches: [String] = []
    for m in ms {
        for n in ns {
            for k in ks {
                let padded = index % padEvery == padRemainder
                let t = MatmulCase(m: m, n: n, k: k,
                                   transA: matmulLayouts[layout].0, transB: matmulLayouts[layout].1,
                                   accumulate: accumulate,
                                   padA: padded ? pads.a : 0, padB: padded ? pads.b : 0, padC: padded ? pads.c : 0)
                let r = runMatmulCase(t)
                if r.fast != r.reference { mismatches.append(t.description) }
                index += 1
            }
        }
    }
    return (index, mismatches)
}

/// (transA, transB) for A·B, Aᵀ·B, A·Bᵀ, Aᵀ·Bᵀ.
let matmulLayouts: [(Bool, Bool)] = [(false, false), (true, false), (false, true), (true, true)]

@Suite struct MatmulTests {
    /// Every (m, n, k) from {1, 3, 7, 16, 33, 65, 127}³, one layout and
    /// accumulate flag per test case; every third shape with padded strides.
    @Test(arguments: [0, 1, 2, 3], [false, true])
    func awkwardShapesMatchReferenceBitForBit(layout: Int, accumulate: Bool) {
        let dims = [1, 3, 7, 16, 33, 65, 127]
        let (count, mismatches) = gridMismatches(ms: dims, ns: dims, ks: dims, layout: layout, accumulate: accumulate,
                                                 padEvery: 3, padRemainder: 0, pads: (3, 5, 2))
        #expect(count == 343)
        #expect(mismatches.count == 0, "differs from reference: \(mismatches.prefix(5))")
    }

    /// Shapes large enough to take the threaded path and to cross every
    /// blocking boundary: m > 120 (row blocks), n > 1024 (column blocks),
    /// k > 256 (k blocks, where C is stored and reloaded mid-chain), wide-short
    /// C (split by columns) and tall-thin C (split by rows).
    @Test(arguments: [1, 2, 3], [0, 1, 2, 3])
    func largerShapesAndThreadsMatchReferenceBitForBit(threads: Int, layout: Int) {
        let shapes: [(Int, Int, Int)] = [
            (130, 257, 96), (257, 130, 96), (67, 45, 700), (20, 1100, 100),
            (33, 1000, 80), (200, 33, 400), (128, 128, 128), (131, 61, 513),
            // Several column blocks and k blocks in one product.
            (45, 1100, 700), (131, 600, 530),
        ]
        for (index, (m, n, k)) in shapes.enumerated() {
            for accumulate in [false, true] {
                let padded = (index + (accumulate ? 1 : 0)) % 2 == 0
                let t = MatmulCase(m: m, n: n, k: k,
                                   transA: matmulLayouts[layout].0, transB: matmulLayouts[layout].1,
                                   accumulate: accumulate,
                                   padA: padded ? 7 : 0, padB: padded ? 1 : 0, padC: padded ? 9 : 0,
                                   threads: threads)
                let r = runMatmulCase(t)
                let same = r.fast == r.reference
                #expect(same, "differs from reference: \(t)")
            }
        }
    }

    /// Shapes around both micro-kernel tiles (6×16 AVX2 and 14×32 AVX-512;
    /// whichever this build compiled): one row, column or k step short of,
    /// on, and past a tile or k block (kc = 256), so every edge tile, the
    /// zero padding of both packed operands and the C reload between k
    /// blocks run; every other shape with padded strides.
    @Test(arguments: [0, 1, 2, 3], [false, true])
    func tileEdgesMatchReferenceBitForBit(layout: Int, accumulate: Bool) {
        let ms = [1, 5, 6, 13, 14, 15, 29], ns = [1, 15, 16, 31, 32, 33, 65], ks = [1, 2, 255, 256, 257, 520]
        let (count, mismatches) = gridMismatches(ms: ms, ns: ns, ks: ks, layout: layout, accumulate: accumulate,
                                                 padEvery: 2, padRemainder: 1, pads: (1, 3, 5))
        #expect(count == 294)
        #expect(mismatches.count == 0, "differs from reference: \(mismatches.prefix(5))")
    }

    /// The model's product kinds (x·Wᵀ, dy·W, dyᵀ·x) at `tiny`'s shapes and
    /// scaled-down `small`-like ones, on 1 and 2 threads: tall C (split by
    /// rows), wide C (split by columns, as the LM head's dW and x·Wᵀ with a
    /// large vocabulary), row blocks past mcMax, k past several k blocks.
    @Test(arguments: [1, 2])
    func modelShapesMatchReferenceBitForBit(threads: Int) {
        // (m, n, k, transA, transB, accumulate)
        let shapes: [(Int, Int, Int, Bool, Bool, Bool)] = [
            (512, 128, 128, false, true, false),   // tiny x·Wᵀ
            (512, 384, 128, false, true, false),   // tiny gate/up x·Wᵀ
            (512, 128, 384, false, false, true),   // tiny down dx (accumulating)
            (384, 128, 512, true, false, true),    // tiny gate dW += dyᵀ·x
            (512, 512, 128, false, true, false),   // tiny head x·Wᵀ
            (128, 512, 512, true, false, true),    // tiny dW with C wider than tall
            (260, 1500, 96, false, true, false),   // wide head-like x·Wᵀ: column split, two column blocks
            (300, 96, 600, false, false, false),   // dx-like, k in three blocks
            (1300, 40, 300, true, false, true),    // head-like dW: tall and thin
        ]
        for (m, n, k, transA, transB, accumulate) in shapes {
            let t = MatmulCase(m: m, n: n, k: k, transA: transA, transB: transB, accumulate: accumulate,
                               threads: threads)
            let r = runMatmulCase(t)
            let same = r.fast == r.reference
            #expect(same, "differs from reference: \(t)")
        }
    }

    /// Products running at once on several threads, each itself split over
    /// 2 workers, all equal the reference: the packing scratch is kept per
    /// thread (PackScratch.swift), so a buffer shared between threads, or one
    /// too small for a later, larger call on the same thread, would change bits.
    @Test func concurrentProductsMatchReferenceBitForBit() {
        let cases = [
            MatmulCase(m: 300, n: 96, k: 600),
            MatmulCase(m: 512, n: 384, k: 128, transB: true),
            MatmulCase(m: 384, n: 128, k: 512, transA: true, accumulate: true),
            MatmulCase(m: 33, n: 65, k: 127, transA: true, transB: true),
            MatmulCase(m: 260, n: 1500, k: 96, transB: true),
            MatmulCase(m: 7, n: 16, k: 3),
        ].map { t in var t = t; t.threads = 2; return t }
        // References first (slow); then only fast products, so they overlap in time.
        let expected = cases.map { runMatmulCase($0).reference }
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            // Each thread walks the cases in its own order, small and large mixed.
            for j in 0..<4 * cases.count {
                let c = (i + j * 5) % cases.count
                if runMatmulCase(cases[c], withReference: false).fast != expected[c] { failures.withLock { $0 += 1 } }
            }
        }
        #expect(failures.withLock { $0 } == 0)
    }

    /// The thread count never changes bits (also implied by the tests above;
    /// here compared directly on one product).
    @Test func threadCountDoesNotChangeBits() {
        let base = MatmulCase(m: 150, n: 140, k: 300, transB: true)
        var results: [[UInt32]] = []
        for threads in 1...4 {
            var t = base
            t.threads = threads
            results.append(runMatmulCase(t).fast)
        }
        let same = results.allSatisfy { $0 == results[0] }
        #expect(same)
    }

    /// MatmulClock (what `simply bench` reports as the products' time inside a
    /// step) counts every product's FLOPs while it runs, nothing once stopped,
    /// and the product it times keeps its bits. Other tests' products may run
    /// at the same time and be counted too, hence ≥ for the running clock.
    @Test func matmulClockCountsProductsWhileRunning() {
        let shape = MatmulCase(m: 150, n: 140, k: 300, transB: true, threads: 2)
        MatmulClock.start()
        let timed = runMatmulCase(shape)
        var serial = shape
        serial.threads = 1
        _ = runMatmulCase(serial, withReference: false)
        let counted = MatmulClock.stop()
        #expect(timed.fast == timed.reference)
        #expect(counted.flops >= 2 * 2 * 150 * 140 * 300)
        #expect(counted.threadSeconds > 0)
        _ = runMatmulCase(shape, withReference: false)
        let afterStop = MatmulClock.stop()
        #expect(afterStop.flops == counted.flops && afterStop.threadSeconds == counted.threadSeconds)
    }

    /// Empty products: k = 0 gives C = 0 (or C unchanged when accumulating);
    /// m = 0 or n = 0 touches nothing.
    @Test func emptyShapes() {
        for accumulate in [false, true] {
            let t = MatmulCase(m: 5, n: 9, k: 0, accumulate: accumulate, padC: 3, threads: 2)
            let r = runMatmulCase(t)
            let same = r.fast == r.reference
            #expect(same)
            let zeros = r.fast.enumerated().filter { $0.offset % 12 < 9 }.allSatisfy { $0.element == 0 }
            #expect(zeros == !accumulate)
        }
        for (m, n) in [(0, 4), (4, 0), (0, 0)] {
            var c = [Float](repeating: 3, count: 16)
            let a = [Float](repeating: 1, count: 16), b = a
            Matmul.deterministic(&c, a, b, m: m, n: n, k: 2)
            #expect(c == [Float](repeating: 3, count: 16))
        }
    }

    /// The bit-for-bit tests have teeth: on these inputs, summing the same
    /// products in another order (reversed, or two halves added at the end)
    /// changes most results.
    @Test func reorderingWouldBeDetected() {
        let m = 16, n = 16, k = 127
        let a = matmulTestValues(m * k, name: "reorder A")
        let b = matmulTestValues(k * n, name: "reorder B")
        var chain = [Float](repeating: 0, count: m * n)
        Matmul.deterministic(&chain, a, b, m: m, n: n, k: k)
        var reversedDiffers = 0, splitDiffers = 0
        for i in 0..<m {
            for j in 0..<n {
                var reversed: Float = 0
                for p in (0..<k).reversed() { reversed = reversed.addingProduct(a[i * k + p], b[p * n + j]) }
                var low: Float = 0, high: Float = 0
                for p in 0..<(k / 2) { low = low.addingProduct(a[i * k + p], b[p * n + j]) }
                for p in (k / 2)..<k { high = high.addingProduct(a[i * k + p], b[p * n + j]) }
                if reversed.bitPattern != chain[i * n + j].bitPattern { reversedDiffers += 1 }
                if (low + high).bitPattern != chain[i * n + j].bitPattern { splitDiffers += 1 }
            }
        }
        #expect(reversedDiffers > m * n / 2, "reversed order differs in \(reversedDiffers) of \(m * n)")
        #expect(splitDiffers > m * n / 4, "split-k differs in \(splitDiffers) of \(m * n)")
    }

    /// A tiny hand-checked product through every layout (guards the meaning
    /// of transA / transB, not just fast == reference).
    @Test func smallKnownProduct() {
        // A = [[1, 2, 3], [4, 5, 6]] (2×3), B = [[1, 0], [0, 1], [2, 3]] (3×2).
        let a: [Float] = [1, 2, 3, 4, 5, 6], at: [Float] = [1, 4, 2, 5, 3, 6]
        let b: [Float] = [1, 0, 0, 1, 2, 3], bt: [Float] = [1, 0, 2, 0, 1, 3]
        let expected: [Float] = [7, 11, 16, 23]
        for (ta, tb) in matmulLayouts {
            var c = [Float](repeating: 0, count: 4)
            Matmul.deterministic(&c, ta ? at : a, tb ? bt : b, m: 2, n: 2, k: 3, transA: ta, transB: tb)
            #expect(c == expected, "tA=\(ta) tB=\(tb)")
            Matmul.deterministic(&c, ta ? at : a, tb ? bt : b, m: 2, n: 2, k: 3,
                                 transA: ta, transB: tb, accumulate: true)
            #expect(c == expected.map { 2 * $0 }, "accumulate tA=\(ta) tB=\(tb)")
        }
    }
}
