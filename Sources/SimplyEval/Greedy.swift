import SimplyCore
import SimplyData
import SimplyModel

/// Greedy decoding for evaluation: the argmax token (lowest id on ties), on
/// the KV-cache sampler at temperature 0. A pure function of the weights and
/// the prompt, like everything else: the same on any thread count and for a
/// prompt alone or in a batch.
public enum Greedy {
    /// Up to `maxNewTokens` tokens after `prompt`, stopping after eos or
    /// `<|im_end|>` (the special, or its text with a tokenizer that lacks the
    /// special; included), or when prompt + completion exceed the model's seq_len.
    public static func generate(model: Transformer, prompt: [Int32], maxNewTokens: Int, tokenizer: any Tokenizer,
                                parallel: Parallel) -> [Int32] {
        generate(model: model, prompts: [prompt], maxNewTokens: maxNewTokens, tokenizer: tokenizer, parallel: parallel)[0]
    }

    /// `generate` for many prompts, `batch` rows decoded together (speed only).
    public static func generate(model: Transformer, prompts: [[Int32]], maxNewTokens: Int, tokenizer: any Tokenizer,
                                batch: Int = 16, parallel: Parallel) -> [[Int32]] {
        guard !prompts.isEmpty else { return [] }
        let sampler = Sampler(model: model, maxRows: min(batch, prompts.count))
        let config = SamplingConfig.greedy(maxNewTokens: maxNewTokens,
                                           stopSequences: ChatTemplate(tokenizer: tokenizer).stopSequences)
        return sampler.generate(prompts: prompts, config: config, parallel: parallel).map(\.tokens)
    }

    /// The reference the cached path is tested against: one full forward per
    /// new token, no cache, stopping after eos or the `<|im_end|>` special
    /// only. Slow; for tests and benchmarks.
    public static func generateWithoutCache(model: Transformer, prompt: [Int32], maxNewTokens: Int,
                                            tokenizer: any Tokenizer, parallel: Parallel) -> [Int32] {
        precondition(model.maxBatch >= 1 && !prompt.isEmpty)
        let stops = Set([tokenizer.eos] + [tokenizer.specialToken(SpecialTokens.imEnd)].compactMap { $0 })
        var tokens = prompt
        var out: [Int32] = []
        while out.count < maxNewTokens && tokens.count <= model.config.seqLen {
            let n = tokens.count
            _ = model.forward(tokens: tokens, targets: Array(repeating: 0, count: n), weights: Array(repeating: 0, count: n),
                              batch: 1, seqLen: n, parallel: parallel)
            let next = model.predictedTokens()[n - 1]
            out.append(next)
            if stops.contains(next) { break }
            tokens.append(next)
        }
        return out
    }

    /// The answer text of a completion: decoded, cut at the end-of-turn marker
    /// (`<|im_end|>`, special or text) or eos.
    public static func answerText(_ completion: [Int32], tokenizer: any Tokenizer) -> String {
        ChatTemplate(tokenizer: tokenizer).answerText(completion)
    }
}
