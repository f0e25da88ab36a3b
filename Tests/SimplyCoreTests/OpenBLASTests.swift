import Testing
import SimplyCore

// Serialized: the OpenBLAS thread count is process-wide state.
@Suite(.serialized) struct OpenBLASTests {
    /// `blas` agrees with `reference` for every layout, with accumulation and
    /// padded strides. sgemm sums in another order, so the bound is relative to
    /// Σ|a·b| + |C₀| (the scale of the rounding error), not to the result,
    /// which may cancel to near zero on mixed-magnitude inputs.
    @Test(arguments: [0, 1, 2, 3])
    func blasAgreesWithReference(layout: Int) {
        let (transA, transB) = matmulLayouts[layout]
        for (m, n, k, pad) in [(1, 1, 1, 0), (7, 33, 65, 3), (130, 97, 300, 0), (64, 200, 48, 5)] {
            for accumulate in [false, true] {
                let rowsA = transA ? k : m, colsA = transA ? m : k
                let rowsB = transB ? n : k, colsB = transB ? k : n
                let lda = colsA + pad, ldb = colsB + pad, ldc = n + pad
                let tag = "blas \(m).\(n).\(k)"
                let a = matmulTestValues(rowsA * lda, name: "A" + tag)
                let b = matmulTestValues(rowsB * ldb, name: "B" + tag)
                let c0 = matmulTestValues(m * ldc, name: "C" + tag)
                var fast = c0, reference = c0
                Matmul.blas(&fast, a, b, m: m, n: n, k: k, transA: transA, transB: transB,
                            accumulate: accumulate, lda: lda, ldb: ldb, ldc: ldc, parallel: Parallel(threads: 2))
                Matmul.reference(&reference, a, b, m: m, n: n, k: k, transA: transA, transB: transB,
                                 accumulate: accumulate, lda: lda, ldb: ldb, ldc: ldc)
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<n {
                        var scale = accumulate ? Double(abs(c0[i * ldc + j])) : 0
                        for p in 0..<k {
                            let av = transA ? a[p * lda + i] : a[i * lda + p]
                            let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                            scale += Double(abs(av)) * Double(abs(bv))
                        }
                        let error = abs(Double(fast[i * ldc + j]) - Double(reference[i * ldc + j]))
                        worst = max(worst, error / max(scale, .leastNormalMagnitude))
                    }
                }
                // Two float sums of k terms each differ by at most ~2k·2⁻²⁴ of the scale.
                #expect(worst <= Double(2 * k + 2) * 0x1p-24, "\(m)x\(n)x\(k) tA=\(transA) tB=\(transB) acc=\(accumulate): \(worst)")
                // Padding of C is left alone.
                for i in 0..<m { for j in n..<ldc { #expect(fast[i * ldc + j] == c0[i * ldc + j]) } }
            }
        }
    }

    @Test func blasEmptyProducts() {
        var c: [Float] = [1, 2, 3, 4, 5, 6]
        Matmul.blas(&c, [], [], m: 2, n: 3, k: 0, accumulate: true)
        #expect(c == [1, 2, 3, 4, 5, 6])
        Matmul.blas(&c, [], [], m: 2, n: 3, k: 0)
        #expect(c == [0, 0, 0, 0, 0, 0])
    }

    @Test func recommendedCoreTypeIsADocumentedValue() {
        let core = OpenBLASRuntime.recommendedCoreType()
        #expect(core == nil || core == "Haswell" || core == "SkylakeX")
        #if os(Linux) && arch(x86_64)
        // The package is built for AVX2 + FMA, so a Linux x86-64 host running it has them.
        #expect(core != nil)
        #endif
        #expect(!OpenBLASRuntime.coreName.isEmpty)
    }

    @Test func coreTypeDecisionFromFlags() {
        let skylakeX = "processor\t: 0\nflags\t\t: fpu sse avx2 fma avx512f avx512dq avx512bw avx512vl\n"
        let haswell = "processor\t: 0\nflags\t\t: fpu sse avx avx2 fma bmi2\n"
        let partial = "flags\t\t: fpu avx2 fma avx512f avx512cd\n"
        let old = "flags\t\t: fpu sse sse2 avx\n"
        #expect(OpenBLASRuntime.recommendedCoreType(cpuinfo: skylakeX) == "SkylakeX")
        #expect(OpenBLASRuntime.recommendedCoreType(cpuinfo: haswell) == "Haswell")
        #expect(OpenBLASRuntime.recommendedCoreType(cpuinfo: partial) == "Haswell")
        #expect(OpenBLASRuntime.recommendedCoreType(cpuinfo: old) == nil)
        #expect(OpenBLASRuntime.recommendedCoreType(cpuinfo: "") == nil)
    }

    @Test func threadsCanBeSet() {
        OpenBLASRuntime.setThreads(1)
        #expect(OpenBLASRuntime.threads == 1)
        OpenBLASRuntime.setThreads(2)
        #expect(OpenBLASRuntime.threads == 2)
    }
}
