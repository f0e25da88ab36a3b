import SimplyCore

/// The shape of a Llama-family decoder (Hugging Face `LlamaConfig` terms).
public struct ModelConfig: Sendable, Equatable, Codable {
    public var vocabSize: Int
    public var dModel: Int
    public var nLayers: Int
    public var nHeads: Int
    public var nKVHeads: Int
    public var dFF: Int
    /// Maximum context length.
    public var seqLen: Int
    public var tieEmbeddings: Bool
    public var ropeTheta: Double
    public var normEps: Float
    public var initStd: Float
    /// A scalar head `score.weight` [1, d_model] on the final hidden state
    /// (Hugging Face `LlamaForSequenceClassification`, one label): reward
    /// models and PPO's value head.
    public var scoreHead = false

    // Architecture options of the Hugging Face families Simply imports
    // (Llama 3, Qwen2, Qwen3, Mistral). Their defaults are plain Llama; a
    // run's config.json records them only when set, so older runs keep their bytes.

    /// Per-head width; 0 derives it as d_model / n_heads (Llama 3 and Qwen3 give it explicitly).
    public var headDimension = 0
    /// Biases on the q, k and v projections (Qwen2).
    public var qkvBias = false
    /// RMSNorm over each query and key head before RoPE, with weights [head_dim] (Qwen3).
    public var qkNorm = false
    /// RoPE frequency scaling (`rope_scaling` / `rope_parameters` of config.json).
    public var ropeScaling = RoPEScaling()
    /// Each position attends to at most this many positions ending at itself; 0: all (Mistral).
    public var slidingWindow = 0
    /// The Hugging Face `model_type` the model exports as: llama, qwen2, qwen3 or mistral.
    public var family = "llama"

    public init(vocabSize: Int, dModel: Int, nLayers: Int, nHeads: Int, nKVHeads: Int, dFF: Int, seqLen: Int,
                tieEmbeddings: Bool = true, ropeTheta: Double = 10000, normEps: Float = 1e-5, initStd: Float = 0.02) {
        self.vocabSize = vocabSize; self.dModel = dModel; self.nLayers = nLayers; self.nHeads = nHeads
        self.nKVHeads = nKVHeads; self.dFF = dFF; self.seqLen = seqLen; self.tieEmbeddings = tieEmbeddings
        self.ropeTheta = ropeTheta; self.normEps = normEps; self.initStd = initStd
    }

    public var headDim: Int { headDimension > 0 ? headDimension : dModel / max(1, nHeads) }

    public static let families = ["llama", "qwen2", "qwen3", "mistral"]

    public static let maxVocabSize = 1 << 21
    public static let maxDModel = 1 << 16
    public static let maxLayers = 1 << 10
    public static let maxDFF = 1 << 18
    public static let maxSeqLen = 1 << 20

    /// Floats of one model's parameters (the `ParameterLayout` count), in
    /// Double so that it cannot overflow whatever the sizes.
    public var parameterCountEstimate: Double {
        let d = Double(dModel), hd = Double(headDim), f = Double(dFF), v = Double(vocabSize)
        let heads = Double(nHeads), kvHeads = Double(nKVHeads)
        let layer = 2 * d + heads * hd * d * 2 + kvHeads * hd * d * 2 + 3 * f * d
            + (qkvBias ? (heads + 2 * kvHeads) * hd : 0) + (qkNorm ? 2 * hd : 0)
        return v * d * (tieEmbeddings ? 1 : 2) + Double(nLayers) * layer + d + (scoreHead ? d : 0)
    }

    /// Bytes of the activation and backward buffers a `Transformer` allocates
    /// for `maxBatch` rows of seq_len tokens (its init, counted in Double).
    public func activationBytesEstimate(maxBatch: Int) -> Double {
        let n = Double(maxBatch) * Double(seqLen), d = Double(dModel), hd = Double(headDim)
        let qd = Double(nHeads) * hd, kvd = Double(nKVHeads) * hd, f = Double(dFF), t = Double(seqLen)
        let stats = 2 * Double(maxBatch) * Double(nHeads) * t   // attention's row statistics
        let qkNormRows = qkNorm ? n * (qd + kvd + Double(nHeads + nKVHeads)) : 0
        let perLayer = n * (2 + 3 * d + 2 * qd + 2 * kvd + 3 * f) + stats + qkNormRows
        let shared = Double(nLayers + 1) * n * d + n * (2 + d + 2 * Double(vocabSize))
            + n * (3 * d + 2 * qd + 2 * kvd + 3 * f)
        return 4 * (Double(nLayers) * perLayer + shared)
    }

