// swift-tools-version:6.1
import PackageDescription

import Foundation

// Kernels use explicit fused multiply-add (`addingProduct`); on the default
// x86-64 target Swift lowers it to a libm `fmaf` call per lane. Building for a
// CPU with FMA makes it one instruction. Bits do not change with the target:
// every FMA is written out in a fixed order (DESIGN.md, contract 2).
//
// The CPU: SIMPLY_TARGET_CPU if set (an LLVM CPU name: haswell,
// skylake-avx512, native, ...), else `native` when this machine has AVX-512
// (so the matrix product uses its 14×32 zmm micro-kernel), else haswell
// (x86-64-v3: AVX2 + FMA, the 6×16 ymm micro-kernel). SIMPLY_AVX512 tells the
// kernels which one to compile.
#if arch(x86_64)
let hostFlags: [SwiftSetting] = {
    let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? []
    let hostAVX512 = ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
    let cpu = ProcessInfo.processInfo.environment["SIMPLY_TARGET_CPU"] ?? (hostAVX512 ? "native" : "haswell")
    let avx512CPUs: Set<String> = [
        "skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake-client", "icelake-server",
        "rocketlake", "tigerlake", "sapphirerapids", "emeraldrapids", "graniterapids", "graniterapids-d",
        "diamondrapids", "znver4", "znver5", "x86-64-v4",
    ]
    let avx512 = cpu == "native" ? hostAVX512 : avx512CPUs.contains(cpu)
    return [.unsafeFlags(["-target-cpu", cpu])] + (avx512 ? [.define("SIMPLY_AVX512")] : [])
}()
#else
let hostFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "Simply",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "simply", targets: ["simply"]),
        .executable(name: "simply-fuzz", targets: ["simply-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `simply serve` (docs/serve.md); no traits: it needs neither swift-configuration nor full Foundation.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),

        // A prefetch hint for the decoding kernels (a C inline function: Swift has none).
        .target(name: "CPrefetch"),
        // Two SHA-256 streams interleaved on the x86 SHA extensions, for the state hash.
        .target(name: "CSHA256"),
        .target(name: "SimplyCore", dependencies: ["COpenBLAS", "CCrypto", "CPrefetch", "CSHA256"],
                swiftSettings: hostFlags),
        .target(name: "SimplyModel", dependencies: ["SimplyCore"],
                swiftSettings: hostFlags),
        .target(name: "SimplyData", dependencies: ["SimplyCore"],
                swiftSettings: hostFlags),
        // The run directory, config and checkpoint format, below the loop (docs/design.md).
        .target(name: "SimplyRun", dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "CZstd"],
                swiftSettings: hostFlags),
        .target(name: "SimplyTrain", dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "SimplyRun", "CMPI", "CPrefetch"],
                swiftSettings: hostFlags),
        .target(name: "SimplyPosttraining", dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "SimplyRun", "SimplyTrain", "SimplyEval"],
                swiftSettings: hostFlags),
        .target(name: "SimplyEval", dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "SimplyRun"],
                swiftSettings: hostFlags),
        .target(name: "SimplyExport", dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "SimplyRun"],
                swiftSettings: hostFlags),
        // The OpenAI-compatible server: continuous batching on the KV-cache sampler, and its HTTP face.
        .target(name: "SimplyServe", dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "SimplyRun",
                                                    .product(name: "Hummingbird", package: "hummingbird"),
                                                    .product(name: "NIOCore", package: "swift-nio"),
                                                    .product(name: "Logging", package: "swift-log")],
                swiftSettings: hostFlags),
        .executableTarget(name: "simply",
                          dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "SimplyRun", "SimplyTrain", "SimplyPosttraining", "SimplyEval",
                                         "SimplyExport", "SimplyServe",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: hostFlags),
        // Fuzz targets for the parsers (docs/fuzzing.md) and their driver.
        .target(name: "SimplyFuzz", dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "SimplyRun", "SimplyExport"],
                swiftSettings: hostFlags),
        .executableTarget(name: "simply-fuzz", dependencies: ["SimplyFuzz"], swiftSettings: hostFlags),

        .testTarget(name: "SimplyCoreTests", dependencies: ["SimplyCore"],
                    swiftSettings: hostFlags),
        .testTarget(name: "SimplyModelTests", dependencies: ["SimplyModel"],
                    resources: [], swiftSettings: hostFlags),
        .testTarget(name: "SimplyDataTests", dependencies: ["SimplyData", "SimplyEval"],
                    swiftSettings: hostFlags),
        .testTarget(name: "SimplyTrainTests", dependencies: ["SimplyRun", "SimplyTrain"],
                    swiftSettings: hostFlags),
        .testTarget(name: "SimplyPosttrainingTests", dependencies: ["SimplyRun", "SimplyPosttraining", "SimplyEval"],
                    swiftSettings: hostFlags),
        .testTarget(name: "SimplyExportTests", dependencies: ["SimplyExport", "SimplyRun", "SimplyTrain"],
                    swiftSettings: hostFlags),
        .testTarget(name: "SimplyServeTests", dependencies: ["SimplyServe", "SimplyRun", "SimplyTrain",
                                                             .product(name: "HummingbirdTesting", package: "hummingbird"),
                                                             .product(name: "NIOCore", package: "swift-nio")],
                    swiftSettings: hostFlags),
        .testTarget(name: "SimplyFuzzTests", dependencies: ["SimplyFuzz", "SimplyRun"],
                    exclude: ["Regressions"], swiftSettings: hostFlags),
    ],
    swiftLanguageModes: [.v6]
)
