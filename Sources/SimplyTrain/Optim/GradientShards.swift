import SimplyCore
import SimplyRun

/// Sums per-shard gradients in a fixed pairwise tree (docs/design.md contract 3):
///   sum(lo, hi) = sum(lo, mid) + sum(mid, hi),  mid = lo + (hi − lo + 1) / 2
/// Leaves are visited in shard order and only log2(shards)+1 buffers are live,
/// so the tree — and the bits — depend on `shards` alone, never on which
/// worker computed which leaf.
public final class GradientTree: @unchecked Sendable {
    public let shards: Int
    let parameterCount: Int
    /// Node buffers, allocated the first time the tree needs one more (two
    /// shards need one; the bits never depend on which buffer a node gets).
    private var buffers: [Tensor] = []
    private var free: [Int] = []

    /// One leaf's job: shard `shard`'s gradient, to be written into `into`.
    public typealias Leaf = (shard: Int, into: Tensor)

    /// `firstBuffer`, if given, is the first node buffer (not allocated anew):
    /// with two shards the tree's only buffer, which the caller can compute
    /// shard 0's gradient in directly (Trainer: the second model's gradients).
    public init(shards: Int, parameterCount: Int, firstBuffer: Tensor? = nil) {
        precondition(shards >= 1)
        precondition(firstBuffer.map { $0.count == parameterCount } ?? true, "firstBuffer must hold parameterCount floats")
        self.shards = shards
        self.parameterCount = parameterCount
        if let firstBuffer { buffers = [firstBuffer]; free = [0]; ownsFirst = false }
    }

    /// Runs `leaf(shard, into)` for each shard in order — it must write shard's
    /// gradient into `into` (overwriting it) and return its loss — and leaves the
    /// tree sum of gradients in `result`. Returns the tree sum of the losses.
    public func reduce(into result: Tensor, parallel: Parallel,
                       leaf: (Int, Tensor) -> Float) -> Float {
        reduce(node: 0..<shards, into: result, parallel: parallel, leaf: leaf)
    }

    /// The same, with the leaves handed out by `leaves`: one leaf at a time,
    /// or two sibling leaves together (their outputs are distinct and neither
    /// is read until both are written), which the caller may run at once.
    /// `leaves` returns their losses in the order given.
    public func reduce(into result: Tensor, parallel: Parallel,
                       leaves: ([Leaf]) -> [Float]) -> Float {
        reduce(node: 0..<shards, into: result, parallel: parallel, leaves: leaves)
    }

    /// The whole tree's last addition also gives the sum's global norm
    /// (`addReturningNorm`, the bits of globalNorm), kept here until taken;
    /// nil when the tree had no addition (one shard).
    private var sumNorm: Double?

    /// The norm of the last whole-tree sum, once (nil: not measured).
    public func takeSumNorm() -> Double? {
        defer { sumNorm = nil }
        return sumNorm
    }

    /// The same for the subtree `node` alone (a node of this tree, e.g. from
    /// `ShardPlan.cover`): its sum has the bits the whole tree gives it.
    public func reduce(node range: Range<Int>, into result: Tensor, parallel: Parallel,
                       leaf: (Int, Tensor) -> Float) -> Float {
        reduce(node: range, into: result, parallel: parallel) { jobs in jobs.map { leaf($0.shard, $0.into) } }
    }

    public func reduce(node range: Range<Int>, into result: Tensor, parallel: Parallel,
                       leaves: ([Leaf]) -> [Float]) -> Float {
        if range == 0..<shards { sumNorm = nil }
        if range.count == 1 { return leaves([(range.lowerBound, result)])[0] }
        // The top node writes its sum straight into `result` (no copy from a
        // buffer), and a right child that is one leaf gets `result` itself as
        // its output: result[i] = left[i] + result[i], the same x + y per element.
        let (lo, hi) = (range.lowerBound, range.upperBound)
        let mid = lo + (hi - lo + 1) / 2
        let a: Int, la: Float, lb: Float, y: Tensor, b: Int?
        if hi - lo == 2 {
            a = take()
            let l = leaves([(lo, buffers[a]), (mid, result)])
            (la, lb, y, b) = (l[0], l[1], result, nil)
        } else {
            (a, la) = node(lo, mid, parallel: parallel, leaves: leaves)
            if hi - mid == 1 {
                lb = leaves([(mid, result)])[0]; y = result; b = nil
            } else {
                let (slot, l) = node(mid, hi, parallel: parallel, leaves: leaves)
                lb = l; y = buffers[slot]; b = slot
            }
        }
        if range == 0..<shards {
            sumNorm = addReturningNorm(buffers[a], y, into: result, parallel: parallel)
        } else {
            Self.add(buffers[a], y, into: result, parallel: parallel)
        }
        free.append(a)
        if let b { free.append(b) }
        return la + lb
    }

    /// Resident bytes of the node buffers the tree allocated (a caller's `firstBuffer` is not counted).
    public var allocatedBytes: Int {
        buffers.filter { b in ownsFirst || b.storage !== buffers.first?.storage }.reduce(0) { $0 + $1.storage.residentBytes }
    }
    private var ownsFirst = true

    /// A free node buffer (a new one when none is free).
    private func take() -> Int {
        if let slot = free.popLast() { return slot }
        buffers.append(Tensor(shape: [parameterCount]))
        return buffers.count - 1
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

    private func node(_ lo: Int, _ hi: Int, parallel: Parallel, leaves: ([Leaf]) -> [Float]) -> (Int, Float) {
        if hi - lo == 1 {
            let slot = take()
            return (slot, leaves([(lo, buffers[slot])])[0])
        }
        let a: Int, b: Int, la: Float, lb: Float
        if hi - lo == 2 {
            a = take(); b = take()
            let l = leaves([(lo, buffers[a]), (lo + 1, buffers[b])])
            (la, lb) = (l[0], l[1])
        } else {
            let mid = lo + (hi - lo + 1) / 2
            (a, la) = node(lo, mid, parallel: parallel, leaves: leaves)
            (b, lb) = node(mid, hi, parallel: parallel, leaves: leaves)
        }
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
