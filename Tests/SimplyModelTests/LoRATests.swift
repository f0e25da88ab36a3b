import Foundation
import Testing
import SimplyCore
import SimplyModel

/// LoRA adapters against PEFT (tools/reference/lora_reference.py, float64):
/// the qwen3 and mistral family fixtures with rank-4 adapters on all seven
/// linear layers. Logits within 1e-4, adapter gradients within 1e-4
/// (relative) of PEFT's autograd; the frozen base gets no gradient.
@Suite struct LoRATests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("golden")

    /// The family model from its HF files (config.json fields read directly: this suite has no SimplyExport).
    static func model(_ family: String, reference: SafetensorsFile, tokens t: Int) throws -> (Transformer, LoRAAdapters) {
        let dir = root.appendingPathComponent("hf/families/\(family)")
        let json = try JSONValue.parse(String(decoding: try Data(contentsOf: dir.appendingPathComponent("config.json")), as: UTF8.self))
        func int(_ k: String) -> Int { json[k]?.intValue ?? 0 }
        var c = ModelConfig(vocabSize: int("vocab_size"), dModel: int("hidden_size"), nLayers: int("num_hidden_layers"),
                            nHeads: int("num_attention_heads"), nKVHeads: int("num_key_value_heads"), dFF: int("intermediate_size"),
                            seqLen: t, tieEmbeddings: json["tie_word_embeddings"]?.boolValue ?? false,
                            ropeTheta: json["rope_parameters"]?["rope_theta"]?.doubleValue ?? 10000,
                            normEps: Float(json["rms_norm_eps"]?.doubleValue ?? 1e-6))
        c.headDimension = int("head_dim") * c.nHeads == c.dModel ? 0 : int("head_dim")
        c.qkNorm = family == "qwen3"
        c.slidingWindow = json["sliding_window"]?.intValue ?? 0
        let model = Transformer(config: c, maxBatch: 1)
        let weights = try SafetensorsFile.read(dir.appendingPathComponent("model.safetensors"))
        for e in model.layout.entries {
            let name = weights.names.contains(e.name) ? e.name : "model.embed_tokens.weight"
            model.parameter(e.name).copy(from: try weights.tensor(name))
        }
        let lora = LoRAAdapters(model: c, config: LoRAConfig(rank: 4, alpha: 8), maxRows: t)
        for e in lora.entries {
            let values = try reference.tensor(e.name).toArray()
            #expect(values.count == e.count, "\(e.name)")
            Tensor(storage: lora.params.storage, offset: lora.params.offset + e.offset, shape: e.shape).copy(from: values)
        }
        model.attach(lora)
        return (model, lora)
    }

    @Test(arguments: ["qwen3", "mistral"]) func matchesPEFT(family: String) throws {
        let ref = try SafetensorsFile.read(Self.root.appendingPathComponent("lora/\(family).safetensors"))
        let ids = try ref.int32s("ids"), t = ids.count
        let (model, lora) = try Self.model(family, reference: ref, tokens: t)
        #expect(lora.entries.count == 2 * 7 * model.config.nLayers)
        var targets = [Int32](repeating: 0, count: t), weights = [Float](repeating: 0, count: t)
        for i in 0..<(t - 1) { targets[i] = ids[i + 1]; weights[i] = 1 / Float(t - 1) }
        var first: [UInt32]? = nil
        for threads in [1, 2] {
            let parallel = Parallel(threads: threads, deterministic: true)
            model.zeroGrads(); lora.zeroGrads()
            let loss = model.forward(tokens: ids, targets: targets, weights: weights, batch: 1, seqLen: t, parallel: parallel)
            model.backward(parallel: parallel)
            #expect(abs(Double(loss) - (try ref.doubles("loss"))[0]) < 1e-4, "\(family): loss \(loss)")
            let expected = try ref.tensor("logits")
            #expect(model.logits.toArray().allSatisfy { $0.isFinite }, "\(family): logits not finite")
            #expect(lora.grads.toArray().allSatisfy { $0.isFinite }, "\(family): adapter gradients not finite")
            var worst: Float = 0
            for i in 0..<expected.count { worst = max(worst, abs(model.logits[i] - expected[i])) }
            #expect(worst < 1e-4, "\(family): max |logit diff| \(worst)")
            for e in lora.entries {
                let want = try ref.doubles("grad." + e.name)
                let got = (0..<e.count).map { lora.grads.pointer[e.offset + $0] }
                let scale = want.map(abs).max() ?? 0
                var diff = 0.0
                for (g, w) in zip(got, want) { diff = max(diff, abs(Double(g) - w)) }
                #expect(scale > 0 && diff <= 1e-4 * scale + 1e-7, "\(family) \(e.name): max |diff| \(diff), max |grad| \(scale)")
            }
            // The frozen base: no gradient for its matrices or embeddings.
            for e in model.layout.entries where e.shape.count == 2 {
                let g = model.gradient(e.name)
                #expect((0..<g.count).allSatisfy { g.pointer[$0] == 0 }, "\(family) \(e.name) has a gradient")
            }
            let bits = (0..<lora.grads.count).map { lora.grads.pointer[$0].bitPattern }
            if let first { #expect(bits == first, "\(family): threads change the adapter gradients") }
            first = bits
        }
    }

    /// PEFT's initialisation: B = 0, so an attached adapter leaves the model's
    /// logits bit for bit; A is U(−1/√in, 1/√in) from its own stream.
    @Test func freshAdaptersStartAsTheBase() throws {
        let c = ModelConfig(vocabSize: 97, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 48, seqLen: 16)
        let model = Transformer(config: c, maxBatch: 2)
        model.initialize(seed: 5)
        let tokens = (0..<32).map { Int32($0 * 7 % 97) }, weights = [Float](repeating: 1, count: 32)
        _ = model.forward(tokens: tokens, targets: tokens, weights: weights, batch: 2, seqLen: 16, parallel: .serial)
        let base = model.logits.toArray().map(\.bitPattern)
        let lora = LoRAAdapters(model: c, config: LoRAConfig(rank: 8, alpha: 16), maxRows: 32)
        lora.initialize(seed: 5)
        model.attach(lora)
        _ = model.forward(tokens: tokens, targets: tokens, weights: weights, batch: 2, seqLen: 16, parallel: .serial)
        #expect(model.logits.toArray().map(\.bitPattern) == base)
        for e in lora.entries {
            let v = (0..<e.count).map { lora.params.pointer[e.offset + $0] }
            if e.name.hasSuffix("lora_B.weight") {
                #expect(v.allSatisfy { $0 == 0 }, "\(e.name)")
            } else {
                let bound = 1 / Float(e.shape[1]).squareRoot()
                #expect(v.allSatisfy { abs($0) <= bound } && Set(v).count > e.count / 2, "\(e.name)")
            }
        }
    }

    /// Switched off, the adapters leave the base's logits bit for bit (the
    /// reference of DPO, GRPO and PPO without a second model); the KV-cache
    /// path gives the full forward's bits with them on; the merged weights
    /// W + s·B·A give the adapted model's logits.
    @Test func offCachedAndMerged() throws {
        let ref = try SafetensorsFile.read(Self.root.appendingPathComponent("lora/qwen3.safetensors"))
        let ids = try ref.int32s("ids"), t = ids.count
        let (model, lora) = try Self.model("qwen3", reference: ref, tokens: t)
        let parallel = Parallel(threads: 2, deterministic: true)
        let zeros = [Float](repeating: 0, count: t)
        _ = model.forward(tokens: ids, targets: ids, weights: zeros, batch: 1, seqLen: t, parallel: parallel)
        let adapted = model.logits.toArray()
        lora.enabled = false
        _ = model.forward(tokens: ids, targets: ids, weights: zeros, batch: 1, seqLen: t, parallel: parallel)
        let off = model.logits.toArray()
        lora.enabled = true
        let base = Transformer(config: model.config, maxBatch: 1)
        base.params.copy(from: model.params)
        _ = base.forward(tokens: ids, targets: ids, weights: zeros, batch: 1, seqLen: t, parallel: parallel)
        #expect(off.map(\.bitPattern) == base.logits.toArray().map(\.bitPattern))
        #expect(off != adapted)

        let cache = KVCache(config: model.config, slots: 1, tokensPerForward: t)
        var cached = model.forward(cache: cache, segments: [(slot: 0, tokens: Array(ids[0..<10]))], allLogits: true, parallel: parallel).toArray()
        for i in 10..<t { cached += model.forward(cache: cache, segments: [(slot: 0, tokens: [ids[i]])], parallel: parallel).toArray() }
        #expect(cached.map(\.bitPattern) == adapted.map(\.bitPattern))

        let merged = Transformer(config: model.config, maxBatch: 1)
        merged.params.copy(from: model.params)
        for l in 0..<model.config.nLayers {
            for target in LoRATarget.allCases {
                let name = "model.layers.\(l).\(target.module).weight"
                merged.parameter(name).copy(from: lora.merged(model.parameter(name), layer: l, target))
            }
        }
        _ = merged.forward(tokens: ids, targets: ids, weights: zeros, batch: 1, seqLen: t, parallel: parallel)
        let m = merged.logits.toArray()
        #expect(m.allSatisfy { $0.isFinite })
        #expect(zip(m, adapted).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    /// Dropout on the adapters' inputs (lora.dropout): forward and backward
    /// use the same mask, drawn again from (seed, step, shard, forward,
    /// adapter, element) — so the gradient is the derivative of the dropped
    /// forward: a central difference along the gradient matches it. The mask
    /// is the same on 1 and 2 threads, changes with the shard, and a frozen
    /// base (`init(config:maxBatch:lora:)`) gets the same adapter gradients
    /// as a full model with the adapters attached.
    @Test func dropoutGradientIsTheDroppedForwardsDerivative() throws {
        let c = ModelConfig(vocabSize: 61, dModel: 24, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 40, seqLen: 12)
        let config = LoRAConfig(rank: 4, alpha: 8, dropout: 0.3)
        let model = Transformer(config: c, maxBatch: 2, lora: config)
        model.initialize(seed: 3)
        guard let lora = model.adapters else { Issue.record("no adapters"); return }
        #expect(model.grads.count == 0, "a frozen base allocates no gradient")
        // B off zero, so every adapter shapes the loss.
        let stream = RandomStream(seed: 9, name: "test")
        for e in lora.entries where e.name.hasSuffix("lora_B.weight") {
            for i in 0..<e.count { lora.params.pointer[e.offset + i] = 0.2 * stream.normal(UInt64(e.offset), UInt64(i)) }
        }
        let tokens = (0..<24).map { Int32($0 * 13 % 61) }, targets = (0..<24).map { Int32(($0 * 13 + 5) % 61) }
        let weights = [Float](repeating: 1 / 24, count: 24)
        let key = LoRADropoutKey(seed: 1337, step: 4, shard: 1)
        func loss(_ parallel: Parallel = .serial, key k: LoRADropoutKey? = key) -> Float {
            lora.dropoutKey = k     // each forward of a shard draws its own mask: start the shard again
            return model.forward(tokens: tokens, targets: targets, weights: weights, batch: 2, seqLen: 12, parallel: parallel)
        }
        func gradient(_ parallel: Parallel, key k: LoRADropoutKey? = key) -> [Float] {
            model.zeroGrads()
            _ = loss(parallel, key: k)
            model.backward(parallel: parallel)
            return lora.grads.toArray()
        }
        let g = gradient(.serial)
        #expect(g.map(\.bitPattern) == gradient(Parallel(threads: 2, deterministic: true)).map(\.bitPattern), "threads")
        #expect(g != gradient(.serial, key: LoRADropoutKey(seed: 1337, step: 4, shard: 0)), "another shard, another mask")
        #expect(g != gradient(.serial, key: nil), "no mask outside a training shard")
        let norm = g.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        let theta = lora.params.toArray()
        func shifted(_ eps: Double) -> Double {
            for i in 0..<theta.count { lora.params.pointer[i] = theta[i] + Float(eps * Double(g[i]) / norm) }
            return Double(loss())
        }
        let eps = 1e-2
        let difference = (shifted(eps) - shifted(-eps)) / (2 * eps)
        for i in 0..<theta.count { lora.params.pointer[i] = theta[i] }
        #expect(abs(difference - norm) / norm < 2e-2, "central difference \(difference), gradient norm \(norm)")

        // A full model with the same adapters attached: the same adapter gradients, bit for bit.
        let full = Transformer(config: c, maxBatch: 2)
        full.params.copy(from: model.params)
        let attached = LoRAAdapters(model: c, config: config, maxRows: 24)
        attached.params.copy(from: lora.params)
        full.attach(attached)
        full.zeroGrads()
        attached.dropoutKey = key
        _ = full.forward(tokens: tokens, targets: targets, weights: weights, batch: 2, seqLen: 12, parallel: .serial)
        full.backward(parallel: .serial)
        #expect(attached.grads.toArray().map(\.bitPattern) == g.map(\.bitPattern))
    }

    /// Saved modules (lora.modules_to_save: norms and embeddings trained in full) start as
    /// the base's values, get the gradient the full model's norms get (with
    /// B = 0 the adapters do not change the forward), and a merged model
    /// (Checkpoints.loadWeights' rule) carries their trained values.
    @Test func savedNormsTrainLikeTheFullModels() throws {
        var c = ModelConfig(vocabSize: 61, dModel: 24, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 40, seqLen: 12)
        c.qkNorm = true
        let saved = LoRASavedModule.allCases
        let model = Transformer(config: c, maxBatch: 2, lora: LoRAConfig(rank: 4, alpha: 8, modulesToSave: saved))
        model.initialize(seed: 3)
        guard let lora = model.adapters else { Issue.record("no adapters"); return }
        #expect(lora.savedEntries.count == 1 + 4 * c.nLayers + 1 + (c.tieEmbeddings ? 0 : 1))   // norms, q/k norms, embeddings (+ an untied head)
        let full = Transformer(config: c, maxBatch: 2)
        full.initialize(seed: 3)
        // Norms away from 1, so a wrong view would show.
        for e in full.layout.entries where e.shape.count == 1 {
            for i in 0..<e.count { full.params.pointer[e.offset + i] = 1 + 0.1 * Float((i * 7 + e.offset) % 5) }
        }
        model.params.copy(from: full.params)
        model.initialize(seed: 3)       // adapters again; saved modules copied from the (same) base...
        model.params.copy(from: full.params)
        for e in lora.savedEntries { lora.parameter(e.name)!.copy(from: full.parameter(e.name)) }
        let tokens = (0..<24).map { Int32($0 * 13 % 61) }, targets = (0..<24).map { Int32(($0 * 13 + 5) % 61) }
        let weights = [Float](repeating: 1 / 24, count: 24)
        for m in [model, full] {
            m.zeroGrads()
            _ = m.forward(tokens: tokens, targets: targets, weights: weights, batch: 2, seqLen: 12, parallel: .serial)
            m.backward(parallel: .serial)
        }
        #expect(model.logits.toArray() == full.logits.toArray())
        for e in lora.savedEntries {
            let mine = lora.gradient(e.name)!.toArray(), theirs = full.gradient(e.name).toArray()
            let scale = theirs.map { abs($0) }.max() ?? 0
            let worst = zip(mine, theirs).map { abs($0 - $1) }.max() ?? 0
            #expect(scale > 0 && worst <= 1e-6 * scale, "\(e.name): \(worst) of \(scale)")
        }
        // A trained value is the model's: the saved module's view, not the base's.
        lora.parameter("model.norm.weight")!.pointer[0] = 3
        #expect(model.parameter("model.norm.weight").pointer[0] == 3)
        _ = model.forward(tokens: tokens, targets: targets, weights: weights, batch: 2, seqLen: 12, parallel: .serial)
        #expect(model.logits.toArray() != full.logits.toArray())
        // Switched off, the adapters take their saved modules with them (PEFT's disable_adapter): the base's bits.
        lora.enabled = false
        _ = model.forward(tokens: tokens, targets: targets, weights: weights, batch: 2, seqLen: 12, parallel: .serial)
        lora.enabled = true
        _ = full.forward(tokens: tokens, targets: targets, weights: weights, batch: 2, seqLen: 12, parallel: .serial)
        #expect(model.logits.toArray().map(\.bitPattern) == full.logits.toArray().map(\.bitPattern))
    }
}
