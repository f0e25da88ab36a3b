import Foundation
import Testing
import SimplyCore
import SimplyData
import SimplyModel
import SimplyServe

/// A random-weight model over the byte tokenizer's ids (and some it never
/// writes), peaked enough that sampled tokens differ clearly between settings.
func serveModel(seqLen: Int = 128, dModel: Int = 64, layers: Int = 2) -> Transformer {
    var c = ModelConfig(vocabSize: 300, dModel: dModel, nLayers: layers, nHeads: 4, nKVHeads: 2, dFF: 96, seqLen: seqLen,
                        tieEmbeddings: true)
    c.initStd = 0.25
    let m = Transformer(config: c, maxBatch: 1)
    m.initialize(seed: 11)
    return m
}

/// Random byte-tokenizer ids from a named stream.
func servePrompt(_ n: Int, seed: UInt64) -> [Int32] {
    let s = RandomStream(seed: seed, name: "test.serve.prompt")
    return (0..<n).map { Int32(s.uint64(UInt64($0)) % 256) }
}

let byteDecode: @Sendable ([Int32]) -> String = { ByteTokenizer().decode($0) }

/// What one request got: per choice its tokens, their log-probability bits, the top alternatives, and why it ended.
struct Outcome: Equatable {
    var tokens: [[Int32]]
    var logProbBits: [[UInt32]]
    var top: [[[Int32]]]
    var finish: [FinishReason?]
}

func collect(_ handle: GenerationHandle, choices: Int) async -> Outcome {
    var o = Outcome(tokens: Array(repeating: [], count: choices), logProbBits: Array(repeating: [], count: choices),
                    top: Array(repeating: [], count: choices), finish: Array(repeating: nil, count: choices))
    for await e in handle.events {
        switch e {
        case let .token(g):
            #expect(o.finish[g.choice] == nil, "a token after its choice finished")
            o.tokens[g.choice].append(g.token); o.logProbBits[g.choice].append(g.logProb.bitPattern)
            o.top[g.choice].append(g.top.map(\.token))
        case let .finished(c, reason): o.finish[c] = reason
        }
    }
    return o
}

/// 32 requests that differ in every setting the engine has: prompt length
/// (some longer than a small engine's prefill chunk), n, temperature (greedy
/// too), top-k, top-p, max tokens, stop token sequences and stop strings, log-probabilities.
func mixedRequests(seqLen: Int) -> [GenerationRequest] {
    (0..<32).map { i in
        let prompt = servePrompt(1 + (i * 7) % 40, seed: UInt64(100 + i))
        let sampling = SamplingConfig(temperature: [1, 0.7, 0, 1.3][i % 4], topK: i % 5 == 0 ? 7 : 0, topP: i % 3 == 0 ? 0.9 : 1,
                                      maxNewTokens: min(4 + (i * 5) % 23, seqLen - prompt.count),
                                      stopSequences: i % 2 == 0 ? [[Int32(10)], [Int32(33), Int32(33)]] : [], seed: UInt64(1000 + i))
        return GenerationRequest(prompt: prompt, choices: i % 6 == 1 ? 3 : 1, sampling: sampling,
                                 stopTexts: i % 7 == 3 ? ["e", "th"] : [], topLogProbs: i % 4 == 2 ? 3 : nil)
    }
}

