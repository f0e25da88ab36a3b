import Testing
import SimplyCore
import SimplyModel

/// `addsGradients`: the second shard's backward adds its gradient into the
/// first's, region by region. The result must be the gradient tree's
/// g₀ + g₁ (each computed alone, then added per element) bit for bit, tied
/// and untied heads, with checkpointing too, on 1 and 2 threads.
@Suite struct AddingGradientsTests {
    func shardInputs(_ shard: Int, _ c: ModelConfig, rows: Int) -> ([Int32], [Int32], [Float]) {
        let n = rows * c.seqLen, v = c.vocabSize
        let tokens = (0..<n).map { Int32(($0 * 31 + 7 * shard + 3) % v) }
        let targets = (0..<n).map { Int32(($0 * 17 + 11 * shard + 5) % v) }
        return (tokens, targets, (0..<n).map { Float(($0 + shard) % 4 + 1) / Float(5 * n) })
    }

    func gradient(_ m: Transformer, shard: Int, threads: Int) -> Float {
        let (t, g, w) = shardInputs(shard, m.config, rows: 2)
        let p = Parallel(threads: threads)
        let loss = m.forward(tokens: t, targets: g, weights: w, batch: 2, seqLen: m.config.seqLen, parallel: p, keepLogits: false)
        m.backward(parallel: p)
        return loss
    }

    @Test(arguments: [(true, 0), (false, 0), (true, 2)])
    func addedShardEqualsTheTreeSum(shape: (Bool, Int)) {
        var c = ModelConfig(vocabSize: 61, dModel: 32, nLayers: 3, nHeads: 4, nKVHeads: 2, dFF: 40, seqLen: 24,
                            tieEmbeddings: shape.0)
        c.qkvBias = true
        // The tree: each shard alone, then x + y per element.
        let m = Transformer(config: c, maxBatch: 2)
        m.initialize(seed: 21)
        m.zeroGrads()
        _ = gradient(m, shard: 0, threads: 1)
        let g0 = m.grads.toArray()
        m.zeroGrads()
        _ = gradient(m, shard: 1, threads: 1)
        let g1 = m.grads.toArray()
        let expected = zip(g0, g1).map { ($0 + $1).bitPattern }
        #expect(g0 != g1 && expected != g0.map(\.bitPattern))
        for threads in [1, 2] {
            let a = Transformer(config: c, maxBatch: 2, checkpointEvery: shape.1)
            a.initialize(seed: 21)
            a.zeroGrads()
            _ = gradient(a, shard: 0, threads: threads)
            a.addsGradients = true
            _ = gradient(a, shard: 1, threads: threads)
            a.addsGradients = false
            #expect(a.grads.toArray().map(\.bitPattern) == expected, "\(shape), \(threads) threads")
        }
    }
}
