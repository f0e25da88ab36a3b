/// Matrix products. Every layout forward and backward need, through one entry:
///   C[m,n] = (accumulate ? C : 0) + op(A) · op(B)
/// with op(A) = A [m,k] (row stride lda) or Aᵀ where A is [k,m] (transA),
/// and  op(B) = B [k,n] (row stride ldb) or Bᵀ where B is [n,k] (transB).
///
/// Determinism rule (DESIGN.md, contract 2): C[i,j] is the left-to-right
/// fused-multiply-add chain  acc = start; for p in 0..<k { acc = fma(a(i,p), b(p,j), acc) }
/// with start = 0, or C[i,j] when accumulating. `deterministic` must equal
/// `reference` bit for bit for any shape and any thread count.
public enum Matmul {
    // TEMPORARY: naive body until the blocked SIMD kernel lands.
    public static func deterministic(
        _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        m: Int, n: Int, k: Int,
        transA: Bool = false, transB: Bool = false, accumulate: Bool = false,
        lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
        parallel: Parallel = .serial
    ) {
        reference(c, a, b, m: m, n: n, k: k, transA: transA, transB: transB,
                  accumulate: accumulate, lda: lda, ldb: ldb, ldc: ldc)
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
