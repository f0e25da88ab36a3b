import SimplyCore
import SimplyModel

/// The Hugging Face class a Simply model is: a family's LM, or its LM body
/// with a one-label score head (reward models).
public struct HFArchitecture: Sendable, Equatable, CustomStringConvertible {
    /// `model_type`: llama, qwen2, qwen3 or mistral.
    public var family: String
    public var scoreHead: Bool

    public init(family: String, scoreHead: Bool) { self.family = family; self.scoreHead = scoreHead }

    public static let causalLM = HFArchitecture(family: "llama", scoreHead: false)
    public static let sequenceClassification = HFArchitecture(family: "llama", scoreHead: true)

    static let classPrefix = ["llama": "Llama", "qwen2": "Qwen2", "qwen3": "Qwen3", "mistral": "Mistral"]

    /// e.g. "Qwen2ForCausalLM".
    public var rawValue: String { (Self.classPrefix[family] ?? "Llama") + (scoreHead ? "ForSequenceClassification" : "ForCausalLM") }
    public var description: String { rawValue }

    /// Every class name Simply reads, in a fixed order.
    public static let allNames: [String] = ModelConfig.families.flatMap { f in
        [false, true].map { HFArchitecture(family: f, scoreHead: $0).rawValue }
    }

    public init?(rawValue: String) {
        for f in ModelConfig.families {
            for head in [false, true] where HFArchitecture(family: f, scoreHead: head).rawValue == rawValue {
                self.init(family: f, scoreHead: head)
                return
            }
        }
        return nil
    }
}

/// Token ids config.json and generation_config.json record.
public struct HFTokenIds: Sendable, Equatable {
    public var bos: Int32, eos: Int32, pad: Int32
    public init(bos: Int32, eos: Int32, pad: Int32) { self.bos = bos; self.eos = eos; self.pad = pad }
}

