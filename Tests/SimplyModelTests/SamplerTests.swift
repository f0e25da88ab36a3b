import Foundation
import Testing
import SimplyCore
import SimplyModel

/// A small GQA model with peaked random weights (so tokens differ clearly).
func samplerModel(tied: Bool = true, vocab: Int = 67, seqLen: Int = 24, std: Float = 0.3, seed: UInt64 = 5) -> Transformer {
    var c = ModelConfig(vocabSize: vocab, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 48, seqLen: seqLen,
                        tieEmbeddings: tied)
    c.initStd = std
    let m = Transformer(config: c, maxBatch: 4)
    m.initialize(seed: seed)
    return m
}

/// Random tokens from a named stream.
func someTokens(_ n: Int, vocab: Int, seed: UInt64) -> [Int32] {
    let s = RandomStream(seed: seed, name: "test.tokens")
    return (0..<n).map { Int32(s.uint64(UInt64($0)) % UInt64(vocab)) }
}

/// The logits of a full forward over `tokens` alone, [n · vocab].
func fullLogits(_ m: Transformer, _ tokens: [Int32], parallel: Parallel = .serial) -> [Float] {
    let n = tokens.count
    _ = m.forward(tokens: tokens, targets: Array(repeating: 0, count: n), weights: Array(repeating: 0, count: n),
                  batch: 1, seqLen: n, parallel: parallel)
    return m.logits.toArray()
}

func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

@Suite struct KVCacheTests {
    /// Decoding with the cache gives logits bit-identical to the full forward
    /// on the same tokens: whole prompt at once, token by token, split into
    /// odd pieces and mixed with other sequences in one call, on 1 and 3 threads,
    /// tied and untied heads, up to a full seq_len context.
    @Test(arguments: [true, false]) func cachedLogitsEqualTheFullForward(tied: Bool) {
        let m = samplerModel(tied: tied)
        let v = m.config.vocabSize
        let seqs = [someTokens(24, vocab: v, seed: 1), someTokens(5, vocab: v, seed: 2), someTokens(13, vocab: v, seed: 3)]
        let want = seqs.map { fullLogits(m, $0) }
        let packed = DecodeWeights(config: m.config)
        packed.update(from: m, parallel: .serial)
        let runs: [(Int, DecodeWeights?)] = [(1, nil), (3, nil), (1, packed), (2, packed)]
        for (threads, wt) in runs {
            let parallel = Parallel(threads: threads)
            // All of each sequence in one call, every position's logits.
            let cache = KVCache(config: m.config, slots: 3, tokensPerForward: 64)
            let all = m.forward(cache: cache, segments: seqs.enumerated().map { ($0.offset, $0.element) }, allLogits: true,
                                decodeWeights: wt, parallel: parallel).toArray()
            var o = 0
            for (s, seq) in seqs.enumerated() {
                #expect(bits(Array(all[(o * v)..<((o + seq.count) * v)])) == bits(want[s]), "prefill, seq \(s), \(threads) threads")
                o += seq.count
            }
            #expect(cache.lengths == [24, 5, 13])
            // Token by token, the three sequences advancing together until each runs out.
            cache.clear()
            for p in 0..<24 {
                let live = seqs.indices.filter { p < seqs[$0].count }
                let logits = m.forward(cache: cache, segments: live.map { ($0, [seqs[$0][p]]) }, decodeWeights: wt, parallel: parallel).toArray()
                for (i, s) in live.enumerated() {
                    #expect(bits(Array(logits[(i * v)..<((i + 1) * v)])) == bits(Array(want[s][(p * v)..<((p + 1) * v)])),
                            "decode, seq \(s) position \(p), \(threads) threads")
                }
            }
            // Odd pieces: 7, then 1, then 16 tokens of the long sequence, the middle piece beside a fresh short one.
            cache.clear()
            _ = m.forward(cache: cache, segments: [(2, Array(seqs[0][0..<7]))], decodeWeights: wt, parallel: parallel)
            let mid = m.forward(cache: cache, segments: [(0, Array(seqs[1])), (2, [seqs[0][7]])], decodeWeights: wt, parallel: parallel).toArray()
            #expect(bits(Array(mid[v..<(2 * v)])) == bits(Array(want[0][(7 * v)..<(8 * v)])))
            #expect(bits(Array(mid[0..<v])) == bits(Array(want[1][(4 * v)..<(5 * v)])))
            let rest = m.forward(cache: cache, segments: [(2, Array(seqs[0][8...]))], allLogits: true, decodeWeights: wt,
                                 parallel: parallel).toArray()
            #expect(bits(rest) == bits(Array(want[0][(8 * v)...])))
            // A copied slot continues like the original.
            cache.copy(slot: 0, to: 1)
            let next = someTokens(3, vocab: v, seed: 9)
            let a = m.forward(cache: cache, segments: [(0, next)], decodeWeights: wt, parallel: parallel).toArray()
            let b = m.forward(cache: cache, segments: [(1, next)], decodeWeights: wt, parallel: parallel).toArray()
            #expect(bits(a) == bits(b) && bits(a) == bits(Array(fullLogits(m, seqs[1] + next)[(7 * v)...])))
        }
    }

    /// The cached attention's register-blocked loops (eight scores at a time,
    /// 32 output lanes at a time, and their tails) at head dimension 40 give
    /// the full forward's bits at every position of a 37-token sequence.
    @Test func wideHeadsKeepTheFullForwardsBits() {
        var c = ModelConfig(vocabSize: 61, dModel: 160, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 64, seqLen: 40)
        c.initStd = 0.3
        let m = Transformer(config: c, maxBatch: 1)
        m.initialize(seed: 8)
        let v = c.vocabSize, seq = someTokens(37, vocab: v, seed: 4), want = fullLogits(m, seq)
        for threads in [1, 2] {
            let cache = KVCache(config: c, slots: 2, tokensPerForward: 64)
            var got: [Float] = []
            for t in seq { got += m.forward(cache: cache, segments: [(1, [t])], parallel: Parallel(threads: threads)).toArray() }
            #expect(bits(got) == bits(want), "\(threads) threads")
        }
    }
}

