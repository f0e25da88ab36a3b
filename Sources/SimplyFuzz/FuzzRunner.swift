import Foundation

/// The mutation fuzzer's loop (no coverage feedback): each run mutates a
/// seed or a recent mutant and feeds it to the target. With the same seed
/// the same inputs are tried in the same order; a time limit only decides
/// where the sequence stops.
public enum FuzzRunner {
    public struct Stats: Sendable {
        public var runs = 0
        public var seconds = 0.0
        /// The slowest input and its time (a parser that is slow on some input
        /// is worth a look even when it does not crash).
        public var slowestSeconds = 0.0
        public var slowestInput: [UInt8] = []
        public var runsPerSecond: Double { seconds > 0 ? Double(runs) / seconds : 0 }
    }

    /// Runs `target` on its seeds, then on mutants until `runs` inputs (seeds
    /// included) or `seconds` have passed, whichever comes first.
    /// `willRun` sees each input before the target does (to save it for a
    /// crash report).
    public static func run(_ target: FuzzTarget, seed: UInt64, runs: Int? = nil, seconds: Double? = nil,
                           maxLength: Int = 1 << 16, willRun: ([UInt8]) -> Void = { _ in }) -> Stats {
        let seeds = target.seeds()
        var mutator = Mutator(seed: seed, maxLength: maxLength)
        var recent: [[UInt8]] = []   // a ring of mutants, so mutations stack over runs
        var next = 0
        var stats = Stats()
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

        func one(_ input: [UInt8]) {
            willRun(input)
            let t0 = DispatchTime.now().uptimeNanoseconds
            target.run(input)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if dt > stats.slowestSeconds { stats.slowestSeconds = dt; stats.slowestInput = input }
            stats.runs += 1
        }

        for s in seeds {
            if let runs, stats.runs >= runs { break }
            one(s)
        }
        while true {
            if let runs, stats.runs >= runs { break }
            // The clock is read every 64 runs: cheap, and the count stays the only nondeterminism.
            if let seconds, stats.runs % 64 == 0, elapsed() >= seconds { break }
            if runs == nil && seconds == nil { break }
            let base = recent.isEmpty || mutator.rng.chance(50) ? seeds[mutator.rng.below(seeds.count)]
                                                                 : recent[mutator.rng.below(recent.count)]
            let input = mutator.mutate(base, corpus: seeds)
            one(input)
            if recent.count < 256 { recent.append(input) } else { recent[next] = input; next = (next + 1) % 256 }
        }
        stats.seconds = elapsed()
        return stats
    }
}
