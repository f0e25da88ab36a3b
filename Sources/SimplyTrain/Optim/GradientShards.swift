import SimplyCore

/// Sums per-shard gradients in a fixed pairwise tree (DESIGN.md contract 3):
///   sum(lo, hi) = sum(lo, mid) + sum(mid, hi),  mid = lo + (hi − lo + 1) / 2
/// Leaves are visited in shard order and only log2(shards)+1 buffers are live,
/// so the tree — and the bits — depend on `shards` alone, never on which
/// worker computed which leaf.
public final class GradientTree: @unchecked Sendable {
    public let shards: Int
    private var buffers: [Tensor]
    private var free: [Int]

    public init(shards: Int, parameterCount: Int) {
        precondition(shards >= 1)
        self.shards = shards
        var depth = 1
        while (1 << (depth - 1)) < shards { depth += 1 }
        let n = shards == 1 ? 0 : depth + 1
        buffers = (0..<n).map { _ in Tensor(shape: [parameterCount]) }
        free = Array((0..<n).reversed())
    }

    /// Runs `leaf(shard, into)` for each shard in order — it must write shard's
    /// gradient into `into` (overwriting it) and return its loss — and leaves the
    /// tree sum of gradients in `result`. Returns the tree sum of the losses.
    public func reduce(into result: Tensor, parallel: Parallel,
                       leaf: (Int, Tensor) -> Float) -> Float {
        if shards == 1 { return leaf(0, result) }
        let (slot, loss) = node(0, shards, parallel: parallel, leaf: leaf)
        result.copy(from: buffers[slot])
        free.append(slot)
        return loss
    }

    private func node(_ lo: Int, _ hi: Int, parallel: Parallel, leaf: (Int, Tensor) -> Float) -> (Int, Float) {
        if hi - lo == 1 {
            let slot = free.removeLast()
            return (slot, leaf(lo, buffers[slot]))
        }
        let mid = lo + (hi - lo + 1) / 2
        let (a, la) = node(lo, mid, parallel: parallel, leaf: leaf)
        let (b, lb) = node(mid, hi, parallel: parallel, leaf: leaf)
        let x = buffers[a], y = buffers[b]
        parallel.forEachRange(x.count, grain: 16384) { r in
            for i in r { x.pointer[i] += y.pointer[i] }
        }
        free.append(b)
        return (a, la + lb)
    }
}
