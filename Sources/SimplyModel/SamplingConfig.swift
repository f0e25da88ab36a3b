/// How the sampler picks each next token (Hugging Face `GenerationConfig`
/// terms). The sampling distribution is softmax(logits / temperature),
/// restricted to the `topK` most likely tokens, then to the smallest prefix
/// of them (most likely first) whose probability reaches `topP`, and
/// renormalised. Temperature 0 is greedy decoding.
public struct SamplingConfig: Sendable, Equatable {
    /// 0: greedy (the argmax, the lowest id on ties).
    public var temperature: Float
    /// Keep the k most likely tokens (ties: the lower id first); 0: all.
    public var topK: Int
    /// Nucleus: keep the most likely tokens until their mass reaches top_p; 1: all.
    public var topP: Float
    /// The longest completion.
    public var maxNewTokens: Int
    /// A completion ends right after any of these token sequences (which it
    /// keeps), e.g. [[eos], [<|im_end|>]]; `ChatTemplate.stopSequences` gives
    /// the chat template's end-of-turn markers as they are tokenized.
    public var stopSequences: [[Int32]]
    /// Keys the "sample" Philox stream.
    public var seed: UInt64

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, maxNewTokens: Int = 32,
                stopSequences: [[Int32]] = [], seed: UInt64 = 0) {
        self.temperature = temperature; self.topK = topK; self.topP = topP
        self.maxNewTokens = maxNewTokens; self.stopSequences = stopSequences; self.seed = seed
    }

    /// Greedy decoding: temperature 0.
    public static func greedy(maxNewTokens: Int, stopSequences: [[Int32]] = []) -> SamplingConfig {
        SamplingConfig(temperature: 0, maxNewTokens: maxNewTokens, stopSequences: stopSequences)
    }

    public var isGreedy: Bool { temperature == 0 }

    /// Throws naming the first bad option (command-line spelling).
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw SamplingError(description: message()) }
        }
        try check(temperature >= 0 && temperature.isFinite, "temperature must be a number >= 0 (got \(temperature))")
        try check(topK >= 0, "top_k must be >= 0 (0: off; got \(topK))")
        try check(topP > 0 && topP <= 1, "top_p must be in (0, 1] (1: off; got \(topP))")
        try check(maxNewTokens >= 0, "max_tokens must be >= 0 (got \(maxNewTokens))")
        try check(!stopSequences.contains { $0.isEmpty }, "a stop sequence is empty")
    }
}

public struct SamplingError: Error, CustomStringConvertible {
    public let description: String
}