@Suite struct BatchEngineTests {
    /// The foundation of batch-invariance: one sequence's logits are the same
    /// bits decoded alone as among 31 others (a 32-row step, the packed-panel
    /// path) and as in a 40-row step mixing prefill chunks (the packed
    /// product), on 1 and 2 threads.
    @Test func aRowsLogitsAreTheSameAloneAndAmong31Others() {
        let m = serveModel(), v = m.config.vocabSize
        let weights = DecodeWeights(config: m.config)
        weights.update(from: m, parallel: .serial)
        let mine = servePrompt(9, seed: 1), next: Int32 = 42
        func row(slots: Int, others: Int, threads: Int, extraPrefill: Bool) -> [UInt32] {
            let parallel = Parallel(threads: threads)
            let cache = KVCache(config: m.config, slots: slots, tokensPerForward: 256)
            // Prefill: mine in slot 0, the others in theirs.
            var prefill: [(slot: Int, tokens: [Int32])] = [(0, mine)]
            for o in 0..<others { prefill.append((o + 1, servePrompt(1 + o % 5, seed: UInt64(50 + o)))) }
            _ = m.forward(cache: cache, segments: prefill, decodeWeights: weights, parallel: parallel)
            // One step: my next token beside everyone's.
            var step: [(slot: Int, tokens: [Int32])] = [(0, [next])]
            for o in 0..<others { step.append((o + 1, extraPrefill ? servePrompt(2, seed: UInt64(90 + o)) : [Int32(o)])) }
            let logits = m.forward(cache: cache, segments: step, decodeWeights: weights, parallel: parallel)
            return bits(Array(logits.toArray()[0..<v]))
        }
        let alone = row(slots: 1, others: 0, threads: 1, extraPrefill: false)
        #expect(row(slots: 32, others: 31, threads: 1, extraPrefill: false) == alone)
        #expect(row(slots: 32, others: 31, threads: 2, extraPrefill: false) == alone)
        #expect(row(slots: 32, others: 31, threads: 2, extraPrefill: true) == alone)   // 63 rows: past the packed panels
        #expect(row(slots: 1, others: 0, threads: 2, extraPrefill: false) == alone)
    }

