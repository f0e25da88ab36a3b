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

    public init(vocabSize: Int, dModel: Int, nLayers: Int, nHeads: Int, nKVHeads: Int, dFF: Int, seqLen: Int,
                tieEmbeddings: Bool = true, ropeTheta: Double = 10000, normEps: Float = 1e-5, initStd: Float = 0.02) {
        self.vocabSize = vocabSize; self.dModel = dModel; self.nLayers = nLayers; self.nHeads = nHeads
        self.nKVHeads = nKVHeads; self.dFF = dFF; self.seqLen = seqLen; self.tieEmbeddings = tieEmbeddings
        self.ropeTheta = ropeTheta; self.normEps = normEps; self.initStd = initStd
    }

    public var headDim: Int { dModel / nHeads }

    public static let maxVocabSize = 1 << 21
    public static let maxDModel = 1 << 16
    public static let maxLayers = 1 << 10
    public static let maxDFF = 1 << 18
    public static let maxSeqLen = 1 << 20

    /// Floats of one model's parameters (the `ParameterLayout` count), in
    /// Double so that it cannot overflow whatever the sizes.
    public var parameterCountEstimate: Double {
        let d = Double(dModel), hd = Double(dModel / max(1, nHeads)), f = Double(dFF), v = Double(vocabSize)
        let layer = 2 * d + Double(nHeads) * hd * d * 2 + Double(nKVHeads) * hd * d * 2 + 3 * f * d
        return v * d * (tieEmbeddings ? 1 : 2) + Double(nLayers) * layer + d + (scoreHead ? d : 0)
    }

    /// Bytes of the activation and backward buffers a `Transformer` allocates
    /// for `maxBatch` rows of seq_len tokens (its init, counted in Double).
    public func activationBytesEstimate(maxBatch: Int) -> Double {
        let n = Double(maxBatch) * Double(seqLen), d = Double(dModel), hd = Double(dModel / max(1, nHeads))
        let qd = Double(nHeads) * hd, kvd = Double(nKVHeads) * hd, f = Double(dFF), t = Double(seqLen)
        let probs = Double(maxBatch) * Double(nHeads) * t * t
        let perLayer = n * (2 + 3 * d + 2 * qd + 2 * kvd + 3 * f) + probs
        let shared = Double(nLayers + 1) * n * d + n * (2 + d + 2 * Double(vocabSize))
            + n * (3 * d + 2 * qd + 2 * kvd + 3 * f) + probs
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
        try check(dModel % nHeads == 0, "model.n_heads (\(nHeads)) must divide model.d_model (\(dModel))")
        try check(headDim % 2 == 0, "model.d_model / model.n_heads (\(headDim)) must be even for rotary embeddings")
        try check(nHeads % nKVHeads == 0, "model.n_kv_heads (\(nKVHeads)) must divide model.n_heads (\(nHeads))")
        try check(ropeTheta > 0 && ropeTheta.isFinite, "model.rope_theta must be a positive number (got \(ropeTheta))")
        try check(normEps > 0 && normEps.isFinite, "model.norm_eps must be a positive number (got \(normEps))")
        try check(initStd >= 0 && initStd.isFinite, "model.init_std must be >= 0 (got \(initStd))")
    }
}

public struct ModelConfigError: Error, CustomStringConvertible {
    public let description: String
}
