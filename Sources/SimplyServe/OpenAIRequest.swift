import SimplyCore
import SimplyData
import SimplyModel

/// What the server serves: the model's name, context, tokenizer and template.
public struct ServedModel: Sendable {
    /// The `model` a request must name (default: the run directory's name).
    public let name: String
    public let seqLen: Int
    public let tokenizer: any Tokenizer
    public let template: ChatTemplate
    /// `system_fingerprint`: "simply-" + the checkpoint's state hash, the
    /// hash `simply verify` checks, so a reply names the exact weights.
    public let fingerprint: String
    /// The most continuations decoded at once (the engine's slots).
    public let maxSequences: Int

    public init(name: String, seqLen: Int, tokenizer: any Tokenizer, stateSHA256: String, maxSequences: Int) {
        self.name = name; self.seqLen = seqLen; self.tokenizer = tokenizer
        template = ChatTemplate(tokenizer: tokenizer)
        fingerprint = "simply-" + stateSHA256
        self.maxSequences = maxSequences
    }
}

public enum Endpoint: Sendable { case chat, completions }

/// A parsed and checked `/v1/chat/completions` or `/v1/completions` body.
public struct CompletionRequest: Sendable {
    public let endpoint: Endpoint
    public let model: String
    public let stream: Bool
    /// `stream_options.include_usage`: a last chunk with the usage counts.
    public let includeUsage: Bool
    /// Chat: `logprobs: true`; completions: `logprobs` present.
    public let logprobs: Bool
    /// The alternatives reported per token (chat `top_logprobs`, completions `logprobs`).
    public let topLogProbs: Int
    /// The seed the request sent, or the one the server drew for it.
    public let seed: UInt64
    public let generation: GenerationRequest
    /// The decoded text of each token sequence that ends a continuation, so
    /// a stream never sends the start of a marker it then cuts.
    public let stopMarkers: [String]

