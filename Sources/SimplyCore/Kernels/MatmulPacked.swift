import CPrefetch

/// The blocked, packed, SIMD engine behind `Matmul.deterministic`
/// (Goto/BLIS structure, llm.c spirit: one file, no cleverness that changes bits).
///
///   for jc in column blocks of C (nc wide)
///     for pc in k blocks (kc deep), in increasing order
///       pack B[pc..<pc+kc, jc..<jc+nc] into nr-column panels
///       for ic in row blocks (mc tall)
///         pack A[ic..<ic+mc, pc..<pc+kc] into mr-row panels
///         for each nr-column panel, for each mr-row panel: mr×nr micro-kernel
///
/// The micro-kernel is chosen when the package is compiled: 14×32 with
/// SIMD16 (AVX-512: 28 zmm accumulators of the 32) when Package.swift builds
/// for an AVX-512 CPU and defines SIMPLY_AVX512, else 6×16 with SIMD8 (AVX2:
/// 12 of the 16 ymm registers). Both compute the same chains, so the bits are
/// the same on every build.
///
/// Why the bits equal `Matmul.reference`: the micro-kernel holds C[i,j] in one
/// SIMD lane and does `acc = fma(a(i,p), b(p,j), acc)` for p = pc, pc+1, … in
/// order. The first k block starts from 0 (or C when accumulating); later k
/// blocks reload the value the previous block stored, which is exact for a
/// float, so each C[i,j] is one unbroken left-to-right FMA chain over k.
/// Vectorization runs across j (SIMD lanes), never across k. Packing only copies
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

#if SIMPLY_AVX512
    // Micro-kernel tile: 14 rows × 32 columns = 28 zmm accumulators, plus 2 B
    // vectors and 1 broadcast A value = 31 of the 32 zmm registers.
    static let mr = 14
    static let nr = 32
    // Cache blocking (2 MiB L2, 48 KiB L1 per core on the Xeon measured): a
    // packed B block (kc × nc ≤ 1 MiB) and A block (mc × kc ≤ 448 KiB) stay
    // in L2, and B panels stream from L2 (L2 keeps up with one 128-byte B row
    // per 14 cycles). kc = 512 rather than 256: fewer passes that store and
    // reload C, which cost most on the LM head (C is 1024 × 8192): measured
    // 1-thread GFLOP/s at the head's three shapes ~130-140 against ~80-100 with
    // kc = 256; the other model shapes do not change.
    static let kcMax = 512
    static let mcMax = 224
    static let ncMax = 512
#else
    // Micro-kernel tile: 6 rows × 16 columns = 12 AVX2 accumulators, plus 2 B
    // vectors and 1 broadcast A value = 15 of the 16 ymm registers.
    static let mr = 6
    static let nr = 16
    // Cache blocking: a packed B block (kc × nc ≤ 1 MiB) and A block (mc × kc
    // ≤ 120 KiB) stay in L2; one B panel (kc × 16 ≤ 16 KiB) stays in L1.
    static let kcMax = 256
    static let mcMax = 120
    static let ncMax = 1024
