import Testing
import SimplyCore
import SimplyModel

/// Gradient checkpointing (`checkpointEvery` k ≥ 1) keeps k layers'
/// activations and recomputes each segment in the backward pass: the loss,
/// logits and every gradient must have the bits of the model that keeps all
/// layers, for any k (dividing the layer count or not, above it too), on 1
/// and 2 threads, with the architecture options that add activations
/// (q/k norms, biases, a sliding window) and with LoRA adapters and dropout.
@Suite struct GradientCheckpointingTests {
    func config(layers: Int, qkNorm: Bool, window: Int) -> ModelConfig {
        var c = ModelConfig(vocabSize: 67, dModel: 32, nLayers: layers, nHeads: 4, nKVHeads: 2, dFF: 48, seqLen: 40)
        c.qkNorm = qkNorm
        c.qkvBias = qkNorm
        c.slidingWindow = window
        return c
    }

    /// Loss, logits and trained gradients as bits, after one forward and backward.
    func run(_ model: Transformer, threads: Int, dropout: Bool) -> [UInt32] {
        let batch = 2, t = model.config.seqLen, n = batch * t, v = model.config.vocabSize
        let tokens = (0..<n).map { Int32(($0 * 31 + 7) % v) }, targets = (0..<n).map { Int32(($0 * 17 + 3) % v) }
        let weights = (0..<n).map { Float(($0 % 5) + 1) / Float(3 * n) }
        let p = Parallel(threads: threads)
        model.zeroGrads()
        if dropout { model.adapters?.dropoutKey = LoRADropoutKey(seed: 5, step: 2, shard: 1) }
        let loss = model.forward(tokens: tokens, targets: targets, weights: weights, batch: batch, seqLen: t, parallel: p)
        model.backward(parallel: p)
        model.adapters?.dropoutKey = nil
        return [loss.bitPattern] + model.logits.toArray().map(\.bitPattern) + model.trainableGrads.toArray().map(\.bitPattern)
    }

    @Test(arguments: [(5, false, 0), (6, true, 0), (4, false, 9)])
    func checkpointedGradientsEqualTheFullModels(shape: (Int, Bool, Int)) {
        let c = config(layers: shape.0, qkNorm: shape.1, window: shape.2)
        let full = Transformer(config: c, maxBatch: 2)
        full.initialize(seed: 11)
        let expected = run(full, threads: 1, dropout: false)
        for every in [1, 2, 3, shape.0, shape.0 + 2] {
            for threads in [1, 2] {
                let m = Transformer(config: c, maxBatch: 2, checkpointEvery: every)
                m.initialize(seed: 11)
                let got = run(m, threads: threads, dropout: false)
                #expect(got == expected, "\(shape), every \(every) layer(s), \(threads) threads")
            }
        }
    }

    @Test func checkpointedLoRAWithDropoutEqualsTheFullModel() {
        let c = config(layers: 5, qkNorm: false, window: 0)
        let lora = LoRAConfig(rank: 4, alpha: 8, dropout: 0.2)
        func make(_ every: Int) -> Transformer {
            let m = Transformer(config: c, maxBatch: 2, lora: lora, checkpointEvery: every)
            m.initialize(seed: 4)
            // B off zero, so every adapter shapes the loss.
            if let a = m.adapters {
                let stream = RandomStream(seed: 9, name: "test")
                for e in a.entries where e.name.hasSuffix("lora_B.weight") {
                    for i in 0..<e.count { a.params.pointer[e.offset + i] = 0.2 * stream.normal(UInt64(e.offset), UInt64(i)) }
                }
            }
            return m
        }
        let expected = run(make(0), threads: 1, dropout: true)
        for every in [1, 2] {
            #expect(run(make(every), threads: 2, dropout: true) == expected, "LoRA, every \(every)")
        }
    }
}
