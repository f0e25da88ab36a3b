/// The non-deterministic fast path: OpenBLAS sgemm. Its summation order
/// depends on the kernel OpenBLAS picks, the thread count and the blocking,
/// so it is used only without `--deterministic` (docs/design.md).
///
/// Core type. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH build) does not recognise
/// recent Intel CPUs (e.g. Sapphire Rapids) and silently falls back to its
/// slowest kernel, Prescott. The only reliable fix is the environment
/// variable OPENBLAS_CORETYPE (e.g. "Haswell", "SkylakeX"), and it is read
/// once, by the library's constructor, when libopenblas is *loaded* — i.e.
/// before `main` runs for a linked executable. Setting it with setenv later
/// has no effect. So the `simply` executable checks `OpenBLASRuntime.coreName`
/// against `recommendedCoreType()` at start-up and, if they differ and the
/// variable is unset, re-executes itself with OPENBLAS_CORETYPE set; it then
/// reports `coreName` so the user sees which kernel runs.

import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

extension Matmul {
    /// C[m,n] = (accumulate ? C : 0) + op(A) · op(B) through `cblas_sgemm`;
    /// same arguments and layout rules as `deterministic`, but the bits are
    /// not the FMA chain and may change with threads or the CPU.
    /// OpenBLAS itself runs single-threaded; `parallel` splits C by rows.
    public static func blas(
        _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        m: Int, n: Int, k: Int,
        transA: Bool = false, transB: Bool = false, accumulate: Bool = false,
        lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
        parallel: Parallel = .serial
    ) {
        // Checked here: cblas rejects lda = 0 (k = 0) and only prints a complaint for a short leading dimension.
        guard let (lda, ldb, ldc) = strides(c, m: m, n: n, k: k, transA: transA, transB: transB,
                                            accumulate: accumulate, lda: lda, ldb: ldb, ldc: ldc) else { return }
        // OpenBLAS's own threads spin-wait between calls and starve the
        // element-wise work that `parallel` runs on the same cores, so OpenBLAS
        // runs single-threaded and `parallel` splits C into row strips instead.
        if OpenBLASRuntime.threads != 1 { OpenBLASRuntime.setThreads(1) }
        let strips = parallel.threads > 1 && m * n * k >= 1 << 21 ? parallel.threads : 1
        let product = BLASProduct(a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                                  c: c, ldc: ldc, n: n, k: k, accumulate: accumulate)
        let clock = MatmulClock.begin()
        if strips == 1 {
            product.run(rows: 0..<m)
        } else {
            parallel.forEachRange(m, grain: 16) { rows in product.run(rows: rows) }
        }
        MatmulClock.end(clock, threads: strips == 1 ? 1 : parallel.chunkCount(m, grain: 16), m: m, n: n, k: k)
    }
}

/// One sgemm call's operands, split by rows of C.
private struct BLASProduct: @unchecked Sendable {
    let a: UnsafePointer<Float>, lda: Int, transA: Bool
    let b: UnsafePointer<Float>, ldb: Int, transB: Bool
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let n: Int, k: Int, accumulate: Bool

    func run(rows: Range<Int>) {
        // Rows i of op(A) start at A[i, 0] (A is [m, k]) or A[0, i] (A is [k, m]).
        let aStart = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
        // beta = 0 means C is not read, so garbage (even NaN) in C is fine.
        cblas_sgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    Int32(rows.count), Int32(n), Int32(k),
                    1, aStart, Int32(lda), b, Int32(ldb),
                    accumulate ? 1 : 0, c + rows.lowerBound * ldc, Int32(ldc))
    }
}

/// What OpenBLAS runs on this machine, and what it should run.
public enum OpenBLASRuntime {
    /// The OPENBLAS_CORETYPE this CPU should use: "SkylakeX" when it has
    /// AVX-512 F/BW/VL/DQ, "Haswell" when it has AVX2 and FMA, nil otherwise
    /// (and nil off Linux, where /proc/cpuinfo does not exist).
    public static func recommendedCoreType() -> String? {
        #if os(Linux)
        guard let text = try? readProcFile("/proc/cpuinfo") else { return nil }
        return recommendedCoreType(cpuinfo: text)
        #else
        return nil
        #endif
    }

    /// The decision of `recommendedCoreType()` for a given /proc/cpuinfo text
    /// (the first "flags" line), separated out so it can be tested.
    public static func recommendedCoreType(cpuinfo: String) -> String? {
        guard let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return nil }
        let flags = Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    /// The kernel OpenBLAS actually loaded, e.g. "Haswell", "SkylakeX", "Prescott".
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's build configuration string (version, DYNAMIC_ARCH, threading).
    public static var config: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text)
    }

    /// OpenBLAS's own thread pool size (process-wide).
    public static var threads: Int { Int(openblas_get_num_threads()) }

    public static func setThreads(_ n: Int) {
        precondition(n >= 1, "threads must be >= 1")
        openblas_set_num_threads(Int32(n))
    }

    #if os(Linux)
    /// Reads a /proc file (their size is reported as 0, so read until EOF).
    private static func readProcFile(_ path: String) throws -> String {
        guard let file = fopen(path, "r") else { throw ProcReadError() }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = fread(&buffer, 1, buffer.count, file)
            if got <= 0 { break }
            bytes.append(contentsOf: buffer[0..<got])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private struct ProcReadError: Error {}
    #endif
}