@Suite struct NextTokenTests {
    /// log of a hand-made distribution over 5 tokens.
    static let p: [Float] = [0.05, 0.4, 0.1, 0.3, 0.15]
    static let logits = p.map { Float(Foundation.log(Double($0))) + 2 }

    func probs(_ c: SamplingConfig) -> [Float] { NextToken.probabilities(logits: Self.logits, config: c) }

    func expectClose(_ a: [Float], _ b: [Double], _ what: String) {
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) { #expect(abs(Double(x) - y) < 2e-6, "\(what): \(a) vs \(b)") }
    }

    /// Top-k and top-p keep the right tokens and renormalise; temperature
    /// sharpens/flattens; ties go to the lower id.
    @Test func filtersOnAHandMadeDistribution() {
        let p = Self.p.map(Double.init)
        expectClose(probs(SamplingConfig()), p, "no filter")
        expectClose(probs(SamplingConfig(topK: 2)), [0, 0.4 / 0.7, 0, 0.3 / 0.7, 0], "top_k 2")
        expectClose(probs(SamplingConfig(topK: 1)), [0, 1, 0, 0, 0], "top_k 1")
        expectClose(probs(SamplingConfig(topK: 9)), p, "top_k above the vocabulary")
        expectClose(probs(SamplingConfig(topP: 0.3)), [0, 1, 0, 0, 0], "top_p 0.3")
        expectClose(probs(SamplingConfig(topP: 0.5)), [0, 0.4 / 0.7, 0, 0.3 / 0.7, 0], "top_p 0.5")
        expectClose(probs(SamplingConfig(topP: 0.75)), [0, 0.4 / 0.85, 0, 0.3 / 0.85, 0.15 / 0.85], "top_p 0.75")
        expectClose(probs(SamplingConfig(topP: 0.9)), [0, 0.4 / 0.95, 0.1 / 0.95, 0.3 / 0.95, 0.15 / 0.95], "top_p 0.9")
        // top-p applies to the top-k survivors, renormalised: {1,3,4} → 0.47, 0.35, 0.18 → the first two reach 0.6.
        expectClose(probs(SamplingConfig(topK: 3, topP: 0.6)), [0, 0.4 / 0.7, 0, 0.3 / 0.7, 0], "top_k 3 then top_p 0.6")
        // Temperature 2: p ∝ sqrt(p).
        let s = p.map { $0.squareRoot() }, z = s.reduce(0, +)
        expectClose(probs(SamplingConfig(temperature: 2)), s.map { $0 / z }, "temperature 2")
        expectClose(probs(SamplingConfig(temperature: 0)), [0, 1, 0, 0, 0], "greedy")
        // Ties: the lower id wins a top-k place and the argmax.
        let tied: [Float] = [0, 1, 1, 1]
        #expect(NextToken.probabilities(logits: tied, config: SamplingConfig(topK: 2)) == [0, 0.5, 0.5, 0])
        #expect(NextToken.choose(logits: tied, config: .greedy(maxNewTokens: 1), uniform: 0.99).token == 1)
    }

