import CPrefetch

extension Matmul {
    /// Floats `packPanels` writes for op(B) of k rows and n columns.
    public static func packedPanelsCount(k: Int, n: Int) -> Int { (n + 15) / 16 * 16 * k }

    /// op(B) [k, n] — B [k, n] row-major, or Bᵀ of a B stored [n, k] with
    /// `transB` (a weight in nn.Linear layout) — as 16-column panels for
    /// `fewRows`: panel q holds element (p, 16q + l) at [q·k·16 + p·16 + l];
    /// the columns past n are 0. Packing only copies values.
    public static func packPanels(_ dst: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, k: Int, n: Int,
                                  ldb: Int? = nil, transB: Bool = false, parallel: Parallel = .serial) {
        let ldb = ldb ?? (transB ? k : n)
        let dp = SendablePointer(dst), bp = SendablePointer(UnsafeMutablePointer(mutating: b))
        parallel.forEachRange((n + 15) / 16, grain: 4) { panels in
            for q in panels {
                let panel = dp.p + q * k * 16, width = min(16, n - q * 16)
                for l in 0..<16 {
                    let j = q * 16 + l
                    if l >= width {
                        for p in 0..<k { panel[p * 16 + l] = 0 }
                    } else if transB {
                        let src = bp.p + j * ldb
                        for p in 0..<k { panel[p * 16 + l] = src[p] }
                    } else {
                        for p in 0..<k { panel[p * 16 + l] = bp.p[p * ldb + j] }
                    }
                }
            }
        }
    }

    /// C[m, n] = A[m, k] · op(B), op(B) packed by `packPanels`, C overwritten:
    /// the product of a few rows (a decoding step) with a weight packed once.
    /// `deterministic` packs B on every call, which for a handful of rows
    /// costs as much as the product itself.
    ///
    /// Bits: vectorized across the 16 columns of a panel, 8 or 4 rows per tile
    /// (or 64 columns of one row); lane (i, j) does acc = fma(a(i,p), b(p,j), acc)
    /// for p = 0, 1, … in order from 0, so each C[i,j] is `reference`'s chain.
    /// Threads split panels.
    public static func fewRows(
        _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
        m: Int, n: Int, k: Int, lda: Int? = nil, ldc: Int? = nil, parallel: Parallel = .serial
    ) {
        guard let (lda, _, ldc) = strides(c, m: m, n: n, k: k, transA: false, transB: false, accumulate: false,
                                          lda: lda, ldb: nil, ldc: ldc) else { return }
        let cp = SendablePointer(c), ap = SendablePointer(UnsafeMutablePointer(mutating: a))
        let bp = SendablePointer(UnsafeMutablePointer(mutating: packedB))
        let full = n / 16, panels = (n + 15) / 16, panelSize = k * 16
        let body: @Sendable (Range<Int>) -> Void = { range in
            let tiled = m - m % 4
            var scratch = [Float](repeating: 0, count: 8 * 16)
            for q in range {
                let b = bp.p + q * panelSize, width = min(16, n - q * 16)
                // A tile of `rows` (8 or 4) rows at row i; the last, narrower panel
                // computes all 16 lanes (the padding is 0) and keeps `width`.
                func tile(_ rows: Int, at i: Int) {
                    let kernel = rows == 8 ? kernel8x16 : kernel4x16
                    if width == 16 {
                        kernel(k, ap.p + i * lda, lda, b, cp.p + i * ldc + q * 16, ldc)
                    } else {
                        scratch.withUnsafeMutableBufferPointer { t in
                            kernel(k, ap.p + i * lda, lda, b, t.baseAddress!, 16)
                            for r in 0..<rows { (cp.p + (i + r) * ldc + q * 16).update(from: t.baseAddress! + r * 16, count: width) }
                        }
                    }
                }
                // Eight rows in one pass over the panel: the weights stream from
                // memory once per step however many rows there are.
                var i = 0
                while i + 8 <= tiled { tile(8, at: i); i += 8 }
                while i < tiled { tile(4, at: i); i += 4 }
            }
            // The remaining rows, 64 columns (4 panels) at a time: 8 independent chains keep the FMA units busy.
            let fullEnd = max(range.lowerBound, min(range.upperBound, full))
            for i in tiled..<m {
                var q = range.lowerBound
                while q + 4 <= fullEnd {
                    kernel1x64(k: k, a: ap.p + i * lda, b: bp.p + q * panelSize, panelSize: panelSize, c: cp.p + i * ldc + q * 16)
                    q += 4
                }
                while q < range.upperBound {
                    let width = min(16, n - q * 16)
                    scratch.withUnsafeMutableBufferPointer { t in
                        kernel1x16(k: k, a: ap.p + i * lda, b: bp.p + q * panelSize, c: t.baseAddress!)
                        (cp.p + i * ldc + q * 16).update(from: t.baseAddress!, count: width)
                    }
                    q += 1
                }
            }
        }
        if parallel.threads == 1 || m * n * k < 1 << 20 {
            body(0..<panels)
        } else {
            parallel.forEachRange(panels, body)
        }
    }

    /// The accumulators of a 4×16 tile: rows 0–3, each as two 8-lane halves.
    typealias Tile4x16 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                          SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

