import ArgumentParser
import Foundation
import SimplyCore
import SimplyModel
import SimplyRun
import SimplyServe
import SimplyTrain

/// `simply serve`: an OpenAI-compatible server for a checkpoint, with
/// continuous batching whose answers do not depend on the load (docs/serve.md).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a checkpoint over the OpenAI API (chat, completions, streaming) with continuous batching.",
        discussion: """
        POST /v1/chat/completions and /v1/completions, GET /v1/models and /health, and a chat page at /. \
        A request with a seed gets the same tokens alone or among any others, on any thread count. \
        SIGTERM (or Ctrl-C) finishes running requests, refuses new ones, and exits 0.
        """)

    @OptionGroup var model: CheckpointOption

    @Option(name: .customLong("host"), help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .customLong("port"), help: "The port (0: any free port; the one chosen is printed).")
    var port = 8000

    @Option(name: .customLong("model_name"), help: "The model name requests use (default: the run directory's name).")
    var modelName: String?

    @Option(name: .customLong("max_sequences"), help: "Continuations decoded at once; more requests wait in a queue.")
    var maxSequences = 32

    @Option(name: .customLong("max_queued"), help: "Requests that may wait for a slot; beyond them a request gets 503.")
    var maxQueued = 1024

    @Option(name: .customLong("tokens_per_step"), help: "Tokens one decoding step takes (running continuations plus prompt chunks).")
    var tokensPerStep = 512

    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535 (got \(port))") }
        guard (1...4096).contains(maxSequences) else { throw ValidationError("--max_sequences must be in 1...4096 (got \(maxSequences))") }
        guard maxQueued >= 0 else { throw ValidationError("--max_queued must be >= 0 (got \(maxQueued))") }
        guard (1...65536).contains(tokensPerStep) else { throw ValidationError("--tokens_per_step must be in 1...65536 (got \(tokensPerStep))") }
    }

    func run() throws {
        let threads = threadOptions.count()
        let server: Server
        do {
            let m = try TrainedModel(URL(fileURLWithPath: model.checkpoint), maxBatch: 1)
            let c = m.config.model
            // The KV cache: keys and values of every slot's whole context, per layer.
            let cacheBytes = Double(maxSequences) * Double(c.seqLen * c.nKVHeads * c.headDim * c.nLayers * 2 * 4)
            guard cacheBytes + 8 * c.parameterCountEstimate < Double(ProcessInfo.processInfo.physicalMemory) else {
                fail("a KV cache of \(maxSequences) sequences of \(c.seqLen) tokens needs \(Int(cacheBytes / Double(1 << 30))) GiB, "
                     + "more than this machine has: use a smaller --max_sequences")
            }
            let tokenizer = try TrainingData.loadTokenizer(m.config)
            let run = m.checkpoint.standardizedFileURL.deletingLastPathComponent().deletingLastPathComponent()
            let served = ServedModel(name: modelName ?? run.lastPathComponent, seqLen: c.seqLen, tokenizer: tokenizer,
                                     stateSHA256: m.stateSHA256, maxSequences: maxSequences)
            let engine = BatchEngine(model: m.model, maxSequences: maxSequences, maxQueued: maxQueued, tokensPerForward: tokensPerStep,
                                     parallel: Parallel(threads: threads, deterministic: true),
                                     decode: { tokenizer.decode($0) })
            server = Server(engine: engine, served: served)
            log("simply serve: \(served.name) (step \(m.step), state \(m.stateSHA256.prefix(12))), "
                + "\(maxSequences) sequences of \(c.seqLen) tokens, \(threads) threads")
        } catch { fail("\(error)") }

        let host = host, port = port
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.run(host: host, port: port) { bound in
                    log("listening on http://\(host):\(bound) (OpenAI base_url http://\(host):\(bound)/v1)")
                }
            } catch { outcome.set("cannot serve on \(host):\(port): \(error)") }
            done.signal()
        }
        done.wait()
        // The listener is closed and every connection has ended: stop the engine.
        server.engine.shutdown()
        let counters = server.engine.load.counters
        if let error = outcome.get() { fail(error) }
        log("simply serve: stopped after \(counters.requests) requests and \(counters.tokens) completion tokens")
    }
}

/// The server task's error, read after it ended.
final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var message: String?
    func set(_ m: String) { lock.lock(); message = m; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return message }
}
