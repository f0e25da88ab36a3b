import COpenBLAS

/// One plain `cblas_sgemm` call on OpenBLAS's own thread pool: the yardstick
/// `simply bench` holds the deterministic kernel against. Not used by
/// training: `Matmul.blas` keeps OpenBLAS single-threaded, splits rows itself,
/// and sets the pool back to 1 thread on its next call.
public enum BLASBaseline {
    /// C[m,n] = op(A) · op(B), dense row-major operands (no leading-dimension padding).
    public static func sgemm(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                             m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false, threads: Int) {
        if OpenBLASRuntime.threads != threads { OpenBLASRuntime.setThreads(threads) }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(transA ? m : k), b, Int32(transB ? k : n),
                    0, c, Int32(n))
    }
}
