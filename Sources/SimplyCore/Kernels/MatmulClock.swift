import Foundation
import Synchronization

/// Thread-seconds and FLOPs spent in matrix products while it runs: how fast
/// the products go inside a real training step (cold caches, the other lane
/// busy), next to `simply bench`'s fastest isolated call. Only `simply bench`
/// starts it; otherwise a product pays one relaxed atomic load. It reads the
/// clock and never touches a number the model computes.
public enum MatmulClock {
    private static let running = Atomic<Bool>(false)
    private static let nanoseconds = Atomic<UInt64>(0)
    private static let flopCount = Atomic<UInt64>(0)

    /// Zeroes the totals and starts counting.
    public static func start() {
        nanoseconds.store(0, ordering: .relaxed)
        flopCount.store(0, ordering: .relaxed)
        running.store(true, ordering: .sequentiallyConsistent)
    }

    /// Stops counting; the totals since `start()`. A product counts its wall
    /// time once per thread it ran on.
    public static func stop() -> (threadSeconds: Double, flops: Double) {
        running.store(false, ordering: .sequentiallyConsistent)
        return (Double(nanoseconds.load(ordering: .relaxed)) * 1e-9, Double(flopCount.load(ordering: .relaxed)))
    }

    /// The start time of a product, or nil when not counting.
    @inline(__always)
    static func begin() -> UInt64? {
        running.load(ordering: .relaxed) ? now() : nil
    }

    /// Adds a product of 2·m·n·k FLOPs that began at `start` and ran on
    /// `threads` threads, if the clock still runs: a product that straddles
    /// `stop()` (another thread's) is not counted, so the totals `stop()`
    /// returned do not move afterwards.
    @inline(__always)
    static func end(_ start: UInt64?, threads: Int, m: Int, n: Int, k: Int) {
        guard let start, running.load(ordering: .sequentiallyConsistent) else { return }
        nanoseconds.add((now() &- start) &* UInt64(threads), ordering: .relaxed)
        flopCount.add(UInt64(2 * m * n * k), ordering: .relaxed)
    }

    private static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
