import Foundation
import Hummingbird
import Logging
import NIOCore
import SimplyCore
import SimplyModel
import Synchronization

/// The OpenAI-compatible HTTP face of a `BatchEngine`:
///
///     POST /v1/chat/completions   the model's chat template
///     POST /v1/completions        a plain prompt (text or token ids)
///     GET  /v1/models             the one served model
///     GET  /health                load and counters
///     GET  /                      a chat page
///
/// Bad requests get OpenAI's error JSON with a 4xx naming the field; a
/// stream whose client went away gives up its request at the next token.
public final class Server: Sendable {
    public let engine: BatchEngine
    public let served: ServedModel
    /// The largest request body read.
    public let maxBodyBytes: Int
    let serial = Mutex(0)

    public init(engine: BatchEngine, served: ServedModel, maxBodyBytes: Int = 4 << 20) {
        self.engine = engine; self.served = served; self.maxBodyBytes = maxBodyBytes
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: ChatPage.html)))
        }
        router.get("/health") { [self] _, _ in health() }
        router.get("/v1/models") { [self] _, _ in
            json(.ok, .object([("object", .string("list")), ("data", .array([modelObject]))]))
        }
        router.get("/v1/models/:id") { [self] _, context in
            guard context.parameters.get("id") == served.name else {
                return error(APIError(status: 404, "The model `\(context.parameters.get("id") ?? "")` does not exist",
                                      param: "model", code: "model_not_found"))
            }
            return json(.ok, modelObject)
        }
        router.post("/v1/chat/completions") { [self] request, _ in await complete(request, .chat) }
        router.post("/v1/completions") { [self] request, _ in await complete(request, .completions) }
        return router
    }

    var modelObject: JSONValue {
        .object([("id", .string(served.name)), ("object", .string("model")), ("created", .int(0)), ("owned_by", .string("simply")),
                 ("max_model_len", .int(served.seqLen))])
    }

    func health() -> Response {
        let load = engine.load
        return json(.ok, .object([
            ("status", .string("ok")), ("model", .string(served.name)), ("system_fingerprint", .string(served.fingerprint)),
            ("running", .int(load.running)), ("waiting", .int(load.waiting)), ("max_sequences", .int(engine.maxSequences)),
            ("requests", .int(load.counters.requests)), ("cancelled", .int(load.counters.cancelled)),
            ("completion_tokens", .int(load.counters.tokens)), ("steps", .int(load.counters.steps)),
        ]))
    }

    func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: value.serialized() + "\n")))
    }

    func error(_ e: APIError) -> Response { json(HTTPResponse.Status(code: e.status), e.json) }

    /// Below 2^53, so a JavaScript client reads it back exactly.
    func drawSeed() -> UInt64 { UInt64.random(in: 0..<(1 << 53)) }

    /// A completion request end to end: parse, queue, answer whole or as a stream.
    func complete(_ request: Request, _ endpoint: Endpoint) async -> Response {
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: maxBodyBytes) } catch {
            return self.error(APIError(status: 413, "the request body is larger than \(maxBodyBytes) bytes", code: "request_too_large"))
        }
        let parsed: CompletionRequest
        do { parsed = try CompletionRequest(String(buffer: body), endpoint: endpoint, model: served, drawSeed: drawSeed) } catch {
            return self.error(error)
        }
        let handle: GenerationHandle
        do { handle = try engine.submit(parsed.generation) } catch let refusal as EngineRefusal {
            switch refusal {
            case .shuttingDown, .queueFull: return self.error(APIError(status: 503, refusal.description, type: "server_error",
                                                                       code: "server_busy"))
            case .tooManyChoices: return self.error(.invalid("n", refusal.description))
            }
        } catch {
            return self.error(APIError(status: 500, "\(error)", type: "server_error"))
        }
        let writer = ResponseWriter(request: parsed, served: served, serial: serial.withLock { $0 += 1; return $0 },
                                    created: Int(Date().timeIntervalSince1970))
        if parsed.stream { return stream(parsed, handle, writer) }
        defer { handle.cancel() }   // a cancelled handler task gives its request up
        var texts = (0..<parsed.generation.choices).map { _ in text(for: parsed) }
        var choices = texts.map { _ in ResponseWriter.Choice(text: "", tokens: [], finish: nil) }
        for await event in handle.events {
            switch event {
            case let .token(g): texts[g.choice].append(g.token); choices[g.choice].tokens.append(g)
            case let .finished(c, reason): choices[c].finish = reason
            }
        }
        for c in choices.indices { choices[c].text = texts[c].text() }
        return json(.ok, writer.response(choices))
    }

    func text(for r: CompletionRequest) -> CompletionText {
        CompletionText(tokenizer: served.tokenizer, stopTokens: r.generation.sampling.stopSequences, stopTexts: r.generation.stopTexts,
                       stopMarkers: r.stopMarkers)
    }

    /// Server-sent events as OpenAI sends them: a role chunk per choice
    /// (chat), chunks of new text with their tokens' log-probabilities, a
    /// finish chunk per choice, the usage with `include_usage`, `[DONE]`.
    func stream(_ r: CompletionRequest, _ handle: GenerationHandle, _ writer: ResponseWriter) -> Response {
        let body = ResponseBody { [self] out in
            // A failed write means the client went away: give the request up.
            defer { handle.cancel() }
            func send(_ s: String) async throws { try await out.write(ByteBuffer(string: s)) }
            var texts = (0..<r.generation.choices).map { _ in text(for: r) }
            var offsets = Array(repeating: 0, count: r.generation.choices), total = 0
            if writer.isChat {
                for c in 0..<r.generation.choices { try await send(sse(writer.chunk(choice: c, text: "", role: true))) }
            }
            for await event in handle.events {
                switch event {
                case let .token(g):
                    total += 1
                    texts[g.choice].append(g.token)
                    let delta = texts[g.choice].releasable()
                    let tokens = r.logprobs ? [g] : []
                    guard !delta.isEmpty || !tokens.isEmpty else { continue }
                    try await send(sse(writer.chunk(choice: g.choice, text: delta, tokens: tokens, offset: offsets[g.choice])))
                    offsets[g.choice] += delta.unicodeScalars.count
                case let .finished(c, reason):
                    let rest = texts[c].finish()
                    if !rest.isEmpty { try await send(sse(writer.chunk(choice: c, text: rest))) }
                    try await send(sse(writer.chunk(choice: c, text: writer.isChat ? nil : "", finish: reason)))
                }
            }
            if r.includeUsage { try await send(sse(writer.usageChunk(completionTokens: total))) }
            try await send("data: [DONE]\n\n")
            try await out.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    /// Serves until SIGTERM or SIGINT: then the listener closes (new
    /// connections are refused), running requests finish, and it returns.
    /// `onRunning` gets the bound port (useful with port 0).
    public func run(host: String, port: Int, onRunning: @escaping @Sendable (Int) -> Void) async throws {
        var logger = Logger(label: "simply-serve")
        logger.logLevel = .warning
        let app = Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "simply"),
                              onServerRunning: { channel in onRunning(channel.localAddress?.port ?? port) }, logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}
