import SimplyCore
import SimplyModel

/// The Hugging Face classes a Simply model is: the LM, or the LM body with a
/// one-label score head (reward models).
public enum HFArchitecture: String, Sendable, CaseIterable {
    case causalLM = "LlamaForCausalLM"
    case sequenceClassification = "LlamaForSequenceClassification"
}

/// Token ids config.json and generation_config.json record.
public struct HFTokenIds: Sendable, Equatable {
    public var bos: Int32, eos: Int32, pad: Int32
    public init(bos: Int32, eos: Int32, pad: Int32) { self.bos = bos; self.eos = eos; self.pad = pad }
}

/// Hugging Face `LlamaConfig` (config.json) ↔ Simply's `ModelConfig`.
///
/// The two models compute the same function: RMSNorm y = w · x / sqrt(mean(x²) + eps)
/// (eps rounded to float32 in both), rotate_half RoPE with inv_freq_i =
/// θ^(−2i/head_dim), attention scale head_dim^−½, SwiGLU with SiLU, no biases.
/// Simply derives head_dim = hidden_size / num_attention_heads; anything HF
/// can express beyond that (rope scaling, biases, other activations, another
/// head_dim, quantization) is refused on import.
public enum HFConfig {
    /// config.json for `c`. Both the transformers 4 spelling (rope_theta,
    /// rope_scaling, torch_dtype) and the transformers 5 one (rope_parameters,
    /// dtype) are written; they agree.
    public static func json(_ c: ModelConfig, tokens: HFTokenIds) -> JSONValue {
        let arch: HFArchitecture = c.scoreHead ? .sequenceClassification : .causalLM
        var pairs: [(String, JSONValue)] = [
            ("architectures", .array([.string(arch.rawValue)])),
            ("model_type", .string("llama")),
            ("vocab_size", .int(c.vocabSize)),
            ("hidden_size", .int(c.dModel)),
            ("intermediate_size", .int(c.dFF)),
            ("num_hidden_layers", .int(c.nLayers)),
            ("num_attention_heads", .int(c.nHeads)),
            ("num_key_value_heads", .int(c.nKVHeads)),
            ("head_dim", .int(c.headDim)),
            ("hidden_act", .string("silu")),
            ("max_position_embeddings", .int(c.seqLen)),
            ("initializer_range", .number("\(c.initStd)")),
            // Float's shortest form: Python reads the double, torch rounds it back to this float32.
            ("rms_norm_eps", .number("\(c.normEps)")),
            ("rope_theta", .double(c.ropeTheta)),
            ("rope_scaling", .null),
            ("rope_parameters", .object([("rope_type", .string("default")), ("rope_theta", .double(c.ropeTheta))])),
            ("attention_bias", .bool(false)),
            ("attention_dropout", .double(0)),
            ("mlp_bias", .bool(false)),
            ("pretraining_tp", .int(1)),
            ("tie_word_embeddings", .bool(c.tieEmbeddings)),
            ("use_cache", .bool(true)),
            ("torch_dtype", .string("float32")),
            ("dtype", .string("float32")),
            ("bos_token_id", .int(Int(tokens.bos))),
            ("eos_token_id", .int(Int(tokens.eos))),
            ("pad_token_id", .int(Int(tokens.pad))),
        ]
        if c.scoreHead {
            pairs.append(("id2label", .object([("0", .string("LABEL_0"))])))
            pairs.append(("label2id", .object([("LABEL_0", .int(0))])))
        }
        return .object(pairs)
    }

