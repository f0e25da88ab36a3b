import Dispatch

/// Splits work over a fixed number of threads. Threads only ever split
/// *outputs*: each index range is written by one worker and no sum crosses
/// a range boundary, so results never depend on `threads`.
public struct Parallel: Sendable {
    public let threads: Int
    /// False only in a run without --deterministic: then large matrix
    /// products may go to OpenBLAS (`Matmul.product`), whose sums are not
    /// fixed-order.
    public let deterministic: Bool

    public init(threads: Int, deterministic: Bool = true) {
        precondition(threads >= 1, "threads must be >= 1")
        self.threads = threads
        self.deterministic = deterministic
    }

    public static let serial = Parallel(threads: 1)

    /// Calls `body` on contiguous, disjoint sub-ranges covering 0..<count.
    /// `grain` is the smallest range worth handing to a thread.
    public func forEachRange(_ count: Int, grain: Int = 1,
                             _ body: @Sendable (Range<Int>) -> Void) {
        if count <= 0 { return }
        let chunks = chunkCount(count, grain: grain)
        if chunks == 1 { body(0..<count); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks
            let hi = count * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }

    /// How many sub-ranges (and so threads) `forEachRange(count, grain:)` uses.
    public func chunkCount(_ count: Int, grain: Int = 1) -> Int {
        min(threads, max(1, count / max(grain, 1)))
    }

    /// Runs body(0), …, body(count − 1) at once, each on its own thread
    /// (independent jobs, e.g. two gradient shards; each job's numbers must
    /// not depend on the others).
    public static func concurrently(_ count: Int, _ body: @Sendable (Int) -> Void) {
        if count == 1 { body(0); return }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}
