extension Matmul {
    /// The product the model's layers call: the deterministic kernel, or
    /// OpenBLAS sgemm when the run is not deterministic (`parallel.deterministic`
    /// is false). Same arguments and meaning as `deterministic`.
    @inline(__always)
    public static func product(
        _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        m: Int, n: Int, k: Int,
        transA: Bool = false, transB: Bool = false, accumulate: Bool = false,
        lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
        parallel: Parallel = .serial
    ) {
        if parallel.deterministic {
            deterministic(c, a, b, m: m, n: n, k: k, transA: transA, transB: transB, accumulate: accumulate,
                          lda: lda, ldb: ldb, ldc: ldc, parallel: parallel)
        } else {
            blas(c, a, b, m: m, n: n, k: k, transA: transA, transB: transB, accumulate: accumulate,
                 lda: lda, ldb: ldb, ldc: ldc, parallel: parallel)
        }
    }
}
