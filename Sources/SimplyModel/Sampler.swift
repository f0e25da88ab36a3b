import SimplyCore

/// Why a completion ended.
public enum FinishReason: String, Sendable, Equatable {
    /// It ended with one of the stop sequences (kept in its tokens).
    case stop
    /// It reached max_new_tokens.
    case length
    /// The prompt plus completion filled model.seq_len (the last token was
    /// sampled from a full context; a prompt longer than seq_len gets nothing).
    case context
}

/// One sampled completion of one prompt.
public struct SampledCompletion: Sendable, Equatable {
    /// Index of the prompt in the `prompts` passed to `generate`.
    public let promptIndex: Int
    /// Which of the prompt's samples (0..<samplesPerPrompt).
    public let sampleIndex: Int
    /// The new tokens, the stop sequence included when finishReason is .stop.
    public var tokens: [Int32] = []
    /// Per token: log-probability under the sampling distribution.
    public var logProbs: [Float] = []
    /// Per token: log-probability under the unmodified model (temperature 1,
    /// no top-k/top-p). Bit-identical to −`positionLosses` of a
    /// deterministic `Transformer.forward` over prompt + completion with weight 1.
    public var modelLogProbs: [Float] = []
    public var finishReason: FinishReason = .length

    public var count: Int { tokens.count }

    public init(promptIndex: Int, sampleIndex: Int, tokens: [Int32] = [], logProbs: [Float] = [], modelLogProbs: [Float] = [],
                finishReason: FinishReason = .length) {
        self.promptIndex = promptIndex; self.sampleIndex = sampleIndex; self.tokens = tokens; self.logProbs = logProbs
        self.modelLogProbs = modelLogProbs; self.finishReason = finishReason
    }
}

/// Batched autoregressive generation with a KV cache.
///
/// Determinism: the draw for a token is `uniform(i0, i1)` of the Philox
/// stream (config.seed, "sample") at counter words
/// (step, prompt id, sample index, position in the completion); rows never
/// mix in the cached forward. So a completion's bits depend only on the
/// weights, its prompt, the config, `step`, its prompt id and its sample
/// index — not on the thread count, on what else is in the batch, on
/// `maxRows` or on `tokensPerForward` (deterministic `parallel`).
///
/// The sampler reads the model's parameters in place, so a policy being
/// trained is sampled with its current weights; it has its own cache and
/// scratch and never touches the model's training activations.
public final class Sampler: @unchecked Sendable {
    public let model: Transformer
    public let cache: KVCache
    /// Rows (prompts × samples) decoded together.
    public var maxRows: Int { cache.slots }
    let rowLogits: Tensor   // [maxRows, vocab]: the logits each row samples its next token from
    /// Refreshed from the model at every `generate` (the weights may have changed).
    let decodeWeights: DecodeWeights

    /// `tokensPerForward` bounds the prompt tokens prefilled per forward
    /// (default: max(maxRows, 512)); it changes speed and memory, never bits.
    /// The sampler keeps a packed copy of the weight matrices for fast
    /// decoding steps (one more copy of the parameters in memory).
    public init(model: Transformer, maxRows: Int, tokensPerForward: Int? = nil) {
        precondition(maxRows >= 1, "maxRows must be >= 1")
        self.model = model
        let n = max(maxRows, tokensPerForward ?? 512)
        cache = KVCache(config: model.config, slots: maxRows, tokensPerForward: n)
        rowLogits = Tensor(shape: [maxRows, model.config.vocabSize])
        decodeWeights = DecodeWeights(config: model.config)
    }

    /// `samplesPerPrompt` completions of every prompt, prompt-major: element
    /// p · samplesPerPrompt + s is sample s of prompt p. `promptIDs` (default
    /// 0, 1, …) name the prompts in the random counter; an RL step passes
    /// its step and each prompt's place in the global batch, so any split of
    /// the batch over calls or workers draws the same tokens.
    public func generate(prompts: [[Int32]], samplesPerPrompt: Int = 1, config: SamplingConfig, step: Int = 0,
                         promptIDs: [Int]? = nil, parallel: Parallel) -> [SampledCompletion] {
        precondition(samplesPerPrompt >= 1 && samplesPerPrompt <= maxRows,
                     "samplesPerPrompt \(samplesPerPrompt) must be in 1...maxRows (\(maxRows))")
        let ids = promptIDs ?? Array(prompts.indices)
        precondition(ids.count == prompts.count, "promptIDs and prompts differ in count")
        precondition(step >= 0 && step <= Int(UInt32.max) && ids.allSatisfy { $0 >= 0 && $0 <= Int(UInt32.max) },
                     "step and prompt ids must fit in 32 bits")
        precondition(prompts.allSatisfy { !$0.isEmpty }, "empty prompt")
        decodeWeights.update(from: model, parallel: parallel)
        let perCall = maxRows / samplesPerPrompt
        var out: [SampledCompletion] = []
        out.reserveCapacity(prompts.count * samplesPerPrompt)
        var start = 0
        while start < prompts.count {
            let end = min(prompts.count, start + perCall)
            out += generateGroup(prompts: prompts, range: start..<end, ids: ids, samples: samplesPerPrompt,
                                 config: config, step: step, parallel: parallel)
            start = end
        }
        return out
    }

