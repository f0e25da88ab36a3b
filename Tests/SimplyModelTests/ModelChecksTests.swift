import Testing
import SimplyCore
import SimplyModel

/// Checks that need no PyTorch: finite differences, layout, validation, accumulation.
@Suite struct ModelChecksTests {
    /// Finite differences on the tied-embedding model: an embedding row used
    /// both as an input token and as an output class, a row used only by the
    /// head, and (through the whole stack) a norm weight and a q_proj weight.
    /// Central differences at h and h/2 combined by Richardson extrapolation
    /// (error O(h⁴)); float32 rounding of a loss ≈ 83 leaves ~1e-3 absolute noise.
    /// Measured: ≤ 5e-4 relative.
    @Test func tiedEmbeddingGradientMatchesFiniteDifferences() throws {
        let ref = try Reference("reference_tied.safetensors")
        let m = try ref.model()
        let t = ref.config.seqLen, v = ref.config.vocabSize, d = ref.config.dModel
        func loss() -> Double {
            Double(m.forward(tokens: ref.tokens, targets: ref.targets, weights: ref.weights,
                             batch: ref.batch, seqLen: t, parallel: .serial))
        }
        m.zeroGrads()
        _ = loss()
        m.backward(parallel: .serial)

        func numeric(_ p: Tensor, _ i: Int) -> Double {
            let saved = p.pointer[i]
            func central(_ h: Float) -> Double {
                p.pointer[i] = saved + h; let up = loss()
                p.pointer[i] = saved - h; let down = loss()
                p.pointer[i] = saved
                return (up - down) / (Double(saved + h) - Double(saved - h))
            }
            return (4 * central(5e-3) - central(1e-2)) / 3
        }
        func check(_ name: String, _ i: Int) {
            let g = Double(m.gradient(name).pointer[i]), fd = numeric(m.parameter(name), i)
            let err = abs(fd - g) / abs(g)
            print("tied FD \(name)[\(i)]: analytic \(g) numeric \(fd) rel \(err)")
            #expect(abs(g) > 0.05, "pick an entry with a sizeable gradient")
            #expect(err < 2e-3, "\(name)[\(i)]: analytic \(g) vs numeric \(fd)")
        }
        func largest(_ name: String, in range: Range<Int>) -> Int {
            let g = m.gradient(name)
            return range.max { abs(g.pointer[$0]) < abs(g.pointer[$1]) }!
        }
        let used = Set(ref.tokens.map(Int.init))
        let inputRow = Int(ref.tokens[0])
        let headOnlyRow = (0..<v).first { !used.contains($0) }!
        for row in [inputRow, headOnlyRow] {
            check("model.embed_tokens.weight", largest("model.embed_tokens.weight", in: (row * d)..<((row + 1) * d)))
        }
        for name in ["model.norm.weight", "model.layers.0.self_attn.q_proj.weight"] {
            check(name, largest(name, in: 0..<m.gradient(name).count))
        }
    }

    /// backward adds into grads: a second backward doubles them. Not bit for
    /// bit — an accumulating matrix product starts its FMA chain from the old
    /// value, fma(a, b, g) — but to float32 rounding.
    @Test func backwardAccumulates() throws {
        let ref = try Reference("reference_untied.safetensors")
        let m = try ref.model()
        m.zeroGrads()
        _ = m.forward(tokens: ref.tokens, targets: ref.targets, weights: ref.weights,
                      batch: ref.batch, seqLen: ref.config.seqLen, parallel: .serial)
        m.backward(parallel: .serial)
        let once = m.grads.toArray()
        m.backward(parallel: .serial)
        let twice = m.grads.toArray()
        let scale = once.map(abs).max()!
        let worst = zip(twice, once).map { abs(Double($0) - 2 * Double($1)) }.max()!
        #expect(scale > 0)
        #expect(worst <= 1e-5 * Double(scale), "worst |twice − 2·once| = \(worst)")
    }

