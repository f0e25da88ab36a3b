import Testing
import SimplyCore
import SimplyTrain

@Suite struct GradientTreeTests {
    /// The tree sum, written out recursively: what GradientTree must compute.
    func treeSum(_ leaves: [[Float]], _ lo: Int, _ hi: Int) -> [Float] {
        if hi - lo == 1 { return leaves[lo] }
        let mid = lo + (hi - lo + 1) / 2
        let a = treeSum(leaves, lo, mid), b = treeSum(leaves, mid, hi)
        return zip(a, b).map { $0 + $1 }
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
        if shards >= 4 {
            // A left-to-right sum differs somewhere: the test can tell the tree from a chain.
            var chain = leaves[0]
            for j in 1..<shards { for i in 0..<n { chain[i] += leaves[j][i] } }
            #expect(chain.map { $0.bitPattern } != expected.map { $0.bitPattern })
        }
    }
}
