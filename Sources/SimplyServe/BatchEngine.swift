import Foundation
import SimplyCore
import Synchronization
import SimplyModel

/// One request as the engine sees it: a prompt's tokens in, `choices`
/// sampled continuations out.
public struct GenerationRequest: Sendable {
    public var prompt: [Int32]
    /// OpenAI's `n`: continuations of the one prompt, sample indices 0..<choices.
    public var choices: Int
    /// Temperature, top-k, top-p, max_tokens, the stop token sequences and the seed.
    public var sampling: SamplingConfig
    /// OpenAI's `stop` strings: a continuation ends once its text contains one.
    public var stopTexts: [String]
    /// nil: no log-probabilities; k: the chosen token's and the k most likely.
    public var topLogProbs: Int?

    public init(prompt: [Int32], choices: Int = 1, sampling: SamplingConfig, stopTexts: [String] = [], topLogProbs: Int? = nil) {
        self.prompt = prompt; self.choices = choices; self.sampling = sampling
        self.stopTexts = stopTexts; self.topLogProbs = topLogProbs
    }
}

/// One sampled token of one continuation.
public struct GeneratedToken: Sendable {
    public let choice: Int
    public let token: Int32
    /// log softmax of the unmodified model (temperature 1, no filter): the
    /// bits `simply sample --json` reports as model_logprob terms.
    public let logProb: Float
    /// With `topLogProbs`: the k most likely tokens and their log-probabilities.
    public let top: [(token: Int32, logProb: Float)]
}

public enum GenerationEvent: Sendable {
    case token(GeneratedToken)
    /// The continuation `choice` ended; its tokens so far are all it has.
    case finished(choice: Int, reason: FinishReason)
}

public enum EngineRefusal: Error, Equatable, CustomStringConvertible {
    case shuttingDown
    case queueFull(Int)
    case tooManyChoices(Int, limit: Int)

    public var description: String {
        switch self {
        case .shuttingDown: return "the server is shutting down and takes no new requests"
        case let .queueFull(n): return "the server has \(n) requests waiting; try again later"
        case let .tooManyChoices(n, limit): return "n is \(n), more than the server's \(limit) concurrent sequences"
        }
    }
}

/// Continuous batching on the KV cache: every running continuation is one
/// cache slot, and each engine step is one cached forward over all of them
/// (a token each) plus chunks of newly admitted prompts. A request that
/// arrives mid-decode joins at the next step; a continuation that ends frees
/// its slot at once; requests beyond `maxSequences` wait in a FIFO queue.
///
/// Batch-invariance, by construction: the cached forward gives every row the
/// bits a forward over its sequence alone would (rows never mix; see
/// `Transformer.forward(cache:segments:)`), and token i of continuation c of
/// a request is drawn at counter (step 0, prompt 0, sample c, position i) of
/// the request's own Philox stream (`Sampler.uniform`). So a seeded request
/// gets the same tokens alone, among 31 others, split into any prefill
/// chunks, on any thread count, and as `simply sample --seed` gives them.
public final class BatchEngine: @unchecked Sendable {
    public let model: Transformer
    public let maxSequences: Int
    public let maxQueued: Int
    let cache: KVCache
    let decodeWeights: DecodeWeights
    let rowLogits: Tensor      // [maxSequences, vocab]: each slot's next-token logits
    let parallel: Parallel
    /// Decodes a continuation's tokens for `stopTexts`.
    let decode: @Sendable ([Int32]) -> String

    // Shared with the submitting threads, under `lock`.
    let lock = NSCondition()
    var waiting: [Job] = []
    var running: [Job] = []
    var draining = false
    var stopped = false
    var threadDone = false
    /// Served so far (for /health).
    var counters = EngineCounters()

    // The engine thread's own.
    var freeSlots: [Int]