    /// The check at the engine: 32 seeded requests submitted at once
    /// get the tokens and log-probabilities they get one at a time; and so on
    /// 1 or 2 threads, with 8 slots (most requests queue), and with prefill in
    /// chunks of 16 tokens.
    @Test func seededRequestsGetTheSameTokensAloneOrAmong31Others() async {
        let m = serveModel(), requests = mixedRequests(seqLen: m.config.seqLen)
        func engine(threads: Int, slots: Int = 32, chunk: Int = 512) -> BatchEngine {
            BatchEngine(model: m, maxSequences: slots, tokensPerForward: chunk, parallel: Parallel(threads: threads), decode: byteDecode)
        }
        let one = engine(threads: 2)
        var sequential: [Outcome] = []
        for r in requests {
            let h = try! one.submit(r)
            sequential.append(await collect(h, choices: r.choices))
        }
        #expect(sequential.allSatisfy { o in o.finish.allSatisfy { $0 != nil } })
        #expect(Set(sequential.flatMap(\.finish)).count >= 2, "the requests end in different ways")
        for (name, e) in [("concurrent", one), ("1 thread", engine(threads: 1)), ("8 slots", engine(threads: 2, slots: 8)),
                          ("16-token prefill chunks", engine(threads: 1, chunk: 16))] {
            let handles = requests.map { try! e.submit($0) }
            var together: [Outcome] = []
            for (h, r) in zip(handles, requests) { together.append(await collect(h, choices: r.choices)) }
            for i in requests.indices { #expect(together[i] == sequential[i], "request \(i), \(name)") }
            #expect(e.load.counters.steps > 0)
            e.shutdown()
        }
    }

    /// A request that joins while another decodes gets its solo tokens, and
    /// so does the one it joined.
    @Test func aRequestJoiningMidDecodeChangesNothing() async {
        let m = serveModel()
        let e = BatchEngine(model: m, maxSequences: 4, parallel: Parallel(threads: 2), decode: byteDecode)
        defer { e.shutdown() }
        let long = GenerationRequest(prompt: servePrompt(5, seed: 7), sampling: SamplingConfig(maxNewTokens: 50, seed: 3))
        let late = GenerationRequest(prompt: servePrompt(11, seed: 8), choices: 2, sampling: SamplingConfig(maxNewTokens: 8, seed: 4))
        let longAlone = await collect(try! e.submit(long), choices: 1)
        let lateAlone = await collect(try! e.submit(late), choices: 2)
        let h = try! e.submit(long)
        var first: [Int32] = [], lateHandle: GenerationHandle?, joined: Outcome?
        var o = Outcome(tokens: [[]], logProbBits: [[]], top: [[]], finish: [nil])
        for await event in h.events {
            if case let .token(g) = event {
                o.tokens[0].append(g.token); o.logProbBits[0].append(g.logProb.bitPattern); o.top[0].append([])
                first.append(g.token)
                if first.count == 10 { lateHandle = try! e.submit(late) }   // arrives mid-decode
            } else if case let .finished(_, reason) = event {
                o.finish[0] = reason
            }
        }
        if let lateHandle { joined = await collect(lateHandle, choices: 2) }
        #expect(o == longAlone)
        #expect(joined == lateAlone)
    }

    /// The engine draws what `Sampler.generate` draws for the same prompt,
    /// seed and settings (prompt 0 at step 0): `simply serve` answers as
    /// `simply sample` does.
    @Test func theEngineSamplesWhatTheSamplerSamples() async {
        let m = serveModel(), e = BatchEngine(model: m, maxSequences: 4, parallel: Parallel(threads: 2), decode: byteDecode)
        defer { e.shutdown() }
        for r in mixedRequests(seqLen: m.config.seqLen).prefix(8) where r.stopTexts.isEmpty {
            let want = Sampler(model: m, maxRows: r.choices).generate(prompts: [r.prompt], samplesPerPrompt: r.choices,
                                                                     config: r.sampling, parallel: Parallel(threads: 1))
            let got = await collect(try! e.submit(r), choices: r.choices)
            #expect(got.tokens == want.map(\.tokens))
            #expect(got.logProbBits == want.map { $0.modelLogProbs.map(\.bitPattern) })
            #expect(got.finish == want.map { Optional($0.finishReason) })
        }
    }

    /// A cancelled request (a client gone) ends without a finish and gives its
    /// slot back; with one slot, the request waiting behind it then runs.
    /// (Whether the cancel meets it queued or decoding depends on timing; both
    /// free it. The HTTP disconnect mid-stream is tools/serve's check.)
    @Test func cancellingFreesTheSlot() async {
        let m = serveModel()
        let e = BatchEngine(model: m, maxSequences: 1, parallel: Parallel(threads: 1), decode: byteDecode)
        defer { e.shutdown() }
        let long = GenerationRequest(prompt: [1, 2, 3], sampling: SamplingConfig(maxNewTokens: 120, seed: 1))
        let h = try! e.submit(long)
        h.cancel()
        let waiting = try! e.submit(GenerationRequest(prompt: [4, 5], sampling: SamplingConfig(maxNewTokens: 3, seed: 2)))
        var finished = false
        for await event in h.events { if case .finished = event { finished = true } }
        #expect(!finished)
        let after = await collect(waiting, choices: 1)
        #expect(after.tokens[0].count == 3 && after.finish == [.length])
        let load = e.load
        #expect(load.counters.cancelled == 1 && load.running == 0 && load.waiting == 0)
    }

    /// Beyond the queue's bound a request is refused; once draining, every new one is.
    @Test func refusals() async {
        let m = serveModel()
        let e = BatchEngine(model: m, maxSequences: 1, maxQueued: 1, parallel: Parallel(threads: 1), decode: byteDecode)
        defer { e.shutdown() }
        let r = GenerationRequest(prompt: [1], sampling: SamplingConfig(maxNewTokens: 40, seed: 1))
        #expect(throws: EngineRefusal.tooManyChoices(2, limit: 1)) {
            try e.submit(GenerationRequest(prompt: [1], choices: 2, sampling: SamplingConfig()))
        }
        var handles = [try! e.submit(r)]
        // The first may or may not have left the queue yet: at most two more fit.
        var refused = false
        for _ in 0..<3 {
            do { handles.append(try e.submit(r)) } catch { #expect(error as? EngineRefusal == .queueFull(1)); refused = true }
        }
        #expect(refused)
        e.beginDraining()
        #expect(throws: EngineRefusal.shuttingDown) { try e.submit(r) }
        // Draining still finishes what it has.
        for h in handles { #expect(await collect(h, choices: 1).finish == [.length]) }
    }
}

func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }
