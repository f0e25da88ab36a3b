/// The blocked, packed, SIMD engine behind `Matmul.deterministic`
/// (Goto/BLIS structure, llm.c spirit: one file, no cleverness that changes bits).
///
///   for jc in column blocks of C (nc wide)
///     for pc in k blocks (kc deep), in increasing order
///       pack B[pc..<pc+kc, jc..<jc+nc] into 16-column panels
///       for ic in row blocks (mc tall)
///         pack A[ic..<ic+mc, pc..<pc+kc] into 6-row panels
///         for each 16-column panel, for each 6-row panel: 6×16 micro-kernel
///
/// Why the bits equal `Matmul.reference`: the micro-kernel holds C[i,j] in one
/// SIMD lane and does `acc = fma(a(i,p), b(p,j), acc)` for p = pc, pc+1, … in
/// order. The first k block starts from 0 (or C when accumulating); later k
/// blocks reload the value the previous block stored, which is exact for a
/// float, so each C[i,j] is one unbroken left-to-right FMA chain over k.
/// Vectorization runs across j (16 lanes), never across k. Packing only copies
/// values, and transposed operands are handled by the packing, so all layouts
/// and strides run the same micro-kernel.

/// One matrix product's operands, in `Matmul`'s terms. Raw pointers, so
/// `@unchecked Sendable`: each worker writes a disjoint rectangle of C.
struct PackedProduct: @unchecked Sendable {
    let a: UnsafePointer<Float>
    let lda: Int
    let transA: Bool
    let b: UnsafePointer<Float>
    let ldb: Int
    let transB: Bool
    let c: UnsafeMutablePointer<Float>
    let ldc: Int
    let k: Int
    let accumulate: Bool

    // Micro-kernel tile: 6 rows × 16 columns = 12 AVX2 accumulators, plus 2 B
    // vectors and 1 broadcast A value = 15 of the 16 ymm registers.
    static let mr = 6
    static let nr = 16
    // Cache blocking: a packed B block (kc × nc ≤ 1 MiB) and A block (mc × kc
    // ≤ 120 KiB) stay in L2; one B panel (kc × 16 ≤ 16 KiB) stays in L1.
    static let kcMax = 256
    static let mcMax = 120
    static let ncMax = 1024

    /// Splits `total` into equal blocks of at most `maxStep`, rounded up to a
    /// multiple of `unit` (so 384 with max 256 gives 192 + 192, not 256 + 128).
    static func step(_ total: Int, max maxStep: Int, unit: Int) -> Int {
        let blocks = (total + maxStep - 1) / maxStep
        let even = (total + blocks - 1) / blocks
        return (even + unit - 1) / unit * unit
    }

    /// C[rows, cols] for this product, on the calling thread.
    func run(rows: Range<Int>, cols: Range<Int>) {
        let m = rows.count, n = cols.count
        if m == 0 || n == 0 || k == 0 { return }
        let mr = Self.mr, nr = Self.nr
        let kcStep = Self.step(k, max: Self.kcMax, unit: 1)
        let ncStep = Self.step(n, max: Self.ncMax, unit: nr)
        let mcStep = Self.step(m, max: Self.mcMax, unit: mr)

        // One scratch allocation per call: packed B block, packed A block, edge tile.
        let bCount = kcStep * ncStep, aCount = mcStep * kcStep, tileCount = mr * nr
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: (bCount + aCount + tileCount) * MemoryLayout<Float>.stride, alignment: 64)
        defer { raw.deallocate() }
        let scratch = raw.bindMemory(to: Float.self, capacity: bCount + aCount + tileCount)
        let bPack = scratch, aPack = scratch + bCount, tile = scratch + bCount + aCount

