import SimplyCore
import SimplyData
import SimplyModel

/// The JSON of OpenAI's responses and stream chunks
/// (`chat.completion`, `chat.completion.chunk`, `text_completion`).
struct ResponseWriter {
    let request: CompletionRequest
    let served: ServedModel
    let id: String
    let created: Int

    init(request: CompletionRequest, served: ServedModel, serial: Int, created: Int) {
        self.request = request; self.served = served; self.created = created
        let hex = String(serial, radix: 16)
        id = (request.endpoint == .chat ? "chatcmpl-" : "cmpl-") + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
    }

    var isChat: Bool { request.endpoint == .chat }

    func header(_ object: String) -> [(String, JSONValue)] {
        [("id", .string(id)), ("object", .string(object)), ("created", .int(created)), ("model", .string(served.name)),
         ("system_fingerprint", .string(served.fingerprint)), ("seed", .number(String(request.seed)))]
    }

    static func finishReason(_ r: FinishReason?) -> JSONValue {
        switch r {
        case nil: return .null
        case .stop?: return .string("stop")
        case .length?, .context?: return .string("length")   // OpenAI has no separate "context"
        }
    }

    func usage(completionTokens: Int) -> JSONValue {
        let p = request.generation.prompt.count
        return .object([("prompt_tokens", .int(p)), ("completion_tokens", .int(completionTokens)),
                        ("total_tokens", .int(p + completionTokens))])
    }

    // MARK: Log-probabilities

    func tokenText(_ t: Int32) -> String { served.tokenizer.decode([t]) }

    static func number(_ x: Float) -> JSONValue { x.isFinite ? .double(Double(x)) : .number("-9999.0") }

    /// Chat: one entry of `logprobs.content`.
    func chatLogProb(_ g: GeneratedToken) -> JSONValue {
        func entry(_ t: Int32, _ lp: Float) -> [(String, JSONValue)] {
            let s = tokenText(t)
            return [("token", .string(s)), ("logprob", Self.number(lp)), ("bytes", .array(s.utf8.map { .int(Int($0)) }))]
        }
        return .object(entry(g.token, g.logProb) + [("top_logprobs", .array(g.top.map { .object(entry($0.token, $0.logProb)) }))])
    }

    /// Completions: `logprobs` in its columns, with text offsets from `offset`.
    func completionLogProbs(_ tokens: [GeneratedToken], offset: Int) -> JSONValue {
        var offsets: [JSONValue] = [], at = offset
        for g in tokens { offsets.append(.int(at)); at += tokenText(g.token).unicodeScalars.count }
        return .object([
            ("tokens", .array(tokens.map { .string(tokenText($0.token)) })),
            ("token_logprobs", .array(tokens.map { Self.number($0.logProb) })),
            ("top_logprobs", .array(tokens.map { g in .object(g.top.map { (tokenText($0.token), Self.number($0.logProb)) }) })),
            ("text_offset", .array(offsets)),
        ])
    }

    func logProbs(_ tokens: [GeneratedToken], offset: Int) -> JSONValue {
        guard request.logprobs else { return .null }
        return isChat ? .object([("content", .array(tokens.map(chatLogProb)))]) : completionLogProbs(tokens, offset: offset)
    }

    // MARK: Whole responses

    struct Choice {
        var text: String
        var tokens: [GeneratedToken]
        var finish: FinishReason?
    }

    func response(_ choices: [Choice]) -> JSONValue {
        let items: [JSONValue] = choices.enumerated().map { i, c in
            let body: (String, JSONValue) = isChat
                ? ("message", .object([("role", .string("assistant")), ("content", .string(c.text))]))
                : ("text", .string(c.text))
            return .object([("index", .int(i)), body, ("logprobs", logProbs(c.tokens, offset: 0)),
                            ("finish_reason", Self.finishReason(c.finish))])
        }
        return .object(header(isChat ? "chat.completion" : "text_completion")
                       + [("choices", .array(items)), ("usage", usage(completionTokens: choices.reduce(0) { $0 + $1.tokens.count }))])
    }

    // MARK: Stream chunks

    /// One chunk for one choice: new text, its tokens' log-probabilities, or the finish.
    func chunk(choice: Int, text: String?, role: Bool = false, tokens: [GeneratedToken] = [], offset: Int = 0,
               finish: FinishReason? = nil) -> JSONValue {
        var item: [(String, JSONValue)] = [("index", .int(choice))]
        if isChat {
            var delta: [(String, JSONValue)] = []
            if role { delta.append(("role", .string("assistant"))) }
            if let text { delta.append(("content", .string(text))) }
            item.append(("delta", .object(delta)))
        } else {
            item.append(("text", .string(text ?? "")))
        }
        item.append(("logprobs", tokens.isEmpty ? .null : logProbs(tokens, offset: offset)))
        item.append(("finish_reason", Self.finishReason(finish)))
        return .object(header(isChat ? "chat.completion.chunk" : "text_completion") + [("choices", .array([.object(item)]))])
    }

    /// The last chunk with `stream_options.include_usage`: no choices, the usage.
    func usageChunk(completionTokens: Int) -> JSONValue {
        .object(header(isChat ? "chat.completion.chunk" : "text_completion")
                + [("choices", .array([])), ("usage", usage(completionTokens: completionTokens))])
    }
}

/// `data: {json}` and a blank line: one server-sent event.
func sse(_ value: JSONValue) -> String { "data: " + value.serialized() + "\n\n" }