    /// The draw is the inverse CDF over kept ids in ascending order, and the
    /// log-probabilities are those of the distribution and of the raw model.
    @Test func choiceAndLogProbabilities() {
        let c = SamplingConfig(topK: 3)   // kept {1: 0.4/0.85, 3: 0.3/0.85, 4: 0.15/0.85}
        for (u, want) in [(Float(0), 1), (0.47, 1), (0.48, 3), (0.82, 3), (0.83, 4), (0.999, 4)] {
            let t = NextToken.choose(logits: Self.logits, config: c, uniform: u)
            #expect(Int(t.token) == want, "u = \(u)")
            let q = [1: 0.4, 3: 0.3, 4: 0.15][want]!
            #expect(abs(Double(t.logProb) - Foundation.log(q / 0.85)) < 1e-6)
            #expect(abs(Double(t.modelLogProb) - Foundation.log(q)) < 1e-6)
        }
        // u just below 1, where u·S can round up to S: the last token with weight, never a zero-weight one.
        let edge: [Float] = [3, 1.5, 2, -200]   // exp(-203) is 0 in float32
        let u = Float(1).nextDown
        #expect(NextToken.choose(logits: edge, config: SamplingConfig(), uniform: u).token == 2)
        #expect(NextToken.choose(logits: edge, config: SamplingConfig(topK: 3), uniform: u).token == 2)
        // Temperature 1, no filter: the two log-probabilities are the same bits.
        for u: Float in [0, 0.3, 0.9] {
            let t = NextToken.choose(logits: Self.logits, config: SamplingConfig(), uniform: u)
            #expect(t.logProb.bitPattern == t.modelLogProb.bitPattern)
        }
        let g = NextToken.choose(logits: Self.logits, config: .greedy(maxNewTokens: 1), uniform: 0.5)
        #expect(g.token == 1 && g.logProb == 0 && abs(Double(g.modelLogProb) - Foundation.log(0.4)) < 1e-6)
    }

    /// Pearson's chi-square of `draws` Philox draws against `want`:
    /// deterministic seeds, so the statistic is a fixed number, not a flaky one.
    static func chiSquare(config: SamplingConfig, logits: [Float], draws: Int, seed: UInt64) -> (Double, [Int]) {
        let stream = RandomStream(seed: seed, name: "test.chi")
        var counts = [Int](repeating: 0, count: logits.count)
        for i in 0..<draws {
            counts[Int(NextToken.choose(logits: logits, config: config, uniform: stream.uniform(UInt64(i))).token)] += 1
        }
        let want = NextToken.probabilities(logits: logits, config: config)
        var chi = 0.0
        for (c, p) in zip(counts, want) where p > 0 {
            let e = Double(draws) * Double(p)
            chi += (Double(c) - e) * (Double(c) - e) / e
        }
        #expect(zip(counts, want).allSatisfy { $1 > 0 || $0 == 0 }, "a filtered token was drawn")
        return (chi, counts)
    }

