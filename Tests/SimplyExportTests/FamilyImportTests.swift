import Foundation
import Testing
import SimplyCore
import SimplyExport
import SimplyModel
import SimplyData

/// The Llama-family architectures people fine-tune, as transformers writes
/// them (golden/hf/families, by tools/interop/family_fixtures.py): Llama 3
/// (llama3 rope scaling, head_dim given, tied), Qwen2 (q/k/v biases), Qwen3
/// (q/k norms, head_dim ≠ hidden / heads), Mistral (sliding window 32 on 48
/// tokens, untied) and SmolLM2 (plain Llama).
@Suite struct FamilyImportTests {
    static let families = ["llama3", "qwen2", "qwen3", "mistral", "smollm2"]
    static let root = repositoryRoot.appendingPathComponent("golden/hf/families")

    /// The imported model and the fixture's probe ids and logits.
    static func load(_ family: String, maxBatch: Int = 1) throws -> (Transformer, [Int32], Tensor) {
        let dir = root.appendingPathComponent(family)
        let (config, _) = try HFConfig.parse(try readJSON(dir.appendingPathComponent("config.json")), file: "config.json")
        var notes: [String] = []
        let params = try HFImport.weights(dir, config: config, notes: &notes)
        let model = Transformer(config: config, maxBatch: maxBatch)
        model.params.copy(from: params)
        let ref = try SafetensorsFile.read(dir.appendingPathComponent("expected-logits.safetensors"))
        return (model, try ref.int32s("ids"), try ref.tensor("logits"))
    }