/// Hugging Face config.json (`LlamaConfig`, `Qwen2Config`, `Qwen3Config`,
/// `MistralConfig`) ↔ Simply's `ModelConfig`.
///
/// The models compute the same function: RMSNorm y = w · x / sqrt(mean(x²) + eps)
/// (eps rounded to float32 in both), rotate_half RoPE with inv_freq_i =
/// θ^(−2i/head_dim) (default, linear or llama3 scaling), attention scale
/// head_dim^−½, SwiGLU with SiLU. Qwen2 adds biases to q, k and v; Qwen3 an
/// RMSNorm over each q and k head before RoPE; Mistral (and Qwen with
/// use_sliding_window) a sliding attention window. Anything else HF can
/// express (other rope types, o_proj or MLP biases, other activations,
/// per-layer windows, quantization) is refused on import, naming the key.
public enum HFConfig {
    /// config.json for `c`. Both the transformers 4 spelling (rope_theta,
    /// rope_scaling, torch_dtype) and the transformers 5 one (rope_parameters,
    /// dtype) are written; they agree. Throws when `c` combines options its
    /// family's class cannot express.
    public static func json(_ c: ModelConfig, tokens: HFTokenIds) throws -> JSONValue {
        let arch = HFArchitecture(family: c.family, scoreHead: c.scoreHead)
        func refuse(_ key: String, _ why: String) -> HFError { HFError("model.\(key): \(why) (model.family \(c.family))") }
        switch c.family {
        case "qwen2":
            guard c.qkvBias else { throw refuse("qkv_bias", "Qwen2 always has q/k/v biases; set it or export as another family") }
            guard c.headDimension == 0 || c.headDimension * c.nHeads == c.dModel else {
                throw refuse("head_dim", "Qwen2 derives head_dim from hidden_size / num_attention_heads")
            }
            guard !c.qkNorm else { throw refuse("qk_norm", "Qwen2 has no q/k norm") }
        case "qwen3":
            guard c.qkNorm else { throw refuse("qk_norm", "Qwen3 always has q/k norms") }
            guard !c.qkvBias else { throw refuse("qkv_bias", "Qwen3's attention_bias would also bias o_proj") }
        default:
            guard !c.qkvBias else { throw refuse("qkv_bias", "\(arch.rawValue) cannot bias q/k/v alone") }
            guard !c.qkNorm else { throw refuse("qk_norm", "\(arch.rawValue) has no q/k norm") }
            guard c.slidingWindow == 0 || c.family == "mistral" else {
                throw refuse("sliding_window", "LlamaConfig has no sliding window (export as mistral)")
            }
        }
        var rope: [(String, JSONValue)] = [("rope_type", .string(c.ropeScaling.type == "none" ? "default" : c.ropeScaling.type))]
        if c.ropeScaling.type != "none" { rope.append(("factor", .double(c.ropeScaling.factor))) }
        if c.ropeScaling.type == "llama3" {
            rope.append(("low_freq_factor", .double(c.ropeScaling.lowFreqFactor)))
            rope.append(("high_freq_factor", .double(c.ropeScaling.highFreqFactor)))
            rope.append(("original_max_position_embeddings", .int(c.ropeScaling.originalMaxPosition)))
        }
        let window: JSONValue = c.slidingWindow > 0 ? .int(c.slidingWindow) : .null
        var pairs: [(String, JSONValue)] = [
            ("architectures", .array([.string(arch.rawValue)])),
            ("model_type", .string(c.family)),
            ("vocab_size", .int(c.vocabSize)),
            ("hidden_size", .int(c.dModel)),
            ("intermediate_size", .int(c.dFF)),
            ("num_hidden_layers", .int(c.nLayers)),
            ("num_attention_heads", .int(c.nHeads)),
            ("num_key_value_heads", .int(c.nKVHeads)),
        ]
        if c.family != "qwen2" { pairs.append(("head_dim", .int(c.headDim))) }
        pairs += [
            ("hidden_act", .string("silu")),
            ("max_position_embeddings", .int(c.seqLen)),
            ("initializer_range", .number("\(c.initStd)")),
            // Float's shortest form: Python reads the double, torch rounds it back to this float32.
            ("rms_norm_eps", .number("\(c.normEps)")),
            ("rope_theta", .double(c.ropeTheta)),
            ("rope_scaling", c.ropeScaling.type == "none" ? .null : .object(rope)),
            ("rope_parameters", .object(rope + [("rope_theta", .double(c.ropeTheta))])),
        ]
        switch c.family {
        case "llama":
            pairs += [("attention_bias", .bool(false)), ("attention_dropout", .double(0)), ("mlp_bias", .bool(false)),
                      ("pretraining_tp", .int(1))]
        case "qwen2", "qwen3":
            pairs += [("use_sliding_window", .bool(c.slidingWindow > 0)), ("sliding_window", window),
                      ("max_window_layers", .int(0)), ("attention_dropout", .double(0))]
            if c.family == "qwen3" { pairs.append(("attention_bias", .bool(false))) }
        default:
            pairs += [("sliding_window", window), ("attention_dropout", .double(0))]
        }
        pairs += [
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
        var arch: HFArchitecture? = nil
        if let a = present("architectures") {
            guard case let .array(items) = a, items.count == 1, let name = items[0].stringValue else {
                throw bad("architectures", "expected one class name, got \(a.brief())")
            }
            guard let known = HFArchitecture(rawValue: name) else {
                throw bad("architectures", "unsupported architecture \(name) (supported: "
                          + HFArchitecture.allNames.joined(separator: ", ") + ")")
            }
            arch = known
        }
        let family: String
        if let t = present("model_type") {
            guard let name = t.stringValue, ModelConfig.families.contains(name) else {
                throw bad("model_type", "unsupported model type \(t.brief()) (supported: "
                          + ModelConfig.families.map { "\"\($0)\"" }.joined(separator: ", ") + ")")
            }
            family = name
        } else {
            family = arch?.family ?? "llama"
        }
        if let a = arch, a.family != family {
            throw bad("architectures", "\(a.rawValue) does not match model_type \"\(family)\"")
        }
        let architecture = arch ?? HFArchitecture(family: family, scoreHead: false)

        // Options Simply's model does not have.
        if let q = present("quantization_config") { throw bad("quantization_config", "quantized checkpoints are not supported (\(q.brief(limit: 60)))") }
        if let act = present("hidden_act"), act != .string("silu"), act != .string("swish") {
            throw bad("hidden_act", "\(act.brief()) is not supported (only silu)")
        }
        if try bool("mlp_bias", default: false) { throw bad("mlp_bias", "true is not supported (Simply's MLP has no bias)") }
        if family != "qwen2", try bool("attention_bias", default: false) {
            throw bad("attention_bias", "true is not supported (it biases o_proj too; Simply biases q, k and v only, as Qwen2)")
        }
        var theta = try number("rope_theta", default: 10000)
        var scaling = RoPEScaling()
        for key in ["rope_scaling", "rope_parameters"] {
            guard let r = present(key) else { continue }
            guard case .object = r else { throw bad(key, "expected an object or null, got \(r.brief())") }
            let type = (r["rope_type"] ?? r["type"] ?? .string("default")).stringValue ?? "?"
            func field(_ name: String) throws -> Double {
                guard let v = r[name], v != .null else { throw bad(key + "." + name, "missing (required by rope type \(type))") }
                guard let x = v.doubleValue, x.isFinite, x > 0 else { throw bad(key + "." + name, "expected a positive number, got \(v.brief())") }
                return x
            }
            switch type {
            case "default": break
            case "linear":
                scaling.type = "linear"; scaling.factor = try field("factor")
            case "llama3":
                scaling.type = "llama3"; scaling.factor = try field("factor")
                scaling.lowFreqFactor = try field("low_freq_factor"); scaling.highFreqFactor = try field("high_freq_factor")
                let original = try field("original_max_position_embeddings")
                guard original == original.rounded(), original <= Double(ModelConfig.maxSeqLen) else {
                    throw bad(key + ".original_max_position_embeddings", "expected an integer up to \(ModelConfig.maxSeqLen), got \(original)")
                }
                scaling.originalMaxPosition = Int(original)
            default:
                throw bad(key, "rope type \"\(type)\" is not supported (supported: default, linear, llama3)")
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

        // The attention window: Mistral's sliding_window, or Qwen's when use_sliding_window is on.
        var window = 0
        let qwenWindow = family.hasPrefix("qwen") ? try bool("use_sliding_window", default: false) : false
        if family == "mistral" || qwenWindow {
            if present("sliding_window") != nil { window = try int("sliding_window") }
        }
        if let types = present("layer_types") {
            guard case let .array(items) = types else { throw bad("layer_types", "expected a list, got \(types.brief())") }
            let kinds = Set(items.map { $0.stringValue ?? "?" })
            let expected: Set<String> = window > 0 ? ["sliding_attention"] : ["full_attention"]
            guard kinds.isSubset(of: expected) else {
                throw bad("layer_types", "\(kinds.sorted().joined(separator: ", ")) layers; Simply gives every layer the same attention ("
                          + (window > 0 ? "a sliding window of \(window))" : "full attention)"))
            }
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
        if present("head_dim") != nil {
            let hd = try int("head_dim")
            guard hd <= ModelConfig.maxDModel else { throw bad("head_dim", "must be <= \(ModelConfig.maxDModel), got \(hd)") }
            if hd * heads != hidden { c.headDimension = hd }
        } else if hidden % heads != 0 {
            throw bad("num_attention_heads", "\(heads) does not divide hidden_size \(hidden)")
        }
        c.family = family
        c.qkvBias = family == "qwen2"
        c.qkNorm = family == "qwen3"
        c.ropeScaling = scaling
        c.slidingWindow = window
        c.scoreHead = architecture.scoreHead
        do { try c.validate() } catch { throw HFError("\(file): \(error)") }
        // The layout multiplies these sizes; a product past Int.max would trap there.
        guard parameterCount(c) != nil else {
            throw HFError("\(file): vocab_size \(c.vocabSize), hidden_size \(c.dModel), intermediate_size \(c.dFF) and "
                          + "num_hidden_layers \(c.nLayers) give more parameters than a 64-bit count holds")
        }
        return (c, architecture)
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
        let d = c.dModel, hd = c.headDim
        guard let q = mul(c.nHeads, hd, d), let kv = mul(c.nKVHeads, hd, d), let mlp = mul(3, c.dFF, d),
              let bias = c.qkvBias ? add(mul(c.nHeads, hd), mul(2, c.nKVHeads, hd)) : 0,
              let layer = add(mul(2, d), mul(2, q), mul(2, kv), mlp, bias, c.qkNorm ? mul(2, hd) : 0),
              let embed = mul(c.vocabSize, d) else { return nil }
        return add(embed, mul(c.nLayers, layer), d, c.tieEmbeddings ? 0 : embed, c.scoreHead ? d : 0)
    }
}

public struct HFError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