    /// Temperature-1 frequencies match softmax: chi-square with 4 degrees of
    /// freedom below 18.47 (p = 0.001); also under temperature and top-p, and
    /// over a 67-token softmax of a wider spread.
    @Test func frequenciesMatchTheDistribution() {
        let (chi, counts) = Self.chiSquare(config: SamplingConfig(), logits: Self.logits, draws: 20000, seed: 1)
        print("chi-square, 4 dof, temperature 1: \(chi) counts \(counts)")
        #expect(chi < 18.47)
        let (chi2, _) = Self.chiSquare(config: SamplingConfig(temperature: 0.7, topP: 0.9), logits: Self.logits,
                                       draws: 20000, seed: 2)
        #expect(chi2 < 16.27)   // 3 dof
        let wide = someTokens(67, vocab: 1000, seed: 4).map { Float($0) / 250 }
        let (chi3, _) = Self.chiSquare(config: SamplingConfig(), logits: wide, draws: 50000, seed: 3)
        print("chi-square, 66 dof: \(chi3)")
        #expect(chi3 < 107.3)   // p = 0.001 at 66 dof
        // A wrong distribution is caught: the same draws scored against uniform probabilities.
        let (_, c) = Self.chiSquare(config: SamplingConfig(), logits: Self.logits, draws: 20000, seed: 1)
        let uniformChi = c.reduce(0.0) { $0 + (Double($1) - 4000) * (Double($1) - 4000) / 4000 }
        #expect(uniformChi > 1000)
    }
}

@Suite struct SamplerTests {
    static let prompts: [[Int32]] = [someTokens(9, vocab: 67, seed: 11), someTokens(3, vocab: 67, seed: 12),
                                     someTokens(17, vocab: 67, seed: 13), someTokens(1, vocab: 67, seed: 14)]

    /// The same tokens and log-probabilities on 1 and 2 threads, for a row
    /// alone and in a batch, with any maxRows and prefill chunk size.
    @Test func completionsDependOnlyOnTheirOwnRow() {
        let m = samplerModel()
        let config = SamplingConfig(temperature: 1, topK: 30, topP: 0.95, maxNewTokens: 10, seed: 42)
        let base = Sampler(model: m, maxRows: 8).generate(prompts: Self.prompts, samplesPerPrompt: 2, config: config,
                                                           step: 3, parallel: .serial)
        #expect(base.map(\.promptIndex) == [0, 0, 1, 1, 2, 2, 3, 3] && base.map(\.sampleIndex) == [0, 1, 0, 1, 0, 1, 0, 1])
        let two = Sampler(model: m, maxRows: 8).generate(prompts: Self.prompts, samplesPerPrompt: 2, config: config,
                                                          step: 3, parallel: Parallel(threads: 2))
        #expect(two == base)
        // Small batches and a 5-token prefill chunk (prompts split across forwards).
        let small = Sampler(model: m, maxRows: 3, tokensPerForward: 5).generate(
            prompts: Self.prompts, samplesPerPrompt: 2, config: config, step: 3, parallel: Parallel(threads: 2))
        #expect(small == base)
        // Prompt 2 alone, named by its id.
        let alone = Sampler(model: m, maxRows: 2).generate(prompts: [Self.prompts[2]], samplesPerPrompt: 2, config: config,
                                                           step: 3, promptIDs: [2], parallel: .serial)
        #expect(alone.map(\.tokens) == [base[4].tokens, base[5].tokens])
        #expect(alone.map(\.modelLogProbs) == [base[4].modelLogProbs, base[5].modelLogProbs])
        // Another step, seed or sample index draws other tokens.
        let other = Sampler(model: m, maxRows: 8).generate(prompts: Self.prompts, samplesPerPrompt: 2, config: config,
                                                            step: 4, parallel: .serial)
        #expect(other.map(\.tokens) != base.map(\.tokens))
        #expect(base[4].tokens != base[5].tokens)
        #expect(base.allSatisfy { $0.count == 10 && $0.finishReason == .length || $0.finishReason == .context })
    }

