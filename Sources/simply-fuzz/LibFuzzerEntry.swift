#if SIMPLY_LIBFUZZER
import Foundation
import SimplyFuzz

// Coverage-guided fuzzing: built with -sanitize=fuzzer (tools/fuzz/run.sh),
// libFuzzer calls LLVMFuzzerTestOneInput with each input; the target is
// SIMPLY_FUZZ_TARGET.

enum LibFuzzer {
    nonisolated(unsafe) static var target: FuzzTarget? = nil

    static func selectTarget() -> FuzzTarget {
        let env = ProcessInfo.processInfo.environment
        guard let name = env["SIMPLY_FUZZ_TARGET"], let t = FuzzTargets.named(name) else {
            FileHandle.standardError.write(Data("set SIMPLY_FUZZ_TARGET to one of \(FuzzTargets.names.joined(separator: ", "))\n".utf8))
            exit(2)
        }
        return t
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let target: FuzzTarget
    if let t = LibFuzzer.target { target = t } else { target = LibFuzzer.selectTarget(); LibFuzzer.target = target }
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    target.run(bytes)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// Writes the target's seeds to SIMPLY_FUZZ_SEED_DIR (if set), then hands
/// the command line to libFuzzer.
func runLibFuzzer() -> Never {
    let target = LibFuzzer.selectTarget()
    LibFuzzer.target = target
    if let dir = ProcessInfo.processInfo.environment["SIMPLY_FUZZ_SEED_DIR"] {
        do { try SeedFiles.write(target, to: URL(fileURLWithPath: dir)) } catch {
            FileHandle.standardError.write(Data("cannot write seeds to \(dir): \(error)\n".utf8))
            exit(2)
        }
    }
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput))
}
#endif