    /// `tokensPerForward` bounds one step's tokens (decode rows plus prompt
    /// chunks); it changes latency and memory, never bits.
    public init(model: Transformer, maxSequences: Int, maxQueued: Int = 1024, tokensPerForward: Int = 512,
                parallel: Parallel, decode: @escaping @Sendable ([Int32]) -> String) {
        precondition(maxSequences >= 1 && maxQueued >= 0, "maxSequences must be >= 1")
        precondition(parallel.deterministic, "the server's batch-invariance needs the deterministic kernels")
        self.model = model
        self.maxSequences = maxSequences
        self.maxQueued = maxQueued
        self.parallel = parallel
        self.decode = decode
        cache = KVCache(config: model.config, slots: maxSequences, tokensPerForward: max(tokensPerForward, maxSequences))
        decodeWeights = DecodeWeights(config: model.config)
        decodeWeights.update(from: model, parallel: parallel)
        rowLogits = Tensor(shape: [maxSequences, model.config.vocabSize])
        freeSlots = Array((0..<maxSequences).reversed())
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "simply-serve-engine"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues a request; its events arrive on the stream, which finishes after
    /// the last continuation's `.finished`. Ending the stream early (a client
    /// that went away) cancels the request and frees its slots.
    public func submit(_ request: GenerationRequest) throws -> GenerationHandle {
        precondition(!request.prompt.isEmpty && request.prompt.count < model.config.seqLen,
                     "the prompt must leave room in the context (checked by the caller)")
        guard request.choices >= 1, request.choices <= maxSequences else {
            throw EngineRefusal.tooManyChoices(request.choices, limit: maxSequences)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: GenerationEvent.self, bufferingPolicy: .unbounded)
        let job = Job(request, continuation)
        lock.lock()
        defer { lock.unlock() }
        if draining || stopped { throw EngineRefusal.shuttingDown }
        if waiting.count >= maxQueued { throw EngineRefusal.queueFull(waiting.count) }
        waiting.append(job)
        counters.requests += 1
        lock.signal()
        // Runs inside `finish()` too, which the engine calls under its lock: no locking here.
        continuation.onTermination = { [weak job] _ in job?.cancelled.store(true, ordering: .relaxed) }
        return GenerationHandle(events: stream, job: job)
    }

    /// Refuses new requests from now on; running and queued ones go on.
    public func beginDraining() { lock.lock(); draining = true; lock.broadcast(); lock.unlock() }

    /// Sequences decoding and requests waiting, now.
    public var load: (running: Int, waiting: Int, counters: EngineCounters) {
        lock.lock(); defer { lock.unlock() }
        return (running.reduce(0) { $0 + $1.liveChoices }, waiting.count, counters)
    }

    /// True once draining and nothing is left to do.
    public var isIdle: Bool {
        lock.lock(); defer { lock.unlock() }
        return waiting.isEmpty && running.isEmpty
    }

    /// Stops the engine thread after the requests in hand (blocks until it has).
    public func shutdown() {
        lock.lock()
        draining = true; stopped = true
        lock.broadcast()
        while !threadDone { lock.wait() }
        lock.unlock()
    }

    // MARK: - The engine thread

    func loop() {
        while true {
            lock.lock()
            while waiting.isEmpty && running.isEmpty && !stopped { lock.wait() }
            if stopped && waiting.isEmpty && running.isEmpty {
                threadDone = true
                lock.broadcast()
                lock.unlock()
                return
            }
            // Cancelled requests leave before the step; the queue is FIFO.
            for job in running where job.isCancelled && !job.done { release(job); counters.cancelled += 1 }
            running.removeAll { $0.isCancelled }
            for job in waiting where job.isCancelled { job.continuation.finish(); counters.cancelled += 1 }
            waiting.removeAll { $0.isCancelled }
            while let head = waiting.first, head.request.choices <= freeSlots.count {
                waiting.removeFirst()
                head.slots = (0..<head.request.choices).map { _ in freeSlots.removeLast() }
                running.append(head)
            }
            let jobs = running
            lock.unlock()
            if !jobs.isEmpty { step(jobs) }
            lock.lock()
            for job in running where job.done { job.continuation.finish() }
            running.removeAll { $0.done }
            lock.unlock()
        }
    }

    /// Frees a job's slots (engine thread, under the lock).
    func release(_ job: Job) {
        for (c, slot) in job.slots.enumerated() where slot >= 0 {
            freeSlots.append(slot); cache.clear(slot: slot); job.slots[c] = -1
        }
        job.continuation.finish()
    }

    /// One cached forward over every running continuation's last token and the
    /// next chunks of prompts still being prefilled, then one draw per
    /// continuation whose logits are new.
    func step(_ jobs: [Job]) {
        let vocab = model.config.vocabSize, seqLen = model.config.seqLen
        var segments: [(slot: Int, tokens: [Int32])] = []
        var fresh: [(job: Job, choice: Int, segment: Int)] = []    // rows whose logits this forward makes
        var budget = cache.tokensPerForward
        for job in jobs where job.prefilled == job.request.prompt.count {
            for c in 0..<job.request.choices where job.slots[c] >= 0 {
                guard let t = job.pendingInput[c] else { continue }
                fresh.append((job, c, segments.count))
                segments.append((job.slots[c], [t]))
                budget -= 1
            }
        }
        var prefilledNow: [Job] = []
        for job in jobs where job.prefilled < job.request.prompt.count && budget > 0 {
            let prompt = job.request.prompt, take = min(prompt.count - job.prefilled, budget)
            if job.prefilled + take == prompt.count {
                fresh.append((job, 0, segments.count))
                prefilledNow.append(job)
            }
            segments.append((job.slots[0], Array(prompt[job.prefilled..<(job.prefilled + take)])))
            job.prefilled += take
            budget -= take
        }
        guard !segments.isEmpty else { return }
        let logits = model.forward(cache: cache, segments: segments, decodeWeights: decodeWeights, parallel: parallel)
        for f in fresh {
            (rowLogits.pointer + f.job.slots[f.choice] * vocab).update(from: logits.pointer + f.segment * vocab, count: vocab)
        }
        // n > 1: the prompt was prefilled once, into the first choice's slot.
        for job in prefilledNow where job.request.choices > 1 {
            for c in 1..<job.request.choices {
                cache.copy(slot: job.slots[0], to: job.slots[c])
                (rowLogits.pointer + job.slots[c] * vocab).update(from: rowLogits.pointer + job.slots[0] * vocab, count: vocab)
                fresh.append((job, c, -1))
            }
        }

        // The draws, one per row, side by side (each a pure function of its row).
        let draws = UnsafeMutablePointer<Draw>.allocate(capacity: fresh.count)
        defer { draws.deinitialize(count: fresh.count); draws.deallocate() }
        let inputs = fresh.map { f -> (slot: Int, config: SamplingConfig, u: Float, top: Int?) in
            let job = f.job, c = f.choice
            return (job.slots[c], job.request.sampling,
                    Sampler.uniform(job.stream, step: 0, promptID: 0, sample: c, position: job.tokens[c].count),
                    job.request.topLogProbs)
        }
        let out = SendablePointer(draws), logitsBase = SendablePointer(rowLogits.pointer)
        inputs.withUnsafeBufferPointer { inputs in
            let inp = SendablePointer(UnsafeMutablePointer(mutating: inputs.baseAddress!))
            parallel.forEachRange(fresh.count) { range in
                for i in range {
                    let x = inp.p[i], row = UnsafePointer(logitsBase.p + x.slot * vocab)
                    (out.p + i).initialize(to: Draw(
                        choice: NextToken.choose(row, vocab: vocab, config: x.config, uniform: x.u),
                        top: x.top.map { NextToken.topLogProbs(row, vocab: vocab, count: $0) } ?? []))
                }
            }
        }

        var finishedSlots: [Int] = [], generated = 0
        for (i, f) in fresh.enumerated() {
            let job = f.job, c = f.choice, r = job.request, slot = job.slots[c]
            let choice = draws[i].choice, top = draws[i].top
            job.tokens[c].append(choice.token)
            generated += 1
            job.continuation.yield(.token(GeneratedToken(choice: c, token: choice.token, logProb: choice.modelLogProb, top: top)))
            var reason: FinishReason?
            let tokens = job.tokens[c]
            if r.sampling.stopSequences.contains(where: { tokens.count >= $0.count && tokens.suffix($0.count).elementsEqual($0) }) {
                reason = .stop
            } else if !r.stopTexts.isEmpty, r.stopTexts.contains(where: decode(tokens).contains) {
                reason = .stop
            } else if tokens.count >= r.sampling.maxNewTokens {
                reason = .length
            } else if r.prompt.count + tokens.count > seqLen {
                reason = .context
            }
            if let reason {
                job.continuation.yield(.finished(choice: c, reason: reason))
                job.pendingInput[c] = nil
                finishedSlots.append(slot)
                job.slots[c] = -1
            } else {
                job.pendingInput[c] = choice.token
            }
        }
        lock.lock()
        for slot in finishedSlots { cache.clear(slot: slot); freeSlots.append(slot) }
        counters.tokens += generated
        counters.steps += 1
        lock.unlock()
    }
}

/// One row's draw: the token and, when asked, the top alternatives.
struct Draw {
    let choice: TokenChoice
    let top: [(token: Int32, logProb: Float)]
}

/// A submitted request: its events, and a way to give it up.
public struct GenerationHandle: Sendable {
    public let events: AsyncStream<GenerationEvent>
    let job: Job
    /// Frees the request's slots at the engine's next step (no-op once it ended).
    public func cancel() { job.cancelled.store(true, ordering: .relaxed) }
}

public struct EngineCounters: Sendable {
    /// Requests accepted.
    public var requests = 0
    /// Requests given up before they ended (a client that went away).
    public var cancelled = 0
    /// Tokens sampled.
    public var tokens = 0
    /// Cached forwards.
    public var steps = 0
}

/// A request in the engine. `cancelled` is set from any thread; the rest
/// belongs to the engine thread.
final class Job: @unchecked Sendable {
    let request: GenerationRequest
    let continuation: AsyncStream<GenerationEvent>.Continuation
    let stream: RandomStream
    let cancelled = Atomic<Bool>(false)
    /// Per choice: its cache slot, -1 once it has ended.
    var slots: [Int] = []
    /// Prompt tokens fed to the cache so far (into the first choice's slot).
    var prefilled = 0
    var tokens: [[Int32]]
    /// Per choice: the sampled token the next forward feeds.
    var pendingInput: [Int32?]

    init(_ request: GenerationRequest, _ continuation: AsyncStream<GenerationEvent>.Continuation) {
        self.request = request
        self.continuation = continuation
        stream = RandomStream(seed: request.sampling.seed, name: "sample")
        tokens = Array(repeating: [], count: request.choices)
        pendingInput = Array(repeating: nil, count: request.choices)
    }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
    var done: Bool { !slots.isEmpty && slots.allSatisfy { $0 < 0 } }
    var liveChoices: Int { slots.filter { $0 >= 0 }.count }
}