    /// Parses `body` (the raw request bytes). `drawSeed` supplies a seed when
    /// the request has none. Every refusal names the field.
    public init(_ body: String, endpoint: Endpoint, model served: ServedModel, drawSeed: () -> UInt64) throws(APIError) {
        let json: JSONValue
        do { json = try JSONValue.parse(body) } catch {
            throw APIError("the request body is not valid JSON: \(error)", code: "invalid_json")
        }
        guard case let .object(pairs) = json else { throw APIError("the request body must be a JSON object", code: "invalid_json") }
        let f = Fields(pairs)
        self.endpoint = endpoint

        guard let model = try f.string("model") else { throw .invalid("model", "model is required", code: "missing_required_parameter") }
        guard model == served.name else {
            throw APIError(status: 404, "The model `\(model)` does not exist; this server serves `\(served.name)`",
                           param: "model", code: "model_not_found")
        }
        self.model = model

        for unsupported in ["tools", "functions", "tool_choice", "function_call", "audio", "modalities", "prediction"] {
            if f.present(unsupported) { throw .invalid(unsupported, "\(unsupported) is not supported by simply serve") }
        }
        if let bias = f.value("logit_bias"), bias != .object([]) { throw .invalid("logit_bias", "logit_bias is not supported") }
        for penalty in ["presence_penalty", "frequency_penalty"] {
            if let p = try f.number(penalty), p != 0 { throw .invalid(penalty, "\(penalty) is not supported (only 0)") }
        }
        if let format = f.value("response_format"), format["type"]?.stringValue != "text" {
            throw .invalid("response_format", "only response_format {\"type\": \"text\"} is supported")
        }
        if try f.bool("echo") == true { throw .invalid("echo", "echo is not supported") }
        if let bestOf = try f.int("best_of"), bestOf != 1 { throw .invalid("best_of", "best_of is not supported (only 1)") }
        if f.present("suffix") { throw .invalid("suffix", "suffix is not supported") }

        // The prompt's tokens.
        let prompt: [Int32], promptParam: String
        switch endpoint {
        case .chat:
            promptParam = "messages"
            let messages = try Self.messages(f.value("messages"))
            do { prompt = try served.template.prompt(.messages(messages)).tokens } catch {
                throw .invalid("messages", "the chat template cannot render these messages: \(error)")
            }
        case .completions:
            promptParam = "prompt"
            prompt = try Self.prompt(f.value("prompt"), served)
        }
        guard !prompt.isEmpty else { throw .invalid(promptParam, "the prompt is empty") }
        let room = served.seqLen - prompt.count
        guard room >= 1 else {
            throw .invalid(promptParam, "This model's maximum context length is \(served.seqLen) tokens; the \(promptParam) is "
                           + "\(prompt.count) tokens, which leaves no room for a reply", code: "context_length_exceeded")
        }

        // Sampling.
        let maxTokensKey = f.present("max_completion_tokens") ? "max_completion_tokens" : "max_tokens"
        let maxTokens = try f.int(maxTokensKey) ?? (endpoint == .completions ? min(16, room) : room)
        guard maxTokens >= 1 else { throw .invalid(maxTokensKey, "\(maxTokensKey) must be at least 1 (got \(maxTokens))") }
        guard maxTokens <= room else {
            throw .invalid(maxTokensKey, "This model's maximum context length is \(served.seqLen) tokens. However, you requested "
                           + "\(prompt.count + maxTokens) tokens (\(prompt.count) in the \(promptParam), \(maxTokens) in the "
                           + "completion). Please reduce the length of the \(promptParam) or the completion.",
                           code: "context_length_exceeded")
        }
        let temperature = try f.number("temperature") ?? 1
        guard temperature >= 0, temperature <= 2 else {
            throw .invalid("temperature", "temperature must be between 0 and 2 (got \(temperature))")
        }
        let topP = try f.number("top_p") ?? 1
        guard topP > 0, topP <= 1 else { throw .invalid("top_p", "top_p must be in (0, 1] (got \(topP))") }
        var topK = try f.int("top_k") ?? 0
        if topK == -1 { topK = 0 }   // vLLM's "off"
        guard topK >= 0 else { throw .invalid("top_k", "top_k must be >= 0, or -1 for off (got \(topK))") }
        let n = try f.int("n") ?? 1
        guard n >= 1, n <= served.maxSequences else {
            throw .invalid("n", "n must be between 1 and \(served.maxSequences), the server's concurrent sequences (got \(n))")
        }
        let stopTexts: [String]
        switch f.value("stop") {
        case nil: stopTexts = []
        case let .string(s)?: stopTexts = [s]
        case let .array(items)?:
            stopTexts = try items.map { item throws(APIError) in
                guard let s = item.stringValue else { throw .invalid("stop", "stop must be a string or a list of strings") }
                return s
            }
        default: throw .invalid("stop", "stop must be a string or a list of strings")
        }
        guard stopTexts.count <= 4 else { throw .invalid("stop", "at most 4 stop sequences (got \(stopTexts.count))") }
        guard !stopTexts.contains(where: \.isEmpty) else { throw .invalid("stop", "a stop sequence is empty") }
        if let s = try f.seed("seed") { seed = s } else { seed = drawSeed() }
        stream = try f.bool("stream") ?? false
        if let options = f.value("stream_options") {
            guard case let .object(o) = options else { throw .invalid("stream_options", "stream_options must be an object") }
            guard stream else { throw .invalid("stream_options", "stream_options is only allowed with stream: true") }
            includeUsage = try Fields(o).bool("include_usage", param: "stream_options.include_usage") ?? false
        } else {
            includeUsage = false
        }
        switch endpoint {
        case .chat:
            logprobs = try f.bool("logprobs") ?? false
            let top = try f.int("top_logprobs")
            if let top, !(0...20).contains(top) { throw .invalid("top_logprobs", "top_logprobs must be between 0 and 20 (got \(top))") }
            if top != nil && !logprobs { throw .invalid("top_logprobs", "top_logprobs needs logprobs: true") }
            topLogProbs = top ?? 0
        case .completions:
            let k = try f.int("logprobs")
            if let k, !(0...20).contains(k) { throw .invalid("logprobs", "logprobs must be between 0 and 20 (got \(k))") }
            logprobs = k != nil
            topLogProbs = k ?? 0
        }
        // vLLM's extension, for benchmarks: never stop at end-of-text.
        let ignoreEOS = try f.bool("ignore_eos") ?? false
        let stopTokens: [[Int32]] = ignoreEOS ? [] : endpoint == .chat ? served.template.stopSequences : [[served.tokenizer.eos]]
        stopMarkers = stopTokens.map { served.tokenizer.decode($0) }.filter { !$0.isEmpty }
        let sampling = SamplingConfig(temperature: Float(temperature), topK: topK, topP: Float(topP), maxNewTokens: maxTokens,
                                      stopSequences: stopTokens, seed: seed)
        generation = GenerationRequest(prompt: prompt, choices: n, sampling: sampling, stopTexts: stopTexts,
                                       topLogProbs: logprobs ? topLogProbs : nil)
    }