    /// Old log-probabilities for PPO/GRPO: each token's modelLogProb is, bit
    /// for bit, minus the cross-entropy of a full forward over prompt + completion.
    @Test func modelLogProbsEqualTheTrainingForward() {
        let m = samplerModel()
        let out = Sampler(model: m, maxRows: 4).generate(prompts: Self.prompts, config: SamplingConfig(temperature: 0.8, topK: 20,
                                                         maxNewTokens: 6, seed: 1), parallel: .serial)
        for (p, c) in zip(Self.prompts, out) {
            let seq = p + c.tokens
            let n = seq.count - 1
            let weights = (0..<n).map { $0 >= p.count - 1 ? Float(1) : 0 }
            _ = m.forward(tokens: Array(seq[0..<n]), targets: Array(seq[1...]), weights: weights, batch: 1, seqLen: n,
                          parallel: Parallel(threads: 2))
            let losses = m.positionLosses.toArray()
            let want = (0..<c.count).map { -losses[p.count - 1 + $0] }
            #expect(bits(c.modelLogProbs) == bits(want))
            #expect(zip(c.logProbs, c.modelLogProbs).allSatisfy { $0 != $1 })   // top-k and temperature change them
        }
        // The same bits from one batched forward of all rows padded to seq_len (a training step's layout).
        let t = m.config.seqLen
        var tokens = [Int32](repeating: 0, count: 4 * t), targets = tokens, weights = [Float](repeating: 0, count: 4 * t)
        for (r, (p, c)) in zip(Self.prompts, out).enumerated() {
            let seq = p + c.tokens
            for j in 0..<min(seq.count - 1, t) {
                tokens[r * t + j] = seq[j]; targets[r * t + j] = seq[j + 1]
                weights[r * t + j] = j >= p.count - 1 ? 1 : 0
            }
        }
        _ = m.forward(tokens: tokens, targets: targets, weights: weights, batch: 4, seqLen: t, parallel: Parallel(threads: 3))
        let losses = m.positionLosses.toArray()
        for (r, (p, c)) in zip(Self.prompts, out).enumerated() {
            let n = min(c.count, t - p.count + 1)
            #expect(bits(Array(c.modelLogProbs.prefix(n))) == bits((0..<n).map { -losses[r * t + p.count - 1 + $0] }))
        }
    }

    /// Top-k 1 is greedy at any temperature; greedy is the argmax of the
    /// full forward after each prefix.
    @Test func topKOneIsGreedy() {
        let m = samplerModel(std: 0.5)
        let s = Sampler(model: m, maxRows: 4)
        let greedy = s.generate(prompts: Self.prompts, config: .greedy(maxNewTokens: 7), parallel: .serial)
        let top1 = s.generate(prompts: Self.prompts, config: SamplingConfig(temperature: 1.7, topK: 1, maxNewTokens: 7, seed: 9),
                              parallel: .serial)
        #expect(greedy.map(\.tokens) == top1.map(\.tokens))
        #expect(greedy.allSatisfy { $0.logProbs.allSatisfy { $0 == 0 } } && top1.allSatisfy { $0.logProbs.allSatisfy { $0 == 0 } })
        for (p, c) in zip(Self.prompts, greedy) {
            var seq = p
            for t in c.tokens {
                _ = m.forward(tokens: seq, targets: Array(repeating: 0, count: seq.count),
                              weights: Array(repeating: 0, count: seq.count), batch: 1, seqLen: seq.count, parallel: .serial)
                #expect(m.predictedTokens().last == t)
                seq.append(t)
            }
        }
    }

