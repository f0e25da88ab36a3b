import Testing
import SimplyCore
import SimplyRun
import SimplyTrain

@Suite struct GradientTreeTests {
    /// The tree sum, written out recursively: what GradientTree must compute.
    func treeSum(_ leaves: [[Float]], _ lo: Int, _ hi: Int) -> [Float] {
        if hi - lo == 1 { return leaves[lo] }
        let mid = lo + (hi - lo + 1) / 2
        let a = treeSum(leaves, lo, mid), b = treeSum(leaves, mid, hi)
        return zip(a, b).map { $0 + $1 }
    }

    /// Nodes of the tree with exactly two leaves.
    func expectedPairs(_ lo: Int, _ hi: Int) -> Int {
        if hi - lo == 1 { return 0 }
        if hi - lo == 2 { return 1 }
        let mid = lo + (hi - lo + 1) / 2
        return expectedPairs(lo, mid) + expectedPairs(mid, hi)
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 13])
    func matchesRecursiveDefinition(shards: Int) {
        let n = 1000
        let s = RandomStream(seed: 9, name: "tree")
        // Mixed magnitudes, so a different association would change bits.
        var leaves: [[Float]] = []
        for j in 0..<shards {
            var leaf = [Float](repeating: 0, count: n)
            for i in 0..<n {
                let scale = Float(1 << ((i + j) % 20))
                leaf[i] = s.normal(UInt64(j), UInt64(i)) * scale
            }
            leaves.append(leaf)
        }
        let expected = treeSum(leaves, 0, shards)
        for threads in [1, 2, 3] {
            let tree = GradientTree(shards: shards, parameterCount: n)
            let result = Tensor(shape: [n])
            var order: [Int] = []
            let loss = tree.reduce(into: result, parallel: Parallel(threads: threads)) { j, into in
                order.append(j)
                into.copy(from: leaves[j])
                return Float(j + 1)
            }
            #expect(order == Array(0..<shards))
            #expect(result.toArray().map { $0.bitPattern } == expected.map { $0.bitPattern })
            #expect(loss == treeSum((0..<shards).map { [Float($0 + 1)] }, 0, shards)[0])
        }
        // Handed out in pairs: only siblings come together, each shard once, in
        // order; writing a pair's second leaf first (as a second thread may) keeps the bits.
        let tree = GradientTree(shards: shards, parameterCount: n)
        let result = Tensor(shape: [n])
        var calls: [[Int]] = []
        let loss = tree.reduce(into: result, parallel: Parallel(threads: 2)) { (jobs: [GradientTree.Leaf]) -> [Float] in
            calls.append(jobs.map(\.shard))
            if jobs.count == 2 { #expect(jobs[0].into.storage !== jobs[1].into.storage) }
            for job in jobs.reversed() { job.into.copy(from: leaves[job.shard]) }
            return jobs.map { Float($0.shard + 1) }
        }
        #expect(calls.flatMap { $0 } == Array(0..<shards))
        for c in calls where c.count == 2 {
            // Siblings: some node of the tree splits into exactly these two leaves.
            #expect(c[1] == c[0] + 1)
        }
        #expect(calls.filter { $0.count == 2 }.count == expectedPairs(0, shards))
        #expect(result.toArray().map { $0.bitPattern } == expected.map { $0.bitPattern })
        #expect(loss == treeSum((0..<shards).map { [Float($0 + 1)] }, 0, shards)[0])
        // A first buffer given by the caller is the one node buffer two shards use.
        let given = Tensor(shape: [n])
        let withGiven = GradientTree(shards: shards, parameterCount: n, firstBuffer: given)
        var outputs: [Int: Storage] = [:]
        _ = withGiven.reduce(into: result, parallel: .serial) { (jobs: [GradientTree.Leaf]) -> [Float] in
            for job in jobs { outputs[job.shard] = job.into.storage; job.into.copy(from: leaves[job.shard]) }
            return jobs.map { _ in 0 }
        }
        #expect(result.toArray().map { $0.bitPattern } == expected.map { $0.bitPattern })
        if shards == 2 { #expect(outputs[0] === given.storage && outputs[1] === result.storage) }
        if shards >= 4 {
            // A left-to-right sum differs somewhere: the test can tell the tree from a chain.
            var chain = leaves[0]
            for j in 1..<shards { for i in 0..<n { chain[i] += leaves[j][i] } }
            #expect(chain.map { $0.bitPattern } != expected.map { $0.bitPattern })
        }
    }
}
