// swift-tools-version:6.0
import PackageDescription

// Kernels use explicit fused multiply-add (`addingProduct`); on the default
// x86-64 target Swift lowers it to a libm `fmaf` call per lane. Building for
// haswell (x86-64-v3: AVX2 + FMA) makes it one instruction. Bits do not change with
// the target: every FMA is written out in a fixed order.
#if arch(x86_64)
let hostFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let hostFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "Simply",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "simply", targets: ["simply"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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

        .target(name: "SimplyCore", dependencies: ["COpenBLAS", "CCrypto"],
                swiftSettings: hostFlags),
        .target(name: "SimplyModel", dependencies: ["SimplyCore"],
                swiftSettings: hostFlags),
        .target(name: "SimplyData", dependencies: ["SimplyCore"],
                swiftSettings: hostFlags),
        .target(name: "SimplyTrain", dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "CZstd", "CMPI"],
                swiftSettings: hostFlags),
        .target(name: "SimplyPosttraining", dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "SimplyTrain"],
                swiftSettings: hostFlags),
        .target(name: "SimplyEval", dependencies: ["SimplyCore", "SimplyModel", "SimplyData"],
                swiftSettings: hostFlags),
        .target(name: "SimplyExport", dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "SimplyTrain"],
                swiftSettings: hostFlags),
        .executableTarget(name: "simply",
                          dependencies: ["SimplyCore", "SimplyModel", "SimplyData", "SimplyTrain", "SimplyPosttraining", "SimplyEval",
                                         "SimplyExport",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: hostFlags),

        .testTarget(name: "SimplyCoreTests", dependencies: ["SimplyCore"],
                    swiftSettings: hostFlags),
        .testTarget(name: "SimplyModelTests", dependencies: ["SimplyModel"],
                    resources: [], swiftSettings: hostFlags),
        .testTarget(name: "SimplyDataTests", dependencies: ["SimplyData"],
                    swiftSettings: hostFlags),
        .testTarget(name: "SimplyTrainTests", dependencies: ["SimplyTrain"],
                    swiftSettings: hostFlags),
        .testTarget(name: "SimplyPosttrainingTests", dependencies: ["SimplyPosttraining", "SimplyEval"],
                    swiftSettings: hostFlags),
        .testTarget(name: "SimplyExportTests", dependencies: ["SimplyExport", "SimplyTrain"],
                    swiftSettings: hostFlags),
    ],
    swiftLanguageModes: [.v6]
)
