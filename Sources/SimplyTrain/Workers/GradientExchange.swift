import Foundation
import SimplyCore
import SimplyRun

/// One step's gradient across workers, with the bits of one process:
///  1. each worker sums the tree nodes made of its own shards (`ShardPlan.nodes`);
///  2. an all-to-all sends every node's slice of parameters to the worker
///     that owns that slice, which finishes the fixed tree on it
///     (`GradientTree.combine`: the same additions in the same order);
///  3. an all-gather gives every worker the whole summed gradient.
/// The node losses and every shard's metrics travel as bytes, so the loss is
/// the same tree sum and metrics combine in shard order as in one process.
final class GradientExchange {
    let workers: Workers
    let plan: ShardPlan
    let parameterCount: Int
    let tree: GradientTree
    let mine: [Range<Int>]              // this worker's nodes
    let frontier: [Range<Int>]          // every worker's nodes, in shard order
    let nodeCounts: [Int]               // nodes per worker
    let slices: [Range<Int>]            // parameters each worker finishes
    let nodes: Tensor                   // [mine.count, P]: this worker's node sums
    let packed: Tensor?                 // the same, regrouped by destination (when > 1 node)
    let received: Tensor                // [frontier.count, my slice]
    /// Seconds the last step spent moving gradients, losses and metrics
    /// between workers, and before that waiting for the slowest worker to
    /// finish its shards (a barrier, so the two are told apart).
    private(set) var seconds = 0.0, waitSeconds = 0.0

    init(shards: Int, parameterCount: Int, workers: Workers) {
        self.workers = workers
        self.parameterCount = parameterCount
        let plan = ShardPlan(shards: shards, workers: workers.size)
        self.plan = plan
        tree = GradientTree(shards: shards, parameterCount: parameterCount)
        let mine = plan.nodes(of: workers.rank)
        self.mine = mine
        nodeCounts = (0..<workers.size).map { plan.nodes(of: $0).count }
        let frontier = (0..<workers.size).flatMap { plan.nodes(of: $0) }
        self.frontier = frontier
        let slices = (0..<workers.size).map { plan.parameters(of: $0, count: parameterCount) }
        self.slices = slices
        nodes = Tensor(shape: [max(mine.count, 1) * parameterCount])
        packed = mine.count > 1 ? Tensor(shape: [mine.count * parameterCount]) : nil
        received = Tensor(shape: [max(frontier.count * slices[workers.rank].count, 1)])
    }

    /// Runs `leaf(shard, into)` for this worker's shards in order (it must write
    /// the shard's gradient into `into`) and leaves the tree sum of all
    /// workers' shard gradients in `result` on every worker. Returns the tree
    /// sum of the losses and the metrics combined in shard order.
    func reduce(into result: Tensor, parallel: Parallel, leaf: (Int, Tensor) -> ShardResult) -> (loss: Float, metrics: [Metric]) {
        let p = parameterCount, me = workers.rank
        // 1. This worker's nodes.
        var nodeLosses: [Float] = []
        var shardMetrics: [[Metric]] = []
        for (k, node) in mine.enumerated() {
            let into = Tensor(storage: nodes.storage, offset: k * p, shape: [p])
            nodeLosses.append(tree.reduce(node: node, into: into, parallel: parallel) { shard, buffer in
                let r = leaf(shard, buffer)
                shardMetrics.append(r.metrics)
                return r.loss
            })
        }
        let tw = monotonicSeconds()
        workers.barrier()
        let t0 = monotonicSeconds()
        waitSeconds = t0 - tw
        // 2. Losses and metrics to everyone; node slices to their owners.
        let all = workers.allGather(Self.encode(losses: nodeLosses, metrics: shardMetrics))
        var source = nodes.pointer
        var sendOffsets = slices.map { $0.lowerBound }
        if let packed {
            var o = 0
            for s in 0..<workers.size {
                sendOffsets[s] = o
                for k in 0..<mine.count {
                    (packed.pointer + o).update(from: nodes.pointer + k * p + slices[s].lowerBound, count: slices[s].count)
                    o += slices[s].count
                }
            }
            source = packed.pointer
        }
        let width = slices[me].count
        var receiveOffsets: [Int] = [], o = 0
        for q in 0..<workers.size { receiveOffsets.append(o); o += nodeCounts[q] * width }
        workers.allToAll(send: source, sendCounts: slices.map { mine.count * $0.count }, sendOffsets: sendOffsets,
                         receive: received.pointer, receiveCounts: nodeCounts.map { $0 * width }, receiveOffsets: receiveOffsets)
        seconds = monotonicSeconds() - t0

        // 3. The rest of the tree on this worker's slice, then everyone's slices to everyone.
        var losses: [Float] = [], metrics: [[Metric]] = []
        for bytes in all {
            let d = Self.decode(bytes)
            losses += d.losses; metrics += d.metrics
        }
        let values = frontier.indices.map { Tensor(storage: received.storage, offset: $0 * width, shape: [width]) }
        let (top, loss) = GradientTree.combine(frontier: frontier, values: values, losses: losses,
                                               shards: plan.shards, parallel: parallel)
        if width > 0 { (result.pointer + slices[me].lowerBound).update(from: values[top].pointer, count: width) }
        let t1 = monotonicSeconds()
        workers.allGatherInPlace(result.pointer, counts: slices.map(\.count), offsets: slices.map(\.lowerBound))
        seconds += monotonicSeconds() - t1
        return (loss, Metric.combine(metrics))
    }

    // MARK: - Losses and metrics as bytes (bit patterns, so nothing is rounded)

    static func encode(losses: [Float], metrics: [[Metric]]) -> [UInt8] {
        var out: [UInt8] = []
        func int(_ x: Int) { withUnsafeBytes(of: UInt64(x).littleEndian) { out += $0 } }
        int(losses.count)
        for l in losses { withUnsafeBytes(of: l.bitPattern.littleEndian) { out += $0 } }
        int(metrics.count)
        for shard in metrics {
            int(shard.count)
            for m in shard {
                let name = Array(m.name.utf8)
                int(name.count); out += name
                int(m.combine == .sum ? 0 : m.combine == .min ? 1 : 2)
                withUnsafeBytes(of: m.value.bitPattern.littleEndian) { out += $0 }
            }
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) -> (losses: [Float], metrics: [[Metric]]) {
        var at = 0
        func u64() -> UInt64 {
            var x: UInt64 = 0
            for i in 0..<8 { x |= UInt64(bytes[at + i]) << (8 * i) }
            at += 8
            return x
        }
        func u32() -> UInt32 {
            var x: UInt32 = 0
            for i in 0..<4 { x |= UInt32(bytes[at + i]) << (8 * i) }
            at += 4
            return x
        }
        var losses: [Float] = []
        for _ in 0..<Int(u64()) { losses.append(Float(bitPattern: u32())) }
        var metrics: [[Metric]] = []
        for _ in 0..<Int(u64()) {
            var shard: [Metric] = []
            for _ in 0..<Int(u64()) {
                let n = Int(u64())
                let name = String(decoding: bytes[at..<(at + n)], as: UTF8.self)
                at += n
                let c = u64()
                let value = Double(bitPattern: u64())
                shard.append(Metric(name, value, c == 0 ? .sum : c == 1 ? .min : .max))
            }
            metrics.append(shard)
        }
        return (losses, metrics)
    }
}