    @Test func configsParseToTheirArchitecture() throws {
        let expected: [String: (family: String, bias: Bool, qkNorm: Bool, headDim: Int, rope: String, window: Int, tied: Bool)] = [
            "llama3": ("llama", false, false, 32, "llama3", 0, true),
            "qwen2": ("qwen2", true, false, 16, "none", 0, true),
            "qwen3": ("qwen3", false, true, 32, "none", 0, true),
            "mistral": ("mistral", false, false, 16, "none", 32, false),
            "smollm2": ("llama", false, false, 16, "none", 0, true),
        ]
        for family in Self.families {
            let json = try readJSON(Self.root.appendingPathComponent(family).appendingPathComponent("config.json"))
            let (c, arch) = try HFConfig.parse(json, file: "config.json")
            let e = try #require(expected[family])
            #expect(c.family == e.family && arch.family == e.family && !arch.scoreHead, "\(family)")
            #expect(c.qkvBias == e.bias && c.qkNorm == e.qkNorm && c.headDim == e.headDim, "\(family)")
            #expect(c.ropeScaling.type == e.rope && c.slidingWindow == e.window && c.tieEmbeddings == e.tied, "\(family)")
            #expect(json["architectures"] == .array([.string(arch.rawValue)]))
            // Simply's config.json for it parses back to the same model.
            let back = try HFConfig.parse(try HFConfig.json(c, tokens: HFTokenIds(bos: 0, eos: 1, pad: 2)), file: "export")
            #expect(back.0 == c, "\(family)")
        }
        let llama3 = try HFConfig.parse(try readJSON(Self.root.appendingPathComponent("llama3/config.json")), file: "config.json").0
        #expect(llama3.ropeScaling.factor == 8 && llama3.ropeScaling.lowFreqFactor == 1
                && llama3.ropeScaling.highFreqFactor == 4 && llama3.ropeScaling.originalMaxPosition == 64)
    }

    /// Simply's logits on the probe ids are within 1e-4 of transformers', on
    /// 1 and 2 threads, with the same bits on both.
    @Test(arguments: families) func logitsMatchTransformers(family: String) throws {
        let (model, ids, expected) = try Self.load(family)
        var first: [Float]? = nil
        for threads in [1, 2] {
            let o = ModelOutputs(model: model, tokens: ids, batch: 1, seqLen: ids.count,
                                 parallel: Parallel(threads: threads, deterministic: true))
            #expect(o.logits.count == expected.count)
            #expect(o.logits.toArray().allSatisfy { $0.isFinite }, "\(family): logits not finite")
            var worst: Float = 0
            for i in 0..<expected.count { worst = max(worst, abs(o.logits[i] - expected[i])) }
            #expect(worst < 1e-4, "\(family): max |logit diff| \(worst)")
            let bits = o.logits.toArray()
            if let first { #expect(first.map(\.bitPattern) == bits.map(\.bitPattern), "\(family): threads change bits") }
            first = bits
        }
    }

    /// The KV-cache path (sampling) gives the full forward's bits for every
    /// family's options: biases, q/k norms, the sliding window past its width.
    @Test(arguments: families) func cachedForwardHasTheFullForwardsBits(family: String) throws {
        let (model, ids, _) = try Self.load(family)
        let parallel = Parallel(threads: 2, deterministic: true)
        let o = ModelOutputs(model: model, tokens: ids, batch: 1, seqLen: ids.count, parallel: parallel)
        let cache = KVCache(config: model.config, slots: 1, tokensPerForward: ids.count)
        var cached: [Float] = []
        // A prompt of 20 tokens, then one token at a time (past Mistral's window of 32).
        let prompt = model.forward(cache: cache, segments: [(slot: 0, tokens: Array(ids[0..<20]))], allLogits: true, parallel: parallel)
        cached += prompt.toArray()
        for i in 20..<ids.count {
            cached += model.forward(cache: cache, segments: [(slot: 0, tokens: [ids[i]])], parallel: parallel).toArray()
        }
        #expect(cached.map(\.bitPattern) == o.logits.toArray().map(\.bitPattern), "\(family)")
    }

    /// Simply's float32 backward of transformers' loss (the mean next-token
    /// CE) against transformers' float64 autograd
    /// (tools/reference/family_gradients.py): every 1-D parameter (norms,
    /// q/k/v biases, q/k norms) and layer 0's attention matrices.
    @Test(arguments: families) func gradientsMatchTransformersAutograd(family: String) throws {
        let (model, ids, _) = try Self.load(family)
        let ref = try SafetensorsFile.read(Self.root.appendingPathComponent(family).appendingPathComponent("expected-gradients.safetensors"))
        #expect(try ref.int32s("ids") == ids)
        let t = ids.count
        var targets = [Int32](repeating: 0, count: t), weights = [Float](repeating: 0, count: t)
        for i in 0..<(t - 1) { targets[i] = ids[i + 1]; weights[i] = 1 / Float(t - 1) }
        let parallel = Parallel(threads: 2, deterministic: true)
        model.zeroGrads()
        let loss = model.forward(tokens: ids, targets: targets, weights: weights, batch: 1, seqLen: t, parallel: parallel)
        model.backward(parallel: parallel)
        #expect(abs(Double(loss) - (try ref.doubles("loss"))[0]) < 1e-4, "\(family): loss \(loss)")
        let names = ref.names.filter { $0.hasPrefix("grad.") }.sorted()
        #expect(names.count >= 9)
        for name in names {
            let param = String(name.dropFirst(5))
            let expected = try ref.doubles(name), got = model.gradient(param).toArray()
            #expect(got.allSatisfy { $0.isFinite }, "\(family) \(param): not finite")
            #expect(got.count == expected.count, "\(family) \(param)")
            let scale = expected.map(abs).max() ?? 0
            var worst = 0.0
            for (g, e) in zip(got, expected) { worst = max(worst, abs(Double(g) - e)) }
            #expect(scale > 0 && worst <= 1e-4 * scale + 1e-7, "\(family) \(param): max |diff| \(worst), max |grad| \(scale)")
        }
    }

    /// import → export → import: the exported safetensors hold exactly the
    /// fixture's tensors, bit for bit, its config.json describes the same
    /// model, and the second import has the first one's parameters.
    @Test(arguments: families) func importExportImportIsBitExact(family: String) throws {
        let dir = try scratchDirectory("family-\(family)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = Self.root.appendingPathComponent(family)
        let run = dir.appendingPathComponent("run"), exported = dir.appendingPathComponent("hf"), again = dir.appendingPathComponent("again")
        let first = try HFImport.importModel(from: source, to: run, options: .init(tokenizer: "byte"))
        #expect(first.architecture.family == (try readJSON(source.appendingPathComponent("config.json")))["model_type"]?.stringValue)
        let summary = try HFExport.export(from: run, to: exported)
        #expect(summary.architecture == first.architecture)
        let original = try SafetensorsFile.read(source.appendingPathComponent("model.safetensors"))
        let written = try SafetensorsFile.read(exported.appendingPathComponent("model.safetensors"))
        #expect(written.names.sorted() == original.names.sorted(), "\(family): tensor names")
        for name in original.names {
            #expect(try written.tensor(name).toArray().map(\.bitPattern) == original.tensor(name).toArray().map(\.bitPattern), "\(family) \(name)")
        }
        let (a, _) = try HFConfig.parse(try readJSON(source.appendingPathComponent("config.json")), file: "source")
        let (b, _) = try HFConfig.parse(try readJSON(exported.appendingPathComponent("config.json")), file: "exported")
        #expect(a == b, "\(family): config.json")
        try HFImport.importModel(from: exported, to: again)
        let p1 = try parameters(run), p2 = try parameters(again)
        #expect(p1.keys.sorted() == p2.keys.sorted())
        for (name, t) in p1 { #expect(p2[name]?.toArray().map(\.bitPattern) == t.toArray().map(\.bitPattern), "\(family) \(name)") }
    }

    /// With its own tokenizer: the import copies the tokenizer files byte for
    /// byte into RUN/tokenizer/, the export writes them back unchanged, and a
    /// second import has the same tokenizer (name) and chat template.
    @Test(arguments: families) func tokenizerFilesTravelByteForByte(family: String) throws {
        let dir = try scratchDirectory("family-tok-\(family)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = Self.root.appendingPathComponent(family)
        let run = dir.appendingPathComponent("run"), exported = dir.appendingPathComponent("hf"), again = dir.appendingPathComponent("again")
        let first = try HFImport.importModel(from: source, to: run)
        #expect(first.config.data.tokenizer == run.appendingPathComponent("tokenizer").standardizedFileURL.path)
        try HFExport.export(from: run, to: exported)
        for name in ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"] {
            let original = try Data(contentsOf: source.appendingPathComponent(name))
            #expect(try Data(contentsOf: run.appendingPathComponent("tokenizer").appendingPathComponent(name)) == original, "\(family) \(name) in the run")
            #expect(try Data(contentsOf: exported.appendingPathComponent(name)) == original, "\(family) \(name) exported")
        }
        let second = try HFImport.importModel(from: exported, to: again)
        let t1 = try TokenizerLoader.load(first.config.data.tokenizer), t2 = try TokenizerLoader.load(second.config.data.tokenizer)
        #expect(t1.name == t2.name && t1.name.hasPrefix("hf-"), "\(family)")
        #expect(t1.chatTemplate != nil && t2.chatTemplate != nil, "\(family)")
        #expect(try parameters(again).count == (try parameters(run)).count)
    }

    /// A chat template that does not parse is refused on import, naming its
    /// file, and nothing is written.
    @Test func aBrokenChatTemplateIsRefused() throws {
        let dir = try scratchDirectory("family-badtemplate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("qwen2")
        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("qwen2"), to: copy)
        try Data("{% for m in messages %}{{ m.content }".utf8).write(to: copy.appendingPathComponent("chat_template.jinja"))
        let out = dir.appendingPathComponent("run")
        #expect { try HFImport.importModel(from: copy, to: out) } throws: { e in
            let text = "\(e)"
            return text.contains("chat_template.jinja") && !text.contains("\n")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
