import Testing
import SimplyCore

/// `Matmul.fewRows` (decoding steps: a few rows times a weight packed once by
/// `packPanels`) equals the plain FMA triple loop bit for bit: rows 1…17
/// (8- and 4-row tiles and the rest), widths around the 16- and 64-column tiles, odd
/// depths, B as [k, n] or as [n, k] transposed, padded strides, and 1 or 3
/// threads (the large shapes cross the threading threshold).
@Suite struct MatmulFewRowsTests {
    func check(m: Int, n: Int, k: Int, pad: Int, transB: Bool, threads: Int) {
        let lda = k + pad, ldb = (transB ? k : n) + pad, ldc = n + pad
        let tag = "few.\(m).\(n).\(k)"
        let a = matmulTestValues(m * lda, name: "A" + tag), b = matmulTestValues((transB ? n : k) * ldb, name: "B" + tag)
        let sentinel = Float(bitPattern: 0x7FC0_5A5A)
        var fast = [Float](repeating: sentinel, count: m * ldc), reference = fast
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                var packed = [Float](repeating: .nan, count: Matmul.packedPanelsCount(k: k, n: n))
                packed.withUnsafeMutableBufferPointer { p in
                    Matmul.packPanels(p.baseAddress!, b.baseAddress!, k: k, n: n, ldb: ldb, transB: transB,
                                      parallel: Parallel(threads: threads))
                }
                fast.withUnsafeMutableBufferPointer { c in
                    Matmul.fewRows(c.baseAddress!, a.baseAddress!, packedB: packed, m: m, n: n, k: k,
                                   lda: lda, ldc: ldc, parallel: Parallel(threads: threads))
                }
                reference.withUnsafeMutableBufferPointer { c in
                    Matmul.reference(c.baseAddress!, a.baseAddress!, b.baseAddress!, m: m, n: n, k: k, transB: transB,
                                     lda: lda, ldb: ldb, ldc: ldc)
                }
            }
        }
        #expect(fast.map(\.bitPattern) == reference.map(\.bitPattern),
                "\(m)x\(n)x\(k) transB \(transB) pad \(pad) threads \(threads)")
    }

    @Test func equalsTheReference() {
        for m in 1...17 {
            for n in [1, 15, 16, 17, 48, 64, 65, 80, 130] {
                for k in [1, 7, 33, 70] { check(m: m, n: n, k: k, pad: (m + n) % 3, transB: (m + k) % 2 == 0, threads: 1) }
            }
        }
        for threads in [1, 3] {
            check(m: 9, n: 300, k: 401, pad: 1, transB: true, threads: threads)
            check(m: 6, n: 300, k: 401, pad: 0, transB: false, threads: threads)
            check(m: 1, n: 4100, k: 260, pad: 0, transB: true, threads: threads)
        }
    }

    /// The test data would catch a changed summation order.
    @Test func reorderingWouldBeDetected() {
        let k = 33, a = matmulTestValues(k, name: "few.reorder.a"), b = matmulTestValues(k, name: "few.reorder.b")
        var forward: Float = 0, backward: Float = 0
        for p in 0..<k { forward = forward.addingProduct(a[p], b[p]) }
        for p in (0..<k).reversed() { backward = backward.addingProduct(a[p], b[p]) }
        #expect(forward != backward)
    }
}