    /// Throws a `ModelConfigError` naming the first offending key (config-file spelling).
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw ModelConfigError(description: message()) }
        }
        for (key, value) in [("model.vocab_size", vocabSize), ("model.d_model", dModel), ("model.n_layers", nLayers),
                             ("model.n_heads", nHeads), ("model.n_kv_heads", nKVHeads), ("model.d_ff", dFF),
                             ("model.seq_len", seqLen)] {
            try check(value >= 1, "\(key) must be >= 1 (got \(value))")
        }
        // Upper bounds far above any model a CPU trains, so that every size
        // product below (and in the activation buffers) fits an Int before
        // anything is allocated.
        for (key, value, limit) in [("model.vocab_size", vocabSize, Self.maxVocabSize), ("model.d_model", dModel, Self.maxDModel),
                                    ("model.n_layers", nLayers, Self.maxLayers), ("model.d_ff", dFF, Self.maxDFF),
                                    ("model.seq_len", seqLen, Self.maxSeqLen)] {
            try check(value <= limit, "\(key) must be <= \(limit) (got \(value))")
        }
        try check(headDimension >= 0 && headDimension <= Self.maxDModel,
                  "model.head_dim must be in 0...\(Self.maxDModel) (got \(headDimension))")
        if headDimension == 0 {
            try check(dModel % nHeads == 0, "model.n_heads (\(nHeads)) must divide model.d_model (\(dModel))")
            try check(headDim % 2 == 0, "model.d_model / model.n_heads (\(headDim)) must be even for rotary embeddings")
        } else {
            try check(headDim % 2 == 0, "model.head_dim (\(headDim)) must be even for rotary embeddings")
            try check(nHeads <= Self.maxDModel && nHeads * headDim <= Self.maxDModel,
                      "model.n_heads × model.head_dim (\(nHeads) × \(headDim)) must be <= \(Self.maxDModel)")
        }
        try check(nHeads % nKVHeads == 0, "model.n_kv_heads (\(nKVHeads)) must divide model.n_heads (\(nHeads))")
        try check(ropeTheta > 0 && ropeTheta.isFinite, "model.rope_theta must be a positive number (got \(ropeTheta))")
        try check(normEps > 0 && normEps.isFinite, "model.norm_eps must be a positive number (got \(normEps))")
        try check(initStd >= 0 && initStd.isFinite, "model.init_std must be >= 0 (got \(initStd))")
        try check(slidingWindow >= 0, "model.sliding_window must be >= 0 (got \(slidingWindow))")
        try check(Self.families.contains(family),
                  "model.family must be one of \(Self.families.joined(separator: ", ")) (got \(family))")
        try ropeScaling.validate()
    }
}

/// RoPE frequency scaling, as Hugging Face's `rope_parameters` spells it.
/// "none": inv_freq_i = θ^(−2i/hd); "linear": inv_freq / factor (positions
/// interpolated); "llama3": Llama 3.1's per-frequency rule — wavelengths
/// below original_max_position / high_freq_factor kept, those above
/// original_max_position / low_freq_factor divided by factor, a linear blend
/// between.
public struct RoPEScaling: Sendable, Equatable, Codable {
    public var type = "none"
    public var factor = 1.0
    public var lowFreqFactor = 1.0
    public var highFreqFactor = 4.0
    public var originalMaxPosition = 8192

    public init() {}

    public static let types = ["none", "linear", "llama3"]

    /// inv_freq_i scaled: `invFreq` is θ^(−2i/hd) for one i.
    public func scaled(_ invFreq: Double) -> Double {
        switch type {
        case "linear": return invFreq / factor
        case "llama3":
            let wavelength = 2 * Double.pi / invFreq
            let original = Double(originalMaxPosition)
            if wavelength < original / highFreqFactor { return invFreq }
            if wavelength > original / lowFreqFactor { return invFreq / factor }
            let smooth = (original / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
            return (1 - smooth) * invFreq / factor + smooth * invFreq
        default: return invFreq
        }
    }

    func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw ModelConfigError(description: message()) }
        }
        try check(Self.types.contains(type), "model.rope_scaling must be one of \(Self.types.joined(separator: ", ")) (got \(type))")
        try check(factor.isFinite && factor >= 1, "model.rope_factor must be >= 1 (got \(factor))")
        if type == "llama3" {
            try check(lowFreqFactor.isFinite && lowFreqFactor > 0, "model.rope_low_freq_factor must be > 0 (got \(lowFreqFactor))")
            try check(highFreqFactor.isFinite && highFreqFactor > lowFreqFactor,
                      "model.rope_high_freq_factor (\(highFreqFactor)) must exceed model.rope_low_freq_factor (\(lowFreqFactor))")
            try check(originalMaxPosition >= 1, "model.rope_original_max_position must be >= 1 (got \(originalMaxPosition))")
        }
    }
}

public struct ModelConfigError: Error, CustomStringConvertible {
    public let description: String
}
