import SimplyModel
import SimplyRun
import SimplyTrain

/// Sampled completions between workers (GRPO under mpirun): each worker
/// sends the completions of its prompts, every worker gets all of them in
/// prompt order. Tokens and log-probabilities travel as bit patterns.
enum RolloutExchange {
    /// `mine` came from `generate` on prompts firstPrompt..<firstPrompt+k (its
    /// `promptIndex` fields count from 0); the result's count from 0 over all prompts.
    static func allGather(_ mine: [SampledCompletion], firstPrompt: Int, workers: Workers) -> [SampledCompletion] {
        var out: [SampledCompletion] = []
        for bytes in workers.allGather(encode(mine, firstPrompt: firstPrompt)) { out += decode(bytes) }
        return out
    }

    static func encode(_ completions: [SampledCompletion], firstPrompt: Int) -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ x: UInt32) { withUnsafeBytes(of: x.littleEndian) { out += $0 } }
        u32(UInt32(completions.count))
        for c in completions {
            u32(UInt32(firstPrompt + c.promptIndex)); u32(UInt32(c.sampleIndex))
            u32(c.finishReason == .stop ? 0 : c.finishReason == .length ? 1 : 2)
            u32(UInt32(c.tokens.count)); for t in c.tokens { u32(UInt32(bitPattern: t)) }
            u32(UInt32(c.logProbs.count)); for x in c.logProbs { u32(x.bitPattern) }
            u32(UInt32(c.modelLogProbs.count)); for x in c.modelLogProbs { u32(x.bitPattern) }
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) -> [SampledCompletion] {
        var at = 0
        func u32() -> UInt32 {
            var x: UInt32 = 0
            for i in 0..<4 { x |= UInt32(bytes[at + i]) << (8 * i) }
            at += 4
            return x
        }
        var out: [SampledCompletion] = []
        for _ in 0..<Int(u32()) {
            let prompt = Int(u32()), sample = Int(u32())
            let reason = u32()
            let tokens = (0..<Int(u32())).map { _ in Int32(bitPattern: u32()) }
            let logProbs = (0..<Int(u32())).map { _ in Float(bitPattern: u32()) }
            let modelLogProbs = (0..<Int(u32())).map { _ in Float(bitPattern: u32()) }
            out.append(SampledCompletion(promptIndex: prompt, sampleIndex: sample, tokens: tokens, logProbs: logProbs,
                                         modelLogProbs: modelLogProbs,
                                         finishReason: reason == 0 ? .stop : reason == 1 ? .length : .context))
        }
        return out
    }
}