#endif

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

        // This thread's kept scratch (PackScratch.swift): packed B block, packed A block, edge tile.
        let bCount = kcStep * ncStep, aCount = mcStep * kcStep, tileCount = mr * nr
        precondition(bCount + aCount + tileCount <= PackScratch.floats, "packing scratch too small")
        let scratch = PackScratch.buffer()
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
                    let cBlock = c + (rows.lowerBound + ic) * ldc + cols.lowerBound + jc
                    prefetchTile(cBlock, rows: min(mr, mc))
                    while jr < nc {
                        let width = min(nr, nc - jr)
                        let bPanel = UnsafePointer(bPack + jr * kc)
                        var ir = 0
                        while ir < mc {
                            let height = min(mr, mc - ir)
                            // The next tile's C, while this one computes: its first
                            // store (or load) would otherwise wait on memory.
                            if ir + mr < mc {
                                prefetchTile(cBlock + (ir + mr) * ldc + jr, rows: min(mr, mc - ir - mr))
                            } else if jr + nr < nc {
                                prefetchTile(cBlock + jr + nr, rows: min(mr, mc))
                            }
                            let aPanel = UnsafePointer(aPack + ir * kc)
                            let cTile = c + (rows.lowerBound + ic + ir) * ldc + cols.lowerBound + jc + jr
                            if height == mr && width == nr {
                                Self.kernel(kc: kc, a: aPanel, b: bPanel, c: cTile, ldc: ldc, loadC: loadC)
                            } else {
                                // Edge: run the full kernel on an mr×nr copy and keep the valid part.
                                if loadC {
                                    tile.update(repeating: 0, count: tileCount)
                                    for r in 0..<height {
                                        (tile + r * nr).update(from: cTile + r * ldc, count: width)
                                    }
                                }
                                Self.kernel(kc: kc, a: aPanel, b: bPanel, c: tile, ldc: nr, loadC: loadC)
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

    /// Asks for the cache lines of an mr × nr tile of C (`rows` rows from `tile`).
    @inline(__always)
    func prefetchTile(_ tile: UnsafeMutablePointer<Float>, rows: Int) {
        for r in 0..<rows {
            simply_prefetch_write(tile + r * ldc)
            simply_prefetch_write(tile + r * ldc + Self.nr - 1)
        }
    }

    /// B[p0..<p0+kc, j0..<j0+nc] as panels of nr columns: panel q holds
    /// element (p, j0 + nr·q + l) at [q·kc·nr + p·nr + l]; missing columns are 0.
    func packB(into dst: UnsafeMutablePointer<Float>, p0: Int, kc: Int, j0: Int, nc: Int) {
        let nr = Self.nr
        if !transB {
            // B is [k, n]: row p of every panel is a contiguous run of B's row p.
            // Row by row (p outer), each run of nc values is read once, in
            // order, and dealt to the panels nr at a time: one read stream the
            // prefetcher follows, instead of a line of a far row per panel row.
            let full = nc / nr * nr
            for p in 0..<kc {
                let src = b + (p0 + p) * ldb + j0
                var jr = 0
                while jr < full {
                    let row = dst + jr * kc + p * nr
                    for l in stride(from: 0, to: nr, by: 8) { Self.store8(Self.load8(src + jr + l), row + l) }
                    jr += nr
                }
                if jr < nc {
                    let row = dst + jr * kc + p * nr
                    row.update(from: src + jr, count: nc - jr)
                    (row + nc - jr).update(repeating: 0, count: nr - (nc - jr))
                }
            }
            return
        }
        var jr = 0
        while jr < nc {
            let width = min(nr, nc - jr)
            let panel = dst + jr * kc
            // B is [n, k]: column j of op(B) is a contiguous run of B's row j.
            // 8 lines of B × 8 values are transposed in registers and
            // written as 8 panel rows (simply_transpose8x8: 8 vector loads,
            // 8 vector stores), and this packing runs for every x·Wᵀ. The
            // panel is written in slices of `pBlock` rows (4 KiB with
            // nr = 16), each finished while it stays in L1; the lines the
            // next slice reads are asked for one slice ahead.
            let src = b + (j0 + jr) * ldb + p0
            let pBlock = 64
            let full8 = width / 8 * 8
            var pb = 0
            while pb < kc {
                let pEnd = min(pb + pBlock, kc)
                let p8 = pb + (pEnd - pb) / 8 * 8
                if pEnd < kc {
                    for l in 0..<width {
                        let next = src + l * ldb + pEnd
                        simply_prefetch(next); simply_prefetch(next + 16)
                        simply_prefetch(next + 32); simply_prefetch(next + 48)
                    }
                }
                var l0 = 0
                while l0 < full8 {
                    var p = pb
                    while p < p8 {
                        simply_transpose8x8(src + l0 * ldb + p, ldb, panel + p * nr + l0, nr)
                        p += 8
                    }
                    l0 += 8
                }
                for l in 0..<width {
                    let line = src + l * ldb
                    let pFrom = l < full8 ? p8 : pb
                    var p = pFrom
                    while p < pEnd { panel[p * nr + l] = line[p]; p += 1 }
                }
                pb = pEnd
            }
            if width < nr {
                for p in 0..<kc { (panel + p * nr + width).update(repeating: 0, count: nr - width) }
            }
            jr += nr
        }
    }

    /// A[i0..<i0+mc, p0..<p0+kc] (as op(A)) as panels of mr rows: panel q holds
    /// element (i0 + mr·q + r, p) at [q·kc·mr + p·mr + r]; missing rows are 0.
    func packA(into dst: UnsafeMutablePointer<Float>, i0: Int, mc: Int, p0: Int, kc: Int) {
        let mr = Self.mr
        if transA {
            // A is [k, m]: column p of op(A) is a contiguous run of A's row p.
            // Row by row (p outer), each run of mc values is read once, in
            // order, and dealt to the panels mr at a time: one read stream the
            // prefetcher follows, instead of one line of a far row per value
            // group (measured: the dW products lost 7% to this with cold A).
            let full = mc / mr * mr
            for p in 0..<kc {
                let src = a + (p0 + p) * lda + i0
                var ir = 0
                while ir < full {
                    Self.copyPanelRow(src + ir, dst + ir * kc + p * mr)
                    ir += mr
                }
                if ir < mc {
                    let row = dst + ir * kc + p * mr
                    for r in 0..<(mc - ir) { row[r] = src[ir + r] }
                    for r in (mc - ir)..<mr { row[r] = 0 }
                }
            }
            return
        }
        var ir = 0
        while ir < mc {
            let height = min(mr, mc - ir)
            let panel = dst + ir * kc
            var row = panel
            // A is [m, k]: row i of op(A) is a contiguous run of A's row i.
            // All mr rows are walked together (p outer): a few parallel read
            // streams, and each write fills a whole panel row.
            let src = a + (i0 + ir) * lda + p0
            if height == mr {
                // 8 values of each row at a time, transposed in registers
                // (6 rows on AVX2; 8 + 6 rows with AVX-512's 14).
                let k8 = kc / 8 * 8
                var p = 0
                while p < k8 {
                    var r = 0
                    while r + 8 <= mr {
                        simply_transpose8x8(src + r * lda + p, lda, row + p * mr + r, mr)
                        r += 8
                    }
                    if r < mr {   // mr - r == 6
                        simply_transpose6x8(src + r * lda + p, lda, row + p * mr + r, mr)
                    }
                    p += 8
                }
                while p < kc {
                    for r in 0..<mr { row[p * mr + r] = src[r * lda + p] }
                    p += 1
                }
            } else {
                for p in 0..<kc {
                    for r in 0..<height { row[r] = src[r * lda + p] }
                    for r in height..<mr { row[r] = 0 }
                    row += mr
                }
            }
            ir += mr
        }
    }

    /// dst[0..<mr] = src[0..<mr] in a few vector moves (6 = 4 + 2; 14 = 8 + 4 + 2).
    @inline(__always)
    static func copyPanelRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        let from = UnsafeRawPointer(src), to = UnsafeMutableRawPointer(dst)
#if SIMPLY_AVX512
        to.storeBytes(of: from.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        to.storeBytes(of: from.loadUnaligned(fromByteOffset: 32, as: SIMD4<Float>.self), toByteOffset: 32, as: SIMD4<Float>.self)
        to.storeBytes(of: from.loadUnaligned(fromByteOffset: 48, as: SIMD2<Float>.self), toByteOffset: 48, as: SIMD2<Float>.self)
#else
        to.storeBytes(of: from.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
        to.storeBytes(of: from.loadUnaligned(fromByteOffset: 16, as: SIMD2<Float>.self), toByteOffset: 16, as: SIMD2<Float>.self)
#endif
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

#if SIMPLY_AVX512
    @inline(__always)
    static func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always)
    static func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    /// C[0..<14, 0..<32] (row stride ldc) = (loadC ? C : 0) + Apanel · Bpanel over kc,
    /// each lane one left-to-right FMA chain. Accumulators are named one by one
    /// so they live in registers (generated text: one line per row).
    @inline(never)
    static func kernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                       c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
        var c80 = SIMD16<Float>(), c81 = SIMD16<Float>(), c90 = SIMD16<Float>(), c91 = SIMD16<Float>()
        var cA0 = SIMD16<Float>(), cA1 = SIMD16<Float>(), cB0 = SIMD16<Float>(), cB1 = SIMD16<Float>()
        var cC0 = SIMD16<Float>(), cC1 = SIMD16<Float>(), cD0 = SIMD16<Float>(), cD1 = SIMD16<Float>()
        if loadC {
            c00 = load16(c + 0 * ldc); c01 = load16(c + 0 * ldc + 16)
            c10 = load16(c + 1 * ldc); c11 = load16(c + 1 * ldc + 16)
            c20 = load16(c + 2 * ldc); c21 = load16(c + 2 * ldc + 16)
            c30 = load16(c + 3 * ldc); c31 = load16(c + 3 * ldc + 16)
            c40 = load16(c + 4 * ldc); c41 = load16(c + 4 * ldc + 16)
            c50 = load16(c + 5 * ldc); c51 = load16(c + 5 * ldc + 16)
            c60 = load16(c + 6 * ldc); c61 = load16(c + 6 * ldc + 16)
            c70 = load16(c + 7 * ldc); c71 = load16(c + 7 * ldc + 16)
            c80 = load16(c + 8 * ldc); c81 = load16(c + 8 * ldc + 16)
            c90 = load16(c + 9 * ldc); c91 = load16(c + 9 * ldc + 16)
            cA0 = load16(c + 10 * ldc); cA1 = load16(c + 10 * ldc + 16)
            cB0 = load16(c + 11 * ldc); cB1 = load16(c + 11 * ldc + 16)
            cC0 = load16(c + 12 * ldc); cC1 = load16(c + 12 * ldc + 16)
            cD0 = load16(c + 13 * ldc); cD1 = load16(c + 13 * ldc + 16)
        }
        var ap = a, bp = b
        for _ in 0..<kc {
            let b0 = load16(bp), b1 = load16(bp + 16)
            var av = SIMD16<Float>(repeating: ap[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[1])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[2])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[3])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[4])
            c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[5])
            c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[6])
            c60 = c60.addingProduct(av, b0); c61 = c61.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[7])
            c70 = c70.addingProduct(av, b0); c71 = c71.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[8])
            c80 = c80.addingProduct(av, b0); c81 = c81.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[9])
            c90 = c90.addingProduct(av, b0); c91 = c91.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[10])
            cA0 = cA0.addingProduct(av, b0); cA1 = cA1.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[11])
            cB0 = cB0.addingProduct(av, b0); cB1 = cB1.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[12])
            cC0 = cC0.addingProduct(av, b0); cC1 = cC1.addingProduct(av, b1)
            av = SIMD16<Float>(repeating: ap[13])
            cD0 = cD0.addingProduct(av, b0); cD1 = cD1.addingProduct(av, b1)
            ap += 14
            bp += 32
        }
        store16(c00, c + 0 * ldc); store16(c01, c + 0 * ldc + 16)
        store16(c10, c + 1 * ldc); store16(c11, c + 1 * ldc + 16)
        store16(c20, c + 2 * ldc); store16(c21, c + 2 * ldc + 16)
        store16(c30, c + 3 * ldc); store16(c31, c + 3 * ldc + 16)
        store16(c40, c + 4 * ldc); store16(c41, c + 4 * ldc + 16)
        store16(c50, c + 5 * ldc); store16(c51, c + 5 * ldc + 16)
        store16(c60, c + 6 * ldc); store16(c61, c + 6 * ldc + 16)
        store16(c70, c + 7 * ldc); store16(c71, c + 7 * ldc + 16)
        store16(c80, c + 8 * ldc); store16(c81, c + 8 * ldc + 16)
        store16(c90, c + 9 * ldc); store16(c91, c + 9 * ldc + 16)
        store16(cA0, c + 10 * ldc); store16(cA1, c + 10 * ldc + 16)
        store16(cB0, c + 11 * ldc); store16(cB1, c + 11 * ldc + 16)
        store16(cC0, c + 12 * ldc); store16(cC1, c + 12 * ldc + 16)
        store16(cD0, c + 13 * ldc); store16(cD1, c + 13 * ldc + 16)
    }
#else
    /// C[0..<6, 0..<16] (row stride ldc) = (loadC ? C : 0) + Apanel · Bpanel over kc,
    /// each lane one left-to-right FMA chain. Accumulators are named one by one
    /// so they live in registers.
    @inline(never)
    static func kernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
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
#endif
}
