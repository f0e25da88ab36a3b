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
        reduce(node: 0..<shards, into: result, parallel: parallel, leaf: leaf)
    }

    /// The same for the subtree `node` alone (a node of this tree, e.g. from
    /// `ShardPlan.cover`): its sum has the bits the whole tree gives it.
    public func reduce(node range: Range<Int>, into result: Tensor, parallel: Parallel,
                       leaf: (Int, Tensor) -> Float) -> Float {
        if range.count == 1 { return leaf(range.lowerBound, result) }
        // The top node writes its sum straight into `result` (no copy from a
        // buffer), and a right child that is one leaf gets `result` itself as
        // its output: result[i] = left[i] + result[i], the same x + y per element.
        let (lo, hi) = (range.lowerBound, range.upperBound)
        let mid = lo + (hi - lo + 1) / 2
        let (a, la) = node(lo, mid, parallel: parallel, leaf: leaf)
        let lb: Float, y: Tensor, b: Int?
        if hi - mid == 1 {
            lb = leaf(mid, result); y = result; b = nil
        } else {
            let (slot, l) = node(mid, hi, parallel: parallel, leaf: leaf)
            lb = l; y = buffers[slot]; b = slot
        }
        Self.add(buffers[a], y, into: result, parallel: parallel)
        free.append(a)
        if let b { free.append(b) }
        return la + lb
    }

    /// Finishes the tree from `frontier`: tree nodes that cut 0..<shards into
    /// consecutive pieces (each worker's `ShardPlan.cover`, in shard order),
    /// with their sums in `values` and `losses`. Adds them up exactly as
    /// `reduce` would (the left operand is overwritten) and returns the index
    /// of the value holding the total, and the total loss.
    public static func combine(frontier: [Range<Int>], values: [Tensor], losses: [Float], shards: Int,
                               parallel: Parallel) -> (index: Int, loss: Float) {
        precondition(frontier.count == values.count && frontier.count == losses.count)
        var losses = losses
        func up(_ lo: Int, _ hi: Int) -> Int {
            if let i = frontier.firstIndex(of: lo..<hi) { return i }
            precondition(hi - lo > 1, "the frontier does not cover shard \(lo) with tree nodes")
            let mid = lo + (hi - lo + 1) / 2
            let a = up(lo, mid), b = up(mid, hi)
            add(values[a], values[b], into: values[a], parallel: parallel)
            losses[a] = losses[a] + losses[b]
            return a
        }
        let i = up(0, shards)
        return (i, losses[i])
    }

    private func node(_ lo: Int, _ hi: Int, parallel: Parallel, leaf: (Int, Tensor) -> Float) -> (Int, Float) {
        if hi - lo == 1 {
            let slot = free.removeLast()
            return (slot, leaf(lo, buffers[slot]))
        }
        let mid = lo + (hi - lo + 1) / 2
        let (a, la) = node(lo, mid, parallel: parallel, leaf: leaf)
        let (b, lb) = node(mid, hi, parallel: parallel, leaf: leaf)
        Self.add(buffers[a], buffers[b], into: buffers[a], parallel: parallel)
        free.append(b)
        return (a, la + lb)
    }

    /// The tree's one addition: out[i] = x[i] + y[i], element by element (out may be x or y).
    static func add(_ x: Tensor, _ y: Tensor, into out: Tensor, parallel: Parallel) {
        parallel.forEachRange(x.count, grain: 16384) { r in
            for i in r { out.pointer[i] = x.pointer[i] + y.pointer[i] }
        }
    }
}