    /// Chat messages: role system, developer (as system), user or assistant;
    /// content a string or a list of text parts.
    static func messages(_ value: JSONValue?) throws(APIError) -> [ChatMessage] {
        guard case let .array(items)? = value else { throw .invalid("messages", "messages must be a list of messages") }
        guard !items.isEmpty else { throw .invalid("messages", "messages is empty") }
        return try items.enumerated().map { (i, item) throws(APIError) -> ChatMessage in
            guard case let .object(pairs) = item else { throw .invalid("messages[\(i)]", "each message must be an object") }
            let m = Fields(pairs)
            let roleName = try m.string("role", param: "messages[\(i)].role")
            let role: ChatMessage.Role
            switch roleName {
            case "system"?, "developer"?: role = .system
            case "user"?: role = .user
            case "assistant"?: role = .assistant
            case nil: throw .invalid("messages[\(i)].role", "the message has no role")
            case let other?: throw .invalid("messages[\(i)].role", "role \(other) is not supported (system, developer, user, assistant)")
            }
            switch m.value("content") {
            case let .string(s)?: return ChatMessage(role, s)
            case let .array(parts)?:
                let texts = try parts.enumerated().map { (j, part) throws(APIError) -> String in
                    guard part["type"]?.stringValue == "text", let text = part["text"]?.stringValue else {
                        throw .invalid("messages[\(i)].content[\(j)]", "only text content parts are supported")
                    }
                    return text
                }
                return ChatMessage(role, texts.joined())
            default: throw .invalid("messages[\(i)].content", "content must be a string or a list of text parts")
            }
        }
    }

    /// A completions prompt: a string, a list of one string, or a list of token ids.
    static func prompt(_ value: JSONValue?, _ served: ServedModel) throws(APIError) -> [Int32] {
        switch value {
        case let .string(s)?: return served.template.plainPrompt(s).tokens
        case let .array(items)? where items.count == 1 && items[0].stringValue != nil:
            return served.template.plainPrompt(items[0].stringValue!).tokens
        case let .array(items)? where !items.isEmpty && items.allSatisfy({ $0.intValue != nil }):
            let vocab = served.tokenizer.vocabSize
            return try items.enumerated().map { (i, item) throws(APIError) -> Int32 in
                let id = item.intValue!
                guard id >= 0, id < vocab else { throw .invalid("prompt[\(i)]", "token id \(id) is outside the vocabulary (0..<\(vocab))") }
                return Int32(id)
            }
        case .array?:
            throw .invalid("prompt", "prompt must be a string, a list of one string, or a list of token ids (one prompt per request)")
        case nil: throw .invalid("prompt", "prompt is required", code: "missing_required_parameter")
        default: throw .invalid("prompt", "prompt must be a string")
        }
    }
}

/// Typed reads of a JSON object's fields; a wrong type throws naming the field.
/// An explicit null reads as absent, as OpenAI's API treats it.
struct Fields {
    let pairs: [(String, JSONValue)]
    init(_ pairs: [(String, JSONValue)]) { self.pairs = pairs }

    func value(_ key: String) -> JSONValue? {
        guard let v = pairs.last(where: { $0.0 == key })?.1, v != .null else { return nil }
        return v
    }
    func present(_ key: String) -> Bool { value(key) != nil }

    func string(_ key: String, param: String? = nil) throws(APIError) -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw .invalid(param ?? key, "\(param ?? key) must be a string") }
        return s
    }
    func bool(_ key: String, param: String? = nil) throws(APIError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.boolValue else { throw .invalid(param ?? key, "\(param ?? key) must be true or false") }
        return b
    }
    func number(_ key: String) throws(APIError) -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue, d.isFinite else { throw .invalid(key, "\(key) must be a number") }
        return d
    }
    func int(_ key: String) throws(APIError) -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else { throw .invalid(key, "\(key) must be an integer") }
        return i
    }
    /// Any 64-bit integer; a negative one keys the stream by its bit pattern.
    func seed(_ key: String) throws(APIError) -> UInt64? {
        guard let v = value(key) else { return nil }
        if case let .number(s) = v {
            if let u = UInt64(s) { return u }
            if let i = Int64(s) { return UInt64(bitPattern: i) }
        }
        throw .invalid(key, "\(key) must be an integer")
    }
}
