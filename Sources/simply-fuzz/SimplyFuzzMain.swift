#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SimplyFuzz

/// simply-fuzz TARGET [--seconds N | --runs N] [--seed S] [--crashes DIR] [--memory_mb M] [--timeout S] [--max_len N]
/// simply-fuzz TARGET --replay FILE...
/// simply-fuzz TARGET --write_seeds DIR
/// simply-fuzz --list
///
/// Built with -DSIMPLY_LIBFUZZER (and -sanitize=fuzzer) it is a libFuzzer
/// binary instead: the target comes from SIMPLY_FUZZ_TARGET and the command
/// line is libFuzzer's.
@main
struct SimplyFuzzMain {
    static let usage = """
        usage: simply-fuzz TARGET [--seconds N | --runs N] [--seed S] [--crashes DIR] [--memory_mb M] [--timeout S] [--max_len N]
               simply-fuzz TARGET --replay FILE...
               simply-fuzz TARGET --write_seeds DIR
               simply-fuzz --list
        """

    static func main() {
        #if SIMPLY_LIBFUZZER
        runLibFuzzer()
        #else
        runMutationFuzzer(Array(CommandLine.arguments.dropFirst()))
        #endif
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("simply-fuzz: \(message)\n".utf8))
        exit(2)
    }

    static func runMutationFuzzer(_ args: [String]) {
        if args == ["--list"] {
            for t in FuzzTargets.all { print("\(t.name)\t\(t.summary)") }
            return
        }
        guard let name = args.first, !name.hasPrefix("-") else { fail(usage) }
        guard let target = FuzzTargets.named(name) else {
            fail("unknown target '\(name)' (targets: \(FuzzTargets.names.joined(separator: ", ")))")
        }
        var rest = Array(args.dropFirst())
        if rest.first == "--replay" {
            for path in rest.dropFirst() {
                guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
                target.run([UInt8](data))
                print("\(name): \(path) ran without a crash")
            }
            return
        }
        if rest.first == "--write_seeds" {
            guard rest.count == 2 else { fail(usage) }
            do { try SeedFiles.write(target, to: URL(fileURLWithPath: rest[1])) } catch { fail("\(error)") }
            return
        }

        var runs: Int? = nil, seconds: Double? = nil, seed: UInt64 = 1
        var crashes = ".", memoryMB = 4096, timeout = 10, maxLength = 1 << 16
        while !rest.isEmpty {
            let flag = rest.removeFirst()
            guard let value = rest.first else { fail("\(flag) needs a value\n\(usage)") }
            rest.removeFirst()
            switch flag {
            case "--runs": guard let v = Int(value), v >= 0 else { fail("--runs takes a count") }; runs = v
            case "--seconds": guard let v = Double(value), v >= 0 else { fail("--seconds takes a number") }; seconds = v
            case "--seed": guard let v = UInt64(value) else { fail("--seed takes a non-negative integer") }; seed = v
            case "--crashes": crashes = value
            case "--memory_mb": guard let v = Int(value), v >= 0 else { fail("--memory_mb takes megabytes (0: no limit)") }; memoryMB = v
            case "--timeout": guard let v = Int(value), v >= 0 else { fail("--timeout takes seconds (0: none)") }; timeout = v
            case "--max_len": guard let v = Int(value), v >= 1 else { fail("--max_len takes bytes") }; maxLength = v
            default: fail("unknown option \(flag)\n\(usage)")
            }
        }
        if runs == nil && seconds == nil { seconds = 60 }

        // A parser that allocates without bound should fail here (and be
        // caught as a crash), not take the machine's memory.
        if memoryMB > 0 {
            var limit = rlimit(rlim_cur: rlim_t(memoryMB) << 20, rlim_max: rlim_t(memoryMB) << 20)
            #if canImport(Glibc)
            setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
            #else
            setrlimit(RLIMIT_AS, &limit)
            #endif
        }
        try? FileManager.default.createDirectory(atPath: crashes, withIntermediateDirectories: true)
        let stem = "\(crashes)/\(name)-seed\(seed)"
        CrashCapture.install(maxLength: maxLength, crashFile: stem + ".crash", timeoutFile: stem + ".timeout", timeout: timeout)

        let stats = FuzzRunner.run(target, seed: seed, runs: runs, seconds: seconds, maxLength: maxLength,
                                   willRun: CrashCapture.willRun)
        // The slowest input is kept for a look (a parser slow on some input is a finding too).
        try? Data(stats.slowestInput).write(to: URL(fileURLWithPath: stem + ".slowest"))
        print("\(name): \(stats.runs) inputs tried in \(String(format: "%.1f", stats.seconds)) s "
              + "(\(String(format: "%.0f", stats.runsPerSecond)) runs/s), seed \(seed), no crash; "
              + "slowest input \(String(format: "%.1f", stats.slowestSeconds * 1000)) ms (\(stats.slowestInput.count) bytes, saved to \(stem).slowest)")
    }
}