    /// Stop sequences end a completion (and are kept), max_new_tokens and the
    /// context bound end the others; a prompt longer than seq_len gets nothing.
    @Test func finishReasons() {
        let m = samplerModel(std: 0.5)
        let s = Sampler(model: m, maxRows: 4)
        let free = s.generate(prompts: [Self.prompts[0]], config: .greedy(maxNewTokens: 8), parallel: .serial)[0]
        #expect(free.count == 8 && free.finishReason == .length)
        let stop = Array(free.tokens[2..<4])
        let stopped = s.generate(prompts: [Self.prompts[0]], config: .greedy(maxNewTokens: 8, stopSequences: [[66], stop]),
                                 parallel: .serial)[0]
        let firstEnd = (1...8).first { free.tokens[..<$0].suffix(2).elementsEqual(stop) || free.tokens[$0 - 1] == 66 }!
        #expect(stopped.tokens == Array(free.tokens[..<firstEnd]) && stopped.finishReason == .stop)
        // seq_len 24: a 22-token prompt gets 3 tokens (the last from a full context).
        let long = s.generate(prompts: [someTokens(22, vocab: 67, seed: 3), someTokens(25, vocab: 67, seed: 3)],
                              config: .greedy(maxNewTokens: 10), parallel: .serial)
        #expect(long[0].count == 3 && long[0].finishReason == .context)
        #expect(long[1].count == 0 && long[1].finishReason == .context)
        let none = s.generate(prompts: [Self.prompts[0]], config: .greedy(maxNewTokens: 0), parallel: .serial)[0]
        #expect(none.count == 0 && none.finishReason == .length)
        #expect(throws: SamplingError.self) { try SamplingConfig(topP: 0).validate() }
        #expect(throws: SamplingError.self) { try SamplingConfig(temperature: -1).validate() }
    }

    /// Temperature-1 sampling through the whole sampler (model, cache, Philox
    /// counters) matches the model's softmax: 16000 first tokens of one
    /// prompt under 2000 prompt ids × 8 samples; chi-square over the tokens
    /// with expected count ≥ 20 (the rest pooled).
    @Test func samplerFrequenciesMatchTheModelSoftmax() {
        let m = samplerModel(vocab: 11, std: 0.15)
        let prompt = someTokens(6, vocab: 11, seed: 21)
        let probs = NextToken.probabilities(logits: Array(fullLogits(m, prompt).suffix(11)), config: SamplingConfig())
        let draws = Sampler(model: m, maxRows: 64).generate(
            prompts: Array(repeating: prompt, count: 2000), samplesPerPrompt: 8, config: SamplingConfig(maxNewTokens: 1, seed: 3),
            parallel: .serial)
        var counts = [Int](repeating: 0, count: 11)
        for d in draws { counts[Int(d.tokens[0])] += 1 }
        let n = Double(draws.count)
        var chi = 0.0, pooledObs = 0.0, pooledExp = 0.0, dof = -1
        for (c, p) in zip(counts, probs) {
            let e = n * Double(p)
            if e >= 20 { chi += (Double(c) - e) * (Double(c) - e) / e; dof += 1 } else { pooledObs += Double(c); pooledExp += e }
        }
        if pooledExp > 0 { chi += (pooledObs - pooledExp) * (pooledObs - pooledExp) / pooledExp; dof += 1 }
        print("sampler chi-square \(chi) with \(dof) dof; probs \(probs) counts \(counts)")
        #expect(dof >= 5)
        #expect(chi < 29.6)   // p = 0.001 at 10 dof (smaller dof only makes the bound looser)
    }
}
