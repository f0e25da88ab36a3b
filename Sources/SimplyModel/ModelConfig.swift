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