    /// Continues a 4×16 tile's chains over depths p0..<p1: lane (i, j) does
    /// acc = fma(a(i,p), b(p,j), acc) for p in order.
    @inline(__always)
    static func accumulate4x16(_ acc: inout Tile4x16, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                               from p0: Int, to p1: Int) {
        var (c00, c01, c10, c11, c20, c21, c30, c31) = acc
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        var bp = b + p0 * 16
        for p in p0..<p1 {
            // One panel is one sequential stream, too few for the hardware prefetcher
            // to keep memory busy (four, as in kernel1x64, are enough): ask for the
            // line 16 depths ahead. A hint only, harmless past the panel's end.
            simply_prefetch(bp + 256)
            let b0 = PackedProduct.load8(bp), b1 = PackedProduct.load8(bp + 8)
            var av = SIMD8<Float>(repeating: a0[p])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: a1[p])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: a2[p])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: a3[p])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            bp += 16
        }
        acc = (c00, c01, c10, c11, c20, c21, c30, c31)
    }

    @inline(__always)
    static func store4x16(_ acc: Tile4x16, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        PackedProduct.store8(acc.0, c); PackedProduct.store8(acc.1, c + 8)
        PackedProduct.store8(acc.2, c + ldc); PackedProduct.store8(acc.3, c + ldc + 8)
        PackedProduct.store8(acc.4, c + 2 * ldc); PackedProduct.store8(acc.5, c + 2 * ldc + 8)
        PackedProduct.store8(acc.6, c + 3 * ldc); PackedProduct.store8(acc.7, c + 3 * ldc + 8)
    }

    @inline(__always)
    static var zeroTile: Tile4x16 { (SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8()) }

    /// C[0..<4, 0..<16] = A[0..<4, 0..<k] · one packed panel, one FMA chain per lane.
    @inline(never)
    static func kernel4x16(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int) {
        var acc = zeroTile
        accumulate4x16(&acc, a: a, lda: lda, b: b, from: 0, to: k)
        store4x16(acc, c, ldc: ldc)
    }

    /// C[0..<8, 0..<16] = A[0..<8, 0..<k] · one packed panel, one FMA chain per
    /// lane. Rows 0–3 and rows 4–7 take turns over blocks of 64 depths (their
    /// accumulators parked in between: 16 at once would not fit AVX2's
    /// registers), so the panel is read from memory once.
    @inline(never)
    static func kernel8x16(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int) {
        var top = zeroTile, bottom = zeroTile
        var p0 = 0
        while p0 < k {
            let p1 = min(p0 + 64, k)
            accumulate4x16(&top, a: a, lda: lda, b: b, from: p0, to: p1)
            accumulate4x16(&bottom, a: a + 4 * lda, lda: lda, b: b, from: p0, to: p1)
            p0 = p1
        }
        store4x16(top, c, ldc: ldc)
        store4x16(bottom, c + 4 * ldc, ldc: ldc)
    }

    /// C[0, 0..<64] = A[0, 0..<k] · four consecutive packed panels, one FMA chain per lane.
    @inline(never)
    static func kernel1x64(k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, panelSize: Int,
                           c: UnsafeMutablePointer<Float>) {
        var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
        var c4 = SIMD8<Float>(), c5 = SIMD8<Float>(), c6 = SIMD8<Float>(), c7 = SIMD8<Float>()
        var b0 = b, b1 = b + panelSize, b2 = b + 2 * panelSize, b3 = b + 3 * panelSize
        for p in 0..<k {
            let av = SIMD8<Float>(repeating: a[p])
            c0 = c0.addingProduct(av, PackedProduct.load8(b0)); c1 = c1.addingProduct(av, PackedProduct.load8(b0 + 8))
            c2 = c2.addingProduct(av, PackedProduct.load8(b1)); c3 = c3.addingProduct(av, PackedProduct.load8(b1 + 8))
            c4 = c4.addingProduct(av, PackedProduct.load8(b2)); c5 = c5.addingProduct(av, PackedProduct.load8(b2 + 8))
            c6 = c6.addingProduct(av, PackedProduct.load8(b3)); c7 = c7.addingProduct(av, PackedProduct.load8(b3 + 8))
            b0 += 16; b1 += 16; b2 += 16; b3 += 16
        }
        PackedProduct.store8(c0, c); PackedProduct.store8(c1, c + 8); PackedProduct.store8(c2, c + 16)
        PackedProduct.store8(c3, c + 24); PackedProduct.store8(c4, c + 32); PackedProduct.store8(c5, c + 40)
        PackedProduct.store8(c6, c + 48); PackedProduct.store8(c7, c + 56)
    }

    /// C[0, 0..<16] = A[0, 0..<k] · one packed panel.
    @inline(never)
    static func kernel1x16(k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        var c0 = SIMD8<Float>(), c1 = SIMD8<Float>()
        var bp = b
        for p in 0..<k {
            let av = SIMD8<Float>(repeating: a[p])
            c0 = c0.addingProduct(av, PackedProduct.load8(bp)); c1 = c1.addingProduct(av, PackedProduct.load8(bp + 8))
            bp += 16
        }
        PackedProduct.store8(c0, c); PackedProduct.store8(c1, c + 8)
    }
}