        var jc = 0
        while jc < n {
            let nc = min(ncStep, n - jc)
            var pc = 0
            while pc < k {
                let kc = min(kcStep, k - pc)
                let loadC = accumulate || pc > 0
                packB(into: bPack, p0: pc, kc: kc, j0: cols.lowerBound + jc, nc: nc)
                var ic = 0
                while ic < m {
                    let mc = min(mcStep, m - ic)
                    packA(into: aPack, i0: rows.lowerBound + ic, mc: mc, p0: pc, kc: kc)
                    var jr = 0
                    while jr < nc {
                        let width = min(nr, nc - jr)
                        let bPanel = UnsafePointer(bPack + jr * kc)
                        var ir = 0
                        while ir < mc {
                            let height = min(mr, mc - ir)
                            let aPanel = UnsafePointer(aPack + ir * kc)
                            let cTile = c + (rows.lowerBound + ic + ir) * ldc + cols.lowerBound + jc + jr
                            if height == mr && width == nr {
                                Self.kernel6x16(kc: kc, a: aPanel, b: bPanel, c: cTile, ldc: ldc, loadC: loadC)
                            } else {
                                // Edge: run the full kernel on a 6×16 copy and keep the valid part.
                                if loadC {
                                    tile.update(repeating: 0, count: tileCount)
                                    for r in 0..<height {
                                        (tile + r * nr).update(from: cTile + r * ldc, count: width)
                                    }
                                }
                                Self.kernel6x16(kc: kc, a: aPanel, b: bPanel, c: tile, ldc: nr, loadC: loadC)
                                for r in 0..<height {
                                    (cTile + r * ldc).update(from: tile + r * nr, count: width)
                                }
                            }
                            ir += mr
                        }
                        jr += nr
                    }
                    ic += mc
                }
                pc += kc
            }
            jc += nc
        }
    }

    /// B[p0..<p0+kc, j0..<j0+nc] as panels of 16 columns: panel q holds
    /// element (p, j0 + 16q + l) at [q·kc·16 + p·16 + l]; missing columns are 0.
    func packB(into dst: UnsafeMutablePointer<Float>, p0: Int, kc: Int, j0: Int, nc: Int) {
        let nr = Self.nr
        var jr = 0
        while jr < nc {
            let width = min(nr, nc - jr)
            let panel = dst + jr * kc
            if !transB {
                // B is [k, n]: each panel row is a contiguous run of B's row.
                var src = b + p0 * ldb + j0 + jr
                for p in 0..<kc {
                    let row = panel + p * nr
                    if width == nr {
                        UnsafeMutableRawPointer(row).storeBytes(
                            of: UnsafeRawPointer(src).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                    } else {
                        row.update(from: src, count: width)
                        (row + width).update(repeating: 0, count: nr - width)
                    }
                    src += ldb
                }
            } else {
                // B is [n, k]: column j of op(B) is a contiguous run of B's row j.
                Self.transposePanel(from: b + (j0 + jr) * ldb + p0, stride: ldb, lines: width,
                                    length: kc, into: panel, panelWidth: nr)
            }
            jr += nr
        }
    }

    /// A[i0..<i0+mc, p0..<p0+kc] (as op(A)) as panels of 6 rows: panel q holds
    /// element (i0 + 6q + r, p) at [q·kc·6 + p·6 + r]; missing rows are 0.
    func packA(into dst: UnsafeMutablePointer<Float>, i0: Int, mc: Int, p0: Int, kc: Int) {
        let mr = Self.mr
        var ir = 0
        while ir < mc {
            let height = min(mr, mc - ir)
            let panel = dst + ir * kc
            if !transA {
                // A is [m, k]: row i of op(A) is a contiguous run of A's row i.
                Self.transposePanel(from: a + (i0 + ir) * lda + p0, stride: lda, lines: height,
                                    length: kc, into: panel, panelWidth: mr)
            } else {
                // A is [k, m]: the 6 values for one p are contiguous.
                var src = a + p0 * lda + i0 + ir
                var row = panel
                for _ in 0..<kc {
                    for r in 0..<height { row[r] = src[r] }
                    for r in height..<mr { row[r] = 0 }
                    src += lda
                    row += mr
                }
            }
            ir += mr
        }
    }

    /// dst[p·panelWidth + l] = src[l·stride + p] for l < lines, p < length;
    /// lanes lines..<panelWidth are 0. All `lines` source rows are walked
    /// together (p outer) so the reads are a few parallel streams and each
    /// write fills a whole panel row.
    @inline(__always)
    static func transposePanel(from src: UnsafePointer<Float>, stride: Int, lines: Int, length: Int,
                               into dst: UnsafeMutablePointer<Float>, panelWidth: Int) {
        if lines == panelWidth && panelWidth == mr {
            let s0 = src, s1 = s0 + stride, s2 = s1 + stride, s3 = s2 + stride, s4 = s3 + stride, s5 = s4 + stride
            var d = dst
            for p in 0..<length {
                d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p]
                d += mr
            }
            return
        }
        var d = dst
        for p in 0..<length {
            var s = src + p
            for l in 0..<lines { d[l] = s.pointee; s += stride }
            for l in lines..<panelWidth { d[l] = 0 }
            d += panelWidth
        }
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// C[0..<6, 0..<16] (row stride ldc) = (loadC ? C : 0) + Apanel · Bpanel over kc,
    /// each lane one left-to-right FMA chain. Accumulators are named one by one
    /// so they live in registers.
    @inline(never)
    static func kernel6x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>()
        var c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>()
        var c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        if loadC {
            c00 = load8(c); c01 = load8(c + 8)
            c10 = load8(c + ldc); c11 = load8(c + ldc + 8)
            c20 = load8(c + 2 * ldc); c21 = load8(c + 2 * ldc + 8)
            c30 = load8(c + 3 * ldc); c31 = load8(c + 3 * ldc + 8)
            c40 = load8(c + 4 * ldc); c41 = load8(c + 4 * ldc + 8)
            c50 = load8(c + 5 * ldc); c51 = load8(c + 5 * ldc + 8)
        }
        var ap = a, bp = b
        for _ in 0..<kc {
            let b0 = load8(bp), b1 = load8(bp + 8)
            var av = SIMD8<Float>(repeating: ap[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[1])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[2])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[3])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[4])
            c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[5])
            c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1)
            ap += 6
            bp += 16
        }
        store8(c00, c); store8(c01, c + 8)
        store8(c10, c + ldc); store8(c11, c + ldc + 8)
        store8(c20, c + 2 * ldc); store8(c21, c + 2 * ldc + 8)
        store8(c30, c + 3 * ldc); store8(c31, c + 3 * ldc + 8)
        store8(c40, c + 4 * ldc); store8(c41, c + 4 * ldc + 8)
        store8(c50, c + 5 * ldc); store8(c51, c + 5 * ldc + 8)
    }
}
