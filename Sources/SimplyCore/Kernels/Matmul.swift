/// Matrix products. Every layout forward and backward need, through one entry:
///   C[m,n] = (accumulate ? C : 0) + op(A) · op(B)
/// with op(A) = A [m,k] (row stride lda) or Aᵀ where A is [k,m] (transA),
/// and  op(B) = B [k,n] (row stride ldb) or Bᵀ where B is [n,k] (transB).
///
/// Determinism rule (docs/design.md, contract 2): C[i,j] is the left-to-right
/// fused-multiply-add chain  acc = start; for p in 0..<k { acc = fma(a(i,p), b(p,j), acc) }
/// with start = 0, or C[i,j] when accumulating. `deterministic` must equal
/// `reference` bit for bit for any shape and any thread count.
public enum Matmul {
    /// The fast deterministic product: packed panels and a 14×32 AVX-512 or
    /// 6×16 AVX2 FMA micro-kernel (MatmulPacked.swift). Any m, n, k ≥ 0, any layout, any
    /// leading dimensions. `parallel` splits C into disjoint row strips or
    /// column panels (whichever repeats less packing); each thread computes whole
    /// C[i,j] chains, so the bits never depend on the thread count.
    /// C must not overlap A or B.
    public static func deterministic(
        _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        m: Int, n: Int, k: Int,
        transA: Bool = false, transB: Bool = false, accumulate: Bool = false,
        lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
        parallel: Parallel = .serial
    ) {
        guard let (lda, ldb, ldc) = strides(c, m: m, n: n, k: k, transA: transA, transB: transB,
                                            accumulate: accumulate, lda: lda, ldb: ldb, ldc: ldc) else { return }
        let product = PackedProduct(a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                                    c: c, ldc: ldc, k: k, accumulate: accumulate)

        let clock = MatmulClock.begin()
        // Below ~128×128×128 handing work to a second thread costs more than it saves
        // (measured on a 2-core VM).
        if parallel.threads == 1 || m * n * k < 1 << 21 {
            product.run(rows: 0..<m, cols: 0..<n)
            MatmulClock.end(clock, threads: 1, m: m, n: n, k: k)
            return
        }
        let mr = PackedProduct.mr, nr = PackedProduct.nr
        let rowStrips = (m + mr - 1) / mr, colPanels = (n + nr - 1) / nr
        // A row split packs all of B on every thread, a column split all of A:
        // repeat the smaller operand, unless that leaves a thread without work.
        let byRows = colPanels < parallel.threads || (rowStrips >= parallel.threads && m >= n)
        if byRows {
            parallel.forEachRange(rowStrips) { strips in
                product.run(rows: strips.lowerBound * mr..<min(m, strips.upperBound * mr), cols: 0..<n)
            }
        } else {
            parallel.forEachRange(colPanels) { panels in
                product.run(rows: 0..<m, cols: panels.lowerBound * nr..<min(n, panels.upperBound * nr))
            }
        }
        MatmulClock.end(clock, threads: parallel.chunkCount(byRows ? rowStrips : colPanels), m: m, n: n, k: k)
    }

    /// Checks the shape and fills in default leading dimensions. Handles the
    /// empty products itself (returns nil): with k = 0 the chain is empty, so C
    /// keeps its start value (0, or C when accumulating).
    static func strides(_ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, transA: Bool, transB: Bool,
                        accumulate: Bool, lda: Int?, ldb: Int?, ldc: Int?) -> (Int, Int, Int)? {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative matmul shape")
        if m == 0 || n == 0 { return nil }
        let ldc = ldc ?? n
        if k == 0 {
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return nil
        }
        let lda = lda ?? (transA ? m : k), ldb = ldb ?? (transB ? k : n)
        precondition(lda >= (transA ? m : k) && ldb >= (transB ? k : n) && ldc >= n,
                     "matmul leading dimension smaller than a row")
        return (lda, ldb, ldc)
    }

    /// The plain triple loop that defines the bits.
    public static func reference(
        _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        m: Int, n: Int, k: Int,
        transA: Bool = false, transB: Bool = false, accumulate: Bool = false,
        lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
    ) {
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = accumulate ? c[i * ldc + j] : 0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    acc = acc.addingProduct(av, bv)  // fma(av, bv, acc)
                }
                c[i * ldc + j] = acc
            }
        }
    }
}
