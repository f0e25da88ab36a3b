extension Matmul {
    /// C[m, n] = A[m, k] · B[k, n], B row-major (not transposed), C overwritten:
    /// the product of a few rows (a decoding step) with a weight matrix kept
    /// k-major. `deterministic` packs B on every call, which for a handful of
    /// rows costs as much as the product itself; here B is read in place.
    ///
    /// Bits: vectorized across 16 columns, 4 rows per tile; lane (i, j) does
    /// acc = fma(a(i,p), b(p,j), acc) for p = 0, 1, … in order from 0, so each
    /// C[i,j] is `reference`'s chain. Threads split 16-column panels.
    public static func fewRows(
        _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        m: Int, n: Int, k: Int, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
        parallel: Parallel = .serial
    ) {
        guard let (lda, ldb, ldc) = strides(c, m: m, n: n, k: k, transA: false, transB: false, accumulate: false,
                                            lda: lda, ldb: ldb, ldc: ldc) else { return }
        let cp = SendablePointer(c), ap = SendablePointer(UnsafeMutablePointer(mutating: a))
        let bp = SendablePointer(UnsafeMutablePointer(mutating: b))
        let panels = (n + 15) / 16
        let full = n / 16   // panels 0..<full are 16 columns wide
        let body: @Sendable (Range<Int>) -> Void = { range in
            let fullEnd = min(range.upperBound, full)
            let tiled = m - m % 4
            for q in range.lowerBound..<max(range.lowerBound, fullEnd) {
                var i = 0
                while i < tiled {
                    kernel4x16(k: k, a: ap.p + i * lda, lda: lda, b: bp.p + q * 16, ldb: ldb, c: cp.p + i * ldc + q * 16, ldc: ldc)
                    i += 4
                }
            }
            // The remaining rows, 64 columns at a time (8 independent chains keep the FMA units busy).
            for i in tiled..<m {
                var q = range.lowerBound
                while q + 4 <= fullEnd {
                    kernel1x64(k: k, a: ap.p + i * lda, b: bp.p + q * 16, ldb: ldb, c: cp.p + i * ldc + q * 16)
                    q += 4
                }
                while q < fullEnd {
                    kernel1x16(k: k, a: ap.p + i * lda, b: bp.p + q * 16, ldb: ldb, c: cp.p + i * ldc + q * 16)
                    q += 1
                }
            }
            // A last, narrower panel: plain chains.
            if range.upperBound > full {
                for i in 0..<m {
                    for j in (full * 16)..<n {
                        var acc: Float = 0
                        for p in 0..<k { acc = acc.addingProduct(ap.p[i * lda + p], bp.p[p * ldb + j]) }
                        cp.p[i * ldc + j] = acc
                    }
                }
            }
        }
        if parallel.threads == 1 || m * n * k < 1 << 20 {
            body(0..<panels)
        } else {
            parallel.forEachRange(panels, body)
        }
    }

    /// C[0..<4, 0..<16] = A[0..<4, 0..<k] · B[0..<k, 0..<16], one FMA chain per lane.
    @inline(never)
    static func kernel4x16(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        var bp = b
        for p in 0..<k {
            let b0 = PackedProduct.load8(bp), b1 = PackedProduct.load8(bp + 8)
            var av = SIMD8<Float>(repeating: a0[p])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: a1[p])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: a2[p])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: a3[p])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            bp += ldb
        }
        PackedProduct.store8(c00, c); PackedProduct.store8(c01, c + 8)
        PackedProduct.store8(c10, c + ldc); PackedProduct.store8(c11, c + ldc + 8)
        PackedProduct.store8(c20, c + 2 * ldc); PackedProduct.store8(c21, c + 2 * ldc + 8)
        PackedProduct.store8(c30, c + 3 * ldc); PackedProduct.store8(c31, c + 3 * ldc + 8)
    }

    /// C[0, 0..<64] = A[0, 0..<k] · B[0..<k, 0..<64], one FMA chain per lane.
    @inline(never)
    static func kernel1x64(k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>) {
        var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
        var c4 = SIMD8<Float>(), c5 = SIMD8<Float>(), c6 = SIMD8<Float>(), c7 = SIMD8<Float>()
        var bp = b
        for p in 0..<k {
            let av = SIMD8<Float>(repeating: a[p])
            c0 = c0.addingProduct(av, PackedProduct.load8(bp)); c1 = c1.addingProduct(av, PackedProduct.load8(bp + 8))
            c2 = c2.addingProduct(av, PackedProduct.load8(bp + 16)); c3 = c3.addingProduct(av, PackedProduct.load8(bp + 24))
            c4 = c4.addingProduct(av, PackedProduct.load8(bp + 32)); c5 = c5.addingProduct(av, PackedProduct.load8(bp + 40))
            c6 = c6.addingProduct(av, PackedProduct.load8(bp + 48)); c7 = c7.addingProduct(av, PackedProduct.load8(bp + 56))
            bp += ldb
        }
        PackedProduct.store8(c0, c); PackedProduct.store8(c1, c + 8); PackedProduct.store8(c2, c + 16); PackedProduct.store8(c3, c + 24)
        PackedProduct.store8(c4, c + 32); PackedProduct.store8(c5, c + 40); PackedProduct.store8(c6, c + 48); PackedProduct.store8(c7, c + 56)
    }

    /// One row of `kernel4x16`.
    @inline(never)
    static func kernel1x16(k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>) {
        var c0 = SIMD8<Float>(), c1 = SIMD8<Float>()
        var bp = b
        for p in 0..<k {
            let av = SIMD8<Float>(repeating: a[p])
            c0 = c0.addingProduct(av, PackedProduct.load8(bp)); c1 = c1.addingProduct(av, PackedProduct.load8(bp + 8))
            bp += ldb
        }
        PackedProduct.store8(c0, c); PackedProduct.store8(c1, c + 8)
    }
}
