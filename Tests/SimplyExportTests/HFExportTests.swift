import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyExport
import SimplyModel
import SimplyRun
import SimplyTrain

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func scratchDirectory(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("simply-hf-\(name)-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// A micro model trained for two steps, so no weight is at its initial value.
func trainedRun(_ dir: URL, overrides: [String] = []) throws -> ExperimentConfig {
    let config = try ExperimentConfig.resolve(experiment: "tiny", configDirectory: repositoryRoot.appendingPathComponent("configs"), overrides: [
        "model.d_model=32", "model.n_layers=2", "model.n_heads=4", "model.n_kv_heads=2", "model.d_ff=48",
        "model.seq_len=16", "model.vocab_size=259", "model.rope_theta=50000", "model.norm_eps=1e-6",
        "train.batch_size=2", "train.steps=2", "train.warmup_steps=1", "data.synthetic_bytes=20000",
    ] + overrides)
    _ = try runTraining(config: config, runDirectory: RunDirectory(dir), runtime: RuntimeOptions(threads: 2, deterministic: true),
                        log: { _ in })
    return config
}

/// Every parameter of two checkpoints, by name.
func parameters(_ path: URL) throws -> [String: Tensor] {
    try Checkpoints.read(try Checkpoints.resolve(path), expectedConfigSHA256: nil).tensors
}

func readJSON(_ url: URL) throws -> JSONValue {
    try JSONValue.parse(String(decoding: try Data(contentsOf: url), as: UTF8.self))
}

func writeJSON(_ j: JSONValue, _ url: URL) throws {
    try Data((j.pretty() + "\n").utf8).write(to: url)
}

/// `json` with `key` set to `value` (nil removes it).
func setting(_ json: JSONValue, _ key: String, _ value: JSONValue?) -> JSONValue {
    guard case var .object(pairs) = json else { return json }
    pairs.removeAll { $0.0 == key }
    if let v = value { pairs.append((key, v)) }
    return .object(pairs)
}

@Suite(.serialized) struct HFExportTests {
    /// Simply → HF → Simply gives the same bits for every weight and the same model config.
    @Test(arguments: [[], ["model.tie_embeddings=false"], ["model.score_head=true"]])
    func roundTripIsBitExact(overrides: [String]) throws {
        let dir = try scratchDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try trainedRun(dir.appendingPathComponent("run"), overrides: overrides)
        let hf = dir.appendingPathComponent("hf"), back = dir.appendingPathComponent("back")
        try HFExport.export(from: dir.appendingPathComponent("run"), to: hf)
        let s = try HFImport.importModel(from: hf, to: back)
        #expect(s.config.model == config.model)
        #expect(s.config.data.tokenizer == "byte")
        #expect(s.architecture == (config.model.scoreHead ? .sequenceClassification : .causalLM))

        let a = try parameters(dir.appendingPathComponent("run")), b = try parameters(back)
        let names = ParameterLayout(config: config.model).entries.map(\.name)
        #expect(Set(b.keys) == Set(names))   // the import holds weights only
        for n in names {
            let x = try #require(a[n]), y = try #require(b[n])
            #expect(x.shape == y.shape && x.bitwiseEqual(y), "\(n) differs after the round trip")
        }
        // The HF file holds exactly the HF names: a tied model has no lm_head.
        let st = try SafetensorsFile.read(hf.appendingPathComponent("model.safetensors"))
        #expect(st.names.sorted() == names.sorted())
        #expect(st.metadata["format"] == "pt")
        #expect(st.names.contains("lm_head.weight") == !config.model.tieEmbeddings)
    }

    @Test func configJSONHoldsEveryField() throws {
        var m = ModelConfig(vocabSize: 300, dModel: 64, nLayers: 3, nHeads: 8, nKVHeads: 2, dFF: 176, seqLen: 96,
                            tieEmbeddings: false, ropeTheta: 500000, normEps: 1e-5, initStd: 0.02)
        let j = try HFConfig.json(m, tokens: HFTokenIds(bos: 256, eos: 257, pad: 258))
        #expect(j["architectures"] == .array([.string("LlamaForCausalLM")]))
        #expect(j["model_type"] == .string("llama"))
        let ints: [(String, Int)] = [("vocab_size", 300), ("hidden_size", 64), ("num_hidden_layers", 3),
                                     ("num_attention_heads", 8), ("num_key_value_heads", 2), ("intermediate_size", 176),
                                     ("max_position_embeddings", 96), ("head_dim", 8), ("bos_token_id", 256),
                                     ("eos_token_id", 257), ("pad_token_id", 258)]
        for (k, v) in ints { #expect(j[k]?.intValue == v, "\(k)") }
        #expect(j["rope_theta"]?.doubleValue == 500000)
        #expect(j["rope_parameters"]?["rope_theta"]?.doubleValue == 500000)
        #expect(j["rms_norm_eps"] == .number("1e-05"))   // Python's float32 of it is Simply's eps
        #expect(j["tie_word_embeddings"] == .bool(false))
        #expect(j["hidden_act"] == .string("silu"))
        #expect(j["torch_dtype"] == .string("float32"))
        #expect(j["rope_scaling"] == .null)
        #expect(j["attention_bias"] == .bool(false) && j["mlp_bias"] == .bool(false))
        let (back, arch) = try HFConfig.parse(j, file: "config.json")
        #expect(back == m && arch == .causalLM)

        m.scoreHead = true
        let r = try HFConfig.json(m, tokens: HFTokenIds(bos: 1, eos: 2, pad: 3))
        #expect(r["architectures"] == .array([.string("LlamaForSequenceClassification")]))
        #expect(try HFConfig.parse(r, file: "config.json").0 == m)
    }

    /// Every refusal names the file and the key (or the tensor), and writes nothing.
    @Test func badModelsAreRefusedNamingFileAndKey() throws {
        let dir = try scratchDirectory("errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try trainedRun(dir.appendingPathComponent("run"))
        let hf = dir.appendingPathComponent("hf")
        try HFExport.export(from: dir.appendingPathComponent("run"), to: hf)
        let configURL = hf.appendingPathComponent("config.json")
        let good = try readJSON(configURL)

        func refusal(_ json: JSONValue, _ fragments: [String]) throws {
            try writeJSON(json, configURL)
            defer { try? writeJSON(good, configURL) }
            let out = dir.appendingPathComponent("out")
            do {
                try HFImport.importModel(from: hf, to: out)
                Issue.record("imported although it should fail with \(fragments)")
            } catch {
                let message = "\(error)"
                #expect(!message.contains("\n"), "one line: \(message)")
                for f in fragments { #expect(message.contains(f), "\"\(message)\" lacks \"\(f)\"") }
            }
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("config.json").path))
        }
        let file = configURL.path
        try refusal(setting(good, "architectures", .array([.string("MistralForCausalLM")])),
                    [file, "architectures", "MistralForCausalLM"])
        try refusal(setting(good, "model_type", .string("qwen2")), [file, "model_type"])
        try refusal(setting(good, "hidden_size", nil), [file, "hidden_size", "missing"])
        try refusal(setting(good, "num_hidden_layers", .string("2")), [file, "num_hidden_layers"])
        try refusal(setting(setting(good, "rope_parameters", nil), "rope_scaling",
                            .object([("rope_type", .string("dynamic")), ("factor", .int(2))])), [file, "rope_scaling", "dynamic"])
        try refusal(setting(good, "rope_parameters", .object([("rope_type", .string("yarn")), ("factor", .int(4))])),
                    [file, "rope_parameters", "yarn"])
        try refusal(setting(good, "model_type", .string("gpt2")), [file, "model_type", "gpt2"])
        try refusal(setting(setting(good, "model_type", .string("qwen2")), "architectures", .array([.string("Qwen2ForCausalLM")])),
                    [hf.appendingPathComponent("model.safetensors").path, "q_proj.bias", "missing"])
        try refusal(setting(setting(setting(good, "model_type", .string("mistral")), "architectures", .array([.string("MistralForCausalLM")])),
                            "layer_types", .array([.string("full_attention"), .string("sliding_attention")])),
                    [file, "layer_types", "sliding_attention"])
        try refusal(setting(good, "rope_parameters", .object([("rope_type", .string("llama3")), ("rope_theta", .int(10000))])),
                    [file, "rope_parameters", "llama3"])
        try refusal(setting(good, "attention_bias", .bool(true)), [file, "attention_bias"])
        try refusal(setting(good, "mlp_bias", .bool(true)), [file, "mlp_bias"])
        try refusal(setting(good, "hidden_act", .string("gelu")), [file, "hidden_act", "gelu"])
        try refusal(setting(good, "head_dim", .int(-3)), [file, "head_dim", "-3"])
        try refusal(setting(good, "quantization_config", .object([("quant_method", .string("bitsandbytes"))])), [file, "quantization_config"])
        // Shapes and tensors: the weights file and the tensor are named.
        let weights = hf.appendingPathComponent("model.safetensors").path
        try refusal(setting(good, "intermediate_size", .int(64)), [weights, "model.layers.0.mlp.gate_proj.weight", "[48, 32]", "[64, 32]"])
        try refusal(setting(good, "vocab_size", .int(300)), [weights, "model.embed_tokens.weight"])
        try refusal(setting(good, "num_hidden_layers", .int(1)), [weights, "model.layers.1.input_layernorm.weight", "no place"])
        try refusal(setting(good, "tie_word_embeddings", .bool(false)), [weights, "lm_head.weight", "missing"])
        try refusal(setting(good, "num_key_value_heads", .int(4)), [weights, "k_proj.weight"])
        try refusal(setting(good, "head_dim", .int(16)), [weights, "q_proj.weight", "[32, 32]", "[64, 32]"])
    }

    /// Shards listed by model.safetensors.index.json import to the same bits
    /// as one file; a tensor the index lacks, or a shard that lacks a tensor
    /// the index lists, is named.
    @Test func shardedIndexImports() throws {
        let dir = try scratchDirectory("sharded")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try trainedRun(dir.appendingPathComponent("run"), overrides: ["model.tie_embeddings=false"])
        let hf = dir.appendingPathComponent("hf")
        try HFExport.export(from: dir.appendingPathComponent("run"), to: hf)
        try HFImport.importModel(from: hf, to: dir.appendingPathComponent("single"))

        // Split model.safetensors into three shards plus an index, the layout transformers writes.
        let whole = try SafetensorsFile.read(hf.appendingPathComponent("model.safetensors"))
        let names = whole.names
        var map: [(String, JSONValue)] = []
        let parts = [Array(names[0..<3]), Array(names[3..<(names.count / 2)]), Array(names[(names.count / 2)...])]
        for (i, part) in parts.enumerated() {
            let file = "model-0000\(i + 1)-of-00003.safetensors"
            let bytes = SafetensorsWriter.encode(tensors: try part.map { (name: $0, tensor: try whole.tensor($0)) }, metadata: ["format": "pt"])
            try Data(bytes).write(to: hf.appendingPathComponent(file))
            for n in part { map.append((n, .string(file))) }
        }
        try FileManager.default.removeItem(at: hf.appendingPathComponent("model.safetensors"))
        let index = hf.appendingPathComponent("model.safetensors.index.json")
        let indexJSON = JSONValue.object([("metadata", .object([("total_size", .int(4 * names.count))])), ("weight_map", .object(map))])
        try writeJSON(indexJSON, index)
        try HFImport.importModel(from: hf, to: dir.appendingPathComponent("sharded"))
        let a = try parameters(dir.appendingPathComponent("single")), b = try parameters(dir.appendingPathComponent("sharded"))
        #expect(a.count == names.count && b.count == names.count)
        for n in names { #expect(try #require(a[n]).bitwiseEqual(try #require(b[n])), "\(n)") }

        // The index lacks a tensor.
        try writeJSON(.object([("weight_map", .object(map.filter { $0.0 != "model.norm.weight" }))]), index)
        #expect { try HFImport.importModel(from: hf, to: dir.appendingPathComponent("x")) } throws: { e in
            "\(e)".contains(index.path) && "\(e)".contains("model.norm.weight")
        }
        // The index points a tensor at a shard that does not hold it.
        try writeJSON(.object([("weight_map", .object(map.map { $0.0 == "model.norm.weight" ? ($0.0, .string("model-00001-of-00003.safetensors")) : $0 }))]), index)
        #expect { try HFImport.importModel(from: hf, to: dir.appendingPathComponent("y")) } throws: { e in
            "\(e)".contains("model-00001-of-00003.safetensors") && "\(e)".contains("model.norm.weight")
        }
        // The index names a shard that does not exist.
        try writeJSON(.object([("weight_map", .object(map.map { ($0.0, .string("gone.safetensors")) }))]), index)
        #expect { try HFImport.importModel(from: hf, to: dir.appendingPathComponent("z")) } throws: { e in
            "\(e)".contains(index.path) && "\(e)".contains("gone.safetensors")
        }
    }

    /// A random LlamaForCausalLM made by transformers (tools/interop/hf_interop.py
    /// --write_golden): Simply's logits and loss on the stored tokens match
    /// transformers' float32 ones.
    @Test func importedModelMatchesTransformersLogits() throws {
        let dir = try scratchDirectory("golden")
        defer { try? FileManager.default.removeItem(at: dir) }
        let golden = repositoryRoot.appendingPathComponent("golden/hf")
        let out = dir.appendingPathComponent("run")
        try HFImport.importModel(from: golden.appendingPathComponent("tiny-llama"), to: out, options: .init(tokenizer: "byte"))
        let ref = try SafetensorsFile.read(golden.appendingPathComponent("tiny-llama-logits.safetensors"))
        let ids = try ref.int32s("input_ids"), shape = ref.entries["input_ids"]!.shape
        let expected = try ref.tensor("logits")
        let trained = try TrainedModel(out, maxBatch: shape[0])
        #expect(trained.config.model.tieEmbeddings && trained.config.model.normEps == Float(1e-6))
        for threads in [1, 2] {
            let o = ModelOutputs(model: trained.model, tokens: ids, batch: shape[0], seqLen: shape[1],
                                 parallel: Parallel(threads: threads, deterministic: true))
            #expect(o.logits.shape == expected.shape)
            var worst: Float = 0
            for i in 0..<expected.count { worst = max(worst, abs(o.logits[i] - expected[i])) }
            #expect(worst < 1e-4, "max |logit diff| \(worst)")
            #expect(abs(o.loss - Double(try ref.tensor("loss")[0])) < 1e-5)
        }
    }

    /// The byte tokenizer's tokenizer.json gives the byte ids, and an import
    /// recognizes it as `byte`.
    @Test func byteTokenizerFileIsTheByteTokenizer() throws {
        let hfTok = try HFTokenizerFiles.byteTokenizer(), byte = ByteTokenizer()
        #expect(hfTok.vocabSize == byte.vocabSize)
        #expect(hfTok.bos == byte.bos && hfTok.eos == byte.eos && hfTok.pad == byte.pad)
        for text in ["Hello there", "  two  spaces\tand\r\nlines", "héllo wörld ☃ 🚀", "<|eos|> is text", "", "\u{0}\u{7f}"] {
            #expect(hfTok.encode(text) == byte.encode(text), "\(text)")
            #expect(hfTok.decode(byte.encode(text)) == text)
        }
        let dir = try scratchDirectory("bytetok")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tokenizer.json")
        try hfTok.write(to: url)
        #expect(HFTokenizerFiles.isByteTokenizer(try BPETokenizer.load(url)))
        let bpe = try BPETokenizer.load(repositoryRoot.appendingPathComponent("configs/tokenizers/small-bpe-8192.json"))
        #expect(!HFTokenizerFiles.isByteTokenizer(bpe))
    }

    /// generation_config.json stops where Simply's sampler does: at eos and at
    /// the end of a chat turn — an id beside eos when `<|im_end|>` is one
    /// special token, a stop string when the byte tokenizer spells it out.
    @Test func generationConfigStopsAtTheEndOfATurn() throws {
        let byte = ByteTokenizer()
        let g = HFTokenizerFiles.generationConfig(HFTokenIds(bos: byte.bos, eos: byte.eos, pad: byte.pad),
                                                  endOfTurn: ChatTemplate(tokenizer: byte).endOfTurn)
        #expect(g["eos_token_id"]?.intValue == Int(byte.eos))
        #expect(g["stop_strings"] == .array([.string("<|im_end|>")]))
        let bpe = try BPETokenizer.load(repositoryRoot.appendingPathComponent("configs/tokenizers/small-bpe-8192.json"))
        let end = ChatTemplate(tokenizer: bpe).endOfTurn
        #expect(end == [8191])
        let h = HFTokenizerFiles.generationConfig(HFTokenIds(bos: bpe.bos, eos: bpe.eos, pad: bpe.pad), endOfTurn: end)
        #expect(h["eos_token_id"] == .array([.int(Int(bpe.eos)), .int(8191)]) && h["stop_strings"] == nil)
    }
}
