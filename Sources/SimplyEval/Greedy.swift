import SimplyCore
import SimplyData
import SimplyModel

/// Greedy decoding for evaluation: the argmax token (lowest id on ties), one
/// full forward per new token (no KV cache: evaluation prompts are short; the
/// sampler with a cache is separate). A pure function of the weights and the
/// prompt, like everything else.
public enum Greedy {
    /// Up to `maxNewTokens` tokens after `prompt`, stopping after eos or the
    /// tokenizer's `<|im_end|>` special (included), or at the model's seq_len.
    public static func generate(model: Transformer, prompt: [Int32], maxNewTokens: Int, tokenizer: any Tokenizer,
                                parallel: Parallel) -> [Int32] {
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
        var ids = completion
        if let i = ids.firstIndex(where: { $0 == tokenizer.eos || $0 == tokenizer.specialToken(SpecialTokens.imEnd) }) {
            ids.removeSubrange(i...)
        }
        var text = tokenizer.decode(ids)
        if let r = text.range(of: SpecialTokens.imEnd) { text = String(text[..<r.lowerBound]) }
        return text
    }
}