    /// Running a smaller batch than maxBatch on a model that earlier ran a full
    /// one gives the same bits as a fresh model: no state leaks between calls.
    @Test func smallerBatchAfterLargerIsClean() throws {
        let ref = try Reference("reference_untied.safetensors")
        let t = ref.config.seqLen
        let a = try ref.model(), b = try ref.model()
        a.zeroGrads(); b.zeroGrads()
        _ = a.forward(tokens: ref.tokens, targets: ref.targets, weights: ref.weights, batch: 2, seqLen: t, parallel: .serial)
        a.backward(parallel: .serial)
        a.zeroGrads()
        let tk = Array(ref.tokens[t..<(2 * t)]), tg = Array(ref.targets[t..<(2 * t)]), w = Array(ref.weights[t..<(2 * t)])
        let la = a.forward(tokens: tk, targets: tg, weights: w, batch: 1, seqLen: t, parallel: Parallel(threads: 2))
        a.backward(parallel: Parallel(threads: 2))
        let lb = b.forward(tokens: tk, targets: tg, weights: w, batch: 1, seqLen: t, parallel: .serial)
        b.backward(parallel: .serial)
        #expect(la.bitPattern == lb.bitPattern)
        #expect(a.grads.bitwiseEqual(b.grads))
        #expect(a.logits.shape == [1, t, ref.config.vocabSize])
        #expect(a.logits.bitwiseEqual(b.logits))
    }

    @Test func layoutFollowsHuggingFaceNamesAndOrder() {
        let c = ModelConfig(vocabSize: 10, dModel: 8, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 12, seqLen: 4,
                            tieEmbeddings: false)
        let layout = ParameterLayout(config: c)
        let names = layout.entries.map(\.name)
        #expect(names.count == 1 + 2 * 9 + 2)
        #expect(names.first == "model.embed_tokens.weight")
        #expect(Array(names[1...9]) == ["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                        "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
                                        "mlp.down_proj"].map { "model.layers.0.\($0).weight" })
        #expect(Array(names.suffix(2)) == ["model.norm.weight", "lm_head.weight"])
        let e = Dictionary(uniqueKeysWithValues: layout.entries.map { ($0.name, $0) })
        #expect(e["model.layers.1.self_attn.k_proj.weight"]!.shape == [4, 8])   // nKV · hd = 2 · 2
        #expect(e["model.layers.1.self_attn.o_proj.weight"]!.shape == [8, 8])
        #expect(e["model.layers.1.mlp.down_proj.weight"]!.shape == [8, 12])
        #expect(e["lm_head.weight"]!.shape == [10, 8])
        #expect(e["model.norm.weight"]!.decay == false && e["lm_head.weight"]!.decay == true)
        // Entries are contiguous and cover the buffer.
        var offset = 0
        for entry in layout.entries {
            #expect(entry.offset == offset && entry.count == entry.shape.reduce(1, *))
            offset += entry.count
        }
        #expect(layout.count == offset)
        var tied = c
        tied.tieEmbeddings = true
        #expect(ParameterLayout(config: tied).entries.last?.name == "model.norm.weight")
        #expect(ParameterLayout(config: tied).count == layout.count - 10 * 8)
    }

    @Test func validationNamesTheKey() {
        let good = ModelConfig(vocabSize: 10, dModel: 8, nLayers: 1, nHeads: 2, nKVHeads: 1, dFF: 12, seqLen: 4)
        #expect(throws: Never.self) { try good.validate() }
        func message(_ change: (inout ModelConfig) -> Void) -> String {
            var c = good
            change(&c)
            do { try c.validate(); return "no error" } catch { return "\(error)" }
        }
        #expect(message { $0.nHeads = 3 }.contains("model.n_heads"))
        #expect(message { $0.nKVHeads = 3 }.contains("model.n_kv_heads"))
        #expect(message { $0.dModel = 6; $0.nHeads = 2 }.contains("rotary"))    // hd = 3 is odd
        #expect(message { $0.vocabSize = 0 }.contains("model.vocab_size"))
        #expect(message { $0.seqLen = 0 }.contains("model.seq_len"))
        #expect(message { $0.normEps = 0 }.contains("model.norm_eps"))
        #expect(message { $0.ropeTheta = -1 }.contains("model.rope_theta"))
    }
}