    /// Rows (p − range.lowerBound) · samples + s of the cache.
    func generateGroup(prompts: [[Int32]], range: Range<Int>, ids: [Int], samples: Int, config: SamplingConfig,
                       step: Int, parallel: Parallel) -> [SampledCompletion] {
        let c = model.config, vocab = c.vocabSize
        var rows: [SampledCompletion] = []
        for p in range { for s in 0..<samples { rows.append(SampledCompletion(promptIndex: p, sampleIndex: s)) } }
        cache.clear()
        // A prompt longer than the context gets nothing (Greedy's old loop did the same).
        let runnable = range.filter { prompts[$0].count <= c.seqLen && config.maxNewTokens > 0 }
        for p in range where prompts[p].count > c.seqLen && config.maxNewTokens > 0 {
            for s in 0..<samples { rows[(p - range.lowerBound) * samples + s].finishReason = .context }
        }

        // Prefill each prompt once, into its first row's slot, packing prompts
        // (split where a forward fills up) into forwards of tokensPerForward tokens.
        let capacity = cache.tokensPerForward
        var pending: [(slot: Int, tokens: [Int32])] = [], finalPiece: [Bool] = [], used = 0
        func flush() {
            guard !pending.isEmpty else { return }
            let logits = model.forward(cache: cache, segments: pending, decodeWeights: decodeWeights, parallel: parallel)
            for (i, seg) in pending.enumerated() where finalPiece[i] {
                (rowLogits.pointer + seg.slot * vocab).update(from: logits.pointer + i * vocab, count: vocab)
            }
            pending.removeAll(); finalPiece.removeAll(); used = 0
        }
        for p in runnable {
            let slot = (p - range.lowerBound) * samples
            var rest = prompts[p][...]
            while !rest.isEmpty {
                let take = min(rest.count, capacity - used)
                pending.append((slot, Array(rest.prefix(take))))
                finalPiece.append(take == rest.count)
                rest = rest.dropFirst(take)
                used += take
                if used == capacity { flush() }
            }
        }
        flush()
        for p in runnable {
            let first = (p - range.lowerBound) * samples
            for s in 1..<samples {
                cache.copy(slot: first, to: first + s)
                (rowLogits.pointer + (first + s) * vocab).update(from: rowLogits.pointer + first * vocab, count: vocab)
            }
        }

        let stream = RandomStream(seed: config.seed, name: "sample")
        var active = runnable.flatMap { p in (0..<samples).map { (p - range.lowerBound) * samples + $0 } }
        while !active.isEmpty {
            var segments: [(slot: Int, tokens: [Int32])] = []
            for r in active {
                let p = rows[r].promptIndex, s = rows[r].sampleIndex, position = rows[r].count
                let u = Sampler.uniform(stream, step: step, promptID: ids[p], sample: s, position: position)
                let choice = NextToken.choose(rowLogits.pointer + r * vocab, vocab: vocab, config: config, uniform: u)
                rows[r].tokens.append(choice.token)
                rows[r].logProbs.append(choice.logProb)
                rows[r].modelLogProbs.append(choice.modelLogProb)
                if config.stopSequences.contains(where: { rows[r].tokens.hasSuffix($0) }) {
                    rows[r].finishReason = .stop
                } else if rows[r].count >= config.maxNewTokens {
                    rows[r].finishReason = .length
                } else if prompts[p].count + rows[r].count > c.seqLen {
                    rows[r].finishReason = .context
                } else {
                    segments.append((r, [choice.token]))
                }
            }
            if segments.isEmpty { break }
            let logits = model.forward(cache: cache, segments: segments, decodeWeights: decodeWeights, parallel: parallel)
            for (i, seg) in segments.enumerated() {
                (rowLogits.pointer + seg.slot * vocab).update(from: logits.pointer + i * vocab, count: vocab)
            }
            active = segments.map(\.slot)
        }
        return rows
    }
}

extension Sampler {
    /// The uniform that picks token `position` of sample `sample` of prompt
    /// `promptID` at `step`: the counter every sampler of Simply draws with
    /// (`generate`, and the server's continuous batching), so the same
    /// request gives the same tokens from either.
    @inline(__always)
    public static func uniform(_ stream: RandomStream, step: Int, promptID: Int, sample: Int, position: Int) -> Float {
        stream.uniform(UInt64(step) | UInt64(promptID) << 32, UInt64(sample) | UInt64(position) << 32)
    }
}

extension Array where Element: Equatable {
    func hasSuffix(_ suffix: [Element]) -> Bool {
        suffix.count <= count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}