    /// The model config.json describes, and its class. Errors name `file` and
    /// the key. `seqLen` replaces max_position_embeddings when given.
    public static func parse(_ json: JSONValue, file: String, seqLen: Int? = nil) throws -> (ModelConfig, HFArchitecture) {
        func bad(_ key: String, _ message: String) -> HFError { HFError("\(file): \(key): \(message)") }
        guard case .object = json else { throw HFError("\(file): not a JSON object") }
        func present(_ key: String) -> JSONValue? {
            guard let v = json[key], v != .null else { return nil }
            return v
        }
        func int(_ key: String, default d: Int? = nil) throws -> Int {
            guard let v = present(key) else {
                guard let d else { throw bad(key, "missing (required)") }
                return d
            }
            guard let i = v.intValue, i >= 1 else { throw bad(key, "expected a positive integer, got \(v.brief())") }
            return i
        }
        func number(_ key: String, default d: Double) throws -> Double {
            guard let v = present(key) else { return d }
            guard let x = v.doubleValue, x.isFinite else { throw bad(key, "expected a number, got \(v.brief())") }
            return x
        }
        func bool(_ key: String, default d: Bool) throws -> Bool {
            guard let v = present(key) else { return d }
            guard let b = v.boolValue else { throw bad(key, "expected true or false, got \(v.brief())") }
            return b
        }

        // Class and family.
        let arch: HFArchitecture
        if let a = present("architectures") {
            guard case let .array(items) = a, items.count == 1, let name = items[0].stringValue else {
                throw bad("architectures", "expected one class name, got \(a.brief())")
            }
            guard let known = HFArchitecture(rawValue: name) else {
                throw bad("architectures", "unsupported architecture \(name) (supported: "
                          + HFArchitecture.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            arch = known
        } else {
            arch = .causalLM
        }
        if let t = present("model_type"), t != .string("llama") {
            throw bad("model_type", "unsupported model type \(t.brief()) (only \"llama\")")
        }

        // Options Simply's model does not have.
        if let q = present("quantization_config") { throw bad("quantization_config", "quantized checkpoints are not supported (\(q.brief(limit: 60)))") }
        if let act = present("hidden_act"), act != .string("silu"), act != .string("swish") {
            throw bad("hidden_act", "\(act.brief()) is not supported (only silu)")
        }
        if try bool("attention_bias", default: false) { throw bad("attention_bias", "true is not supported (Simply's projections have no bias)") }
        if try bool("mlp_bias", default: false) { throw bad("mlp_bias", "true is not supported (Simply's MLP has no bias)") }
        var theta = try number("rope_theta", default: 10000)
        for key in ["rope_scaling", "rope_parameters"] {
            guard let r = present(key) else { continue }
            guard case .object = r else { throw bad(key, "expected an object or null, got \(r.brief())") }
            let type = r["rope_type"] ?? r["type"] ?? .string("default")
            guard type == .string("default") else {
                throw bad(key, "rope type \(type.brief()) is not supported (only plain RoPE: rope_scaling null)")
            }
            if let t = r["rope_theta"] {
                guard let x = t.doubleValue, x.isFinite else { throw bad(key + ".rope_theta", "expected a number, got \(t.brief())") }
                theta = x
            }
        }
        if let labels = present("id2label"), case let .object(l) = labels, l.count != 1 {
            throw bad("id2label", "\(l.count) labels; Simply's score head has exactly one")
        }
        if let n = present("num_labels"), n.intValue != 1 {
            throw bad("num_labels", "\(n.brief()) labels; Simply's score head has exactly one")
        }

        let heads = try int("num_attention_heads")
        let hidden = try int("hidden_size")
        var c = ModelConfig(vocabSize: try int("vocab_size"), dModel: hidden, nLayers: try int("num_hidden_layers"),
                            nHeads: heads, nKVHeads: try int("num_key_value_heads", default: heads),
                            dFF: try int("intermediate_size"),
                            seqLen: try seqLen ?? int("max_position_embeddings", default: 2048),
                            tieEmbeddings: try bool("tie_word_embeddings", default: false),
                            ropeTheta: theta,
                            normEps: Float(try number("rms_norm_eps", default: 1e-6)),
                            initStd: Float(try number("initializer_range", default: 0.02)))
        if hidden % heads != 0 {
            throw bad("num_attention_heads", "\(heads) does not divide hidden_size \(hidden)")
        }
        if let hd = present("head_dim") {
            guard hd.intValue == hidden / heads else {
                throw bad("head_dim", "\(hd.brief()) differs from hidden_size / num_attention_heads = \(hidden / heads) (Simply derives head_dim from them)")
            }
        }
        c.scoreHead = arch == .sequenceClassification
        do { try c.validate() } catch { throw HFError("\(file): \(error)") }
        // The layout multiplies these sizes; a product past Int.max would trap there.
        guard parameterCount(c) != nil else {
            throw HFError("\(file): vocab_size \(c.vocabSize), hidden_size \(c.dModel), intermediate_size \(c.dFF) and "
                          + "num_hidden_layers \(c.nLayers) give more parameters than a 64-bit count holds")
        }
        return (c, arch)
    }

    /// The model's parameter count (ParameterLayout's sum) in overflow-checked
    /// arithmetic, or nil when it does not fit in an Int. Callers check sizes
    /// from files with it before a layout or buffer is built.
    public static func parameterCount(_ c: ModelConfig) -> Int? {
        func mul(_ xs: Int...) -> Int? {
            var p = 1
            for x in xs {
                guard x >= 0, case let (q, o) = p.multipliedReportingOverflow(by: x), !o else { return nil }
                p = q
            }
            return p
        }
        func add(_ xs: Int?...) -> Int? {
            var s = 0
            for x in xs {
                guard let x, case let (t, o) = s.addingReportingOverflow(x), !o else { return nil }
                s = t
            }
            return s
        }
        guard c.nHeads >= 1 else { return nil }
        let d = c.dModel, hd = c.dModel / c.nHeads
        guard let q = mul(c.nHeads, hd, d), let kv = mul(c.nKVHeads, hd, d), let mlp = mul(3, c.dFF, d),
              let layer = add(mul(2, d), mul(2, q), mul(2, kv), mlp),
              let embed = mul(c.vocabSize, d) else { return nil }
        return add(embed, mul(c.nLayers, layer), d, c.tieEmbeddings ? 0 : embed, c.scoreHead ? d : 0)
    }
}

public struct HFError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
