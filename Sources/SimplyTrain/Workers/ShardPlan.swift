import SimplyRun
/// Which worker computes which gradient shard, and which part of the
/// gradient each worker finishes (docs/design.md contract 3). Worker r gets the
/// consecutive shards ⌈r·S/N⌉ ..< ⌈(r+1)·S/N⌉ (workers past the shard count
/// get none) and the parameters ⌊r·P/N⌋ ..< ⌊(r+1)·P/N⌋. Only speed depends on
/// this: the sums follow the fixed tree over `shards`.
public struct ShardPlan: Sendable, Equatable {
    public let shards: Int
    public let workers: Int

    public init(shards: Int, workers: Int) {
        precondition(shards >= 1 && workers >= 1)
        self.shards = shards; self.workers = workers
    }

    /// The gradient shards worker `rank` computes.
    public func shards(of rank: Int) -> Range<Int> {
        ((rank * shards + workers - 1) / workers)..<(((rank + 1) * shards + workers - 1) / workers)
    }

    /// The tree nodes (GradientTree's split rule) whose shards worker `rank`
    /// computes, largest first: the pieces it sums on its own.
    public func nodes(of rank: Int) -> [Range<Int>] { Self.cover(shards(of: rank), shards: shards) }

    /// The largest nodes of the tree over 0..<shards that lie inside `range`, in shard order.
    public static func cover(_ range: Range<Int>, shards: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        func visit(_ lo: Int, _ hi: Int) {
            if hi <= range.lowerBound || lo >= range.upperBound { return }
            if range.lowerBound <= lo && hi <= range.upperBound { out.append(lo..<hi); return }
            let mid = lo + (hi - lo + 1) / 2
            visit(lo, mid)
            visit(mid, hi)
        }
        if !range.isEmpty { visit(0, shards) }
        return out
    }

    /// The parameters whose tree sum worker `rank` finishes.
    public func parameters(of rank: Int, count: Int) -> Range<Int> {
        (rank * count / workers)..<((rank + 1) * count / workers)
    }
}
