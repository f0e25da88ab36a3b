import SimplyCore

/// The JSONL record formats of post-training data (TRL's dataset
/// formats: standard and conversational), and how each becomes a `PostTrainingRecord`.
///
/// - alpaca: `instruction`, optional `input`, `output` → user turn
///   (instruction, then a blank line and the input when it is not empty),
///   assistant turn.
/// - sharegpt: `conversations` of `{from, value}`, from ∈ human|user, gpt|assistant|model, system.
/// - messages: `messages` of `{role, content}`, role ∈ system|user|assistant.
/// - prompt_completion: `prompt`, `completion`, each a string or a message list.
/// - preference: `chosen`, `rejected` and usually `prompt` (strings or
///   message lists); without `prompt`, the prompt is the longest shared
///   start of chosen and rejected (TRL `extract_prompt`).
/// - prompt_only: `prompt` (string or messages), optional `answer` string.
public enum RecordFormat: String, CaseIterable, Sendable {
    case alpaca, sharegpt, messages
    case promptCompletion = "prompt_completion"
    case preference
    case promptOnly = "prompt_only"

    /// What the records become in a prepared file.
    public var exampleKind: ExampleKind {
        switch self {
        case .alpaca, .sharegpt, .messages, .promptCompletion: return .supervised
        case .preference: return .preference
        case .promptOnly: return .prompt
        }
    }

    /// The format of a record by its keys, or nil when none fits.
    public static func detect(_ record: JSONValue) -> RecordFormat? {
        func has(_ k: String) -> Bool { record[k] != nil }
        if has("chosen") && has("rejected") { return .preference }
        if has("conversations") { return .sharegpt }
        if has("messages") { return .messages }
        if has("instruction") && has("output") { return .alpaca }
        if has("prompt") && has("completion") { return .promptCompletion }
        if has("prompt") { return .promptOnly }
        return nil
    }

    /// A record problem; the caller adds file and line.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public let message: String
        init(_ m: String) { message = m }
        public var description: String { message }
    }

    public func parse(_ record: JSONValue) throws(Problem) -> PostTrainingRecord {
        guard case .object = record else { throw Problem("expected a JSON object, found \(Self.kind(record))") }
        switch self {
        case .alpaca:
            let instruction = try Self.string(record, "instruction")
            let input = try Self.optionalString(record, "input") ?? ""
            let output = try Self.string(record, "output")
            let user = input.isEmpty ? instruction : instruction + "\n\n" + input
            return .supervised(prompt: .messages([ChatMessage(.user, user)]),
                               completion: .messages([ChatMessage(.assistant, output)]))
        case .sharegpt:
            let turns = try Self.messageList(record, "conversations", roleKey: "from", contentKey: "value")
            return try Self.conversation(turns, key: "conversations")
        case .messages:
            let turns = try Self.messageList(record, "messages", roleKey: "role", contentKey: "content")
            return try Self.conversation(turns, key: "messages")
        case .promptCompletion:
            let p = try Self.textOrMessages(record, "prompt")
            let c = try Self.textOrMessages(record, "completion")
            let (pp, cc) = ChatTemplate.pair(p, c)
            try Self.checkCompletion(cc, key: "completion")
            return .supervised(prompt: pp, completion: cc)
        case .preference:
            let chosen = try Self.textOrMessages(record, "chosen")
            let rejected = try Self.textOrMessages(record, "rejected")
            var prompt: TextOrMessages
            var c = chosen, r = rejected
            if record["prompt"] != nil {
                prompt = try Self.textOrMessages(record, "prompt")
            } else {
                (prompt, c, r) = try Self.extractPrompt(chosen, rejected)
            }
            // One conversational part makes all three conversational.
            if [prompt, c, r].contains(where: { if case .messages = $0 { return true } else { return false } }) {
                prompt = ChatTemplate.pair(prompt, .messages([])).0
                c = ChatTemplate.pair(.messages([]), c).1
                r = ChatTemplate.pair(.messages([]), r).1
            }
            try Self.checkCompletion(c, key: "chosen")
            try Self.checkCompletion(r, key: "rejected")
            return .preference(prompt: prompt, chosen: c, rejected: r)
        case .promptOnly:
            let p = try Self.textOrMessages(record, "prompt")
            let answer = try Self.optionalString(record, "answer")
            return .promptOnly(prompt: p, answer: answer)
        }
    }

    // MARK: fields

    static func kind(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    static func field(_ r: JSONValue, _ key: String) throws(Problem) -> JSONValue {
        guard let v = r[key] else {
            throw Problem("field \(String(reflecting: key)) is missing (the object has \(DataPrepare.keyList(r)))")
        }
        return v
    }

    static func string(_ r: JSONValue, _ key: String) throws(Problem) -> String {
        let v = try field(r, key)
        guard case let .string(s) = v else { throw Problem("field \(String(reflecting: key)) is \(kind(v)), expected a string") }
        return s
    }

    static func optionalString(_ r: JSONValue, _ key: String) throws(Problem) -> String? {
        guard let v = r[key], v != .null else { return nil }
        guard case let .string(s) = v else { throw Problem("field \(String(reflecting: key)) is \(kind(v)), expected a string") }
        return s
    }

    static let roleNames: [String: ChatMessage.Role] = [
        "system": .system, "user": .user, "human": .user,
        "assistant": .assistant, "gpt": .assistant, "model": .assistant,
    ]

    static func messageList(_ r: JSONValue, _ key: String, roleKey: String, contentKey: String) throws(Problem) -> [ChatMessage] {
        let v = try field(r, key)
        guard case let .array(items) = v else { throw Problem("field \(String(reflecting: key)) is \(kind(v)), expected a list of messages") }
        guard !items.isEmpty else { throw Problem("field \(String(reflecting: key)) is an empty list") }
        var out: [ChatMessage] = []
        for (i, item) in items.enumerated() {
            let at = "\(key)[\(i)]"
            guard case .object = item else { throw Problem("\(at) is \(kind(item)), expected an object with \"\(roleKey)\" and \"\(contentKey)\"") }
            guard let rv = item[roleKey] else { throw Problem("\(at): field \"\(roleKey)\" is missing") }
            guard case let .string(roleName) = rv, let role = roleNames[roleName] else {
                throw Problem("\(at).\(roleKey) is \(rv.brief()), expected one of system, user, assistant (or human, gpt, model)")
            }
            guard let cv = item[contentKey] else { throw Problem("\(at): field \"\(contentKey)\" is missing") }
            guard case let .string(content) = cv else { throw Problem("\(at).\(contentKey) is \(kind(cv)), expected a string") }
            out.append(ChatMessage(role, content))
        }
        return out
    }

    static func textOrMessages(_ r: JSONValue, _ key: String) throws(Problem) -> TextOrMessages {
        let v = try field(r, key)
        switch v {
        case let .string(s): return .text(s)
        case .array: return .messages(try messageList(r, key, roleKey: "role", contentKey: "content"))
        default: throw Problem("field \(String(reflecting: key)) is \(kind(v)), expected a string or a list of messages")
        }
    }

    /// A conversation trains on its assistant turns; it must have one.
    static func conversation(_ turns: [ChatMessage], key: String) throws(Problem) -> PostTrainingRecord {
        // Prompt = everything before the first assistant turn; the rest is the
        // completion, whose assistant turns all carry loss.
        guard let first = turns.firstIndex(where: { $0.role == .assistant }) else {
            throw Problem("field \(String(reflecting: key)) has no assistant turn (nothing to train on)")
        }
        return .supervised(prompt: .messages(Array(turns[..<first])), completion: .messages(Array(turns[first...])))
    }

    static func checkCompletion(_ c: TextOrMessages, key: String) throws(Problem) {
        if case let .messages(m) = c, !m.contains(where: { $0.role == .assistant }) {
            throw Problem("field \(String(reflecting: key)) has no assistant turn")
        }
    }

    /// TRL `extract_prompt`: the longest common start of chosen and rejected.
    /// For text, a shared trailing space stays with the completions.
    static func extractPrompt(_ chosen: TextOrMessages, _ rejected: TextOrMessages) throws(Problem)
        -> (TextOrMessages, TextOrMessages, TextOrMessages) {
        switch (chosen, rejected) {
        case let (.messages(c), .messages(r)):
            var n = 0
            while n < min(c.count, r.count) && c[n] == r[n] { n += 1 }
            guard n > 0 else { throw Problem("field \"prompt\" is missing and chosen and rejected share no first message") }
            guard n < c.count, n < r.count else { throw Problem("chosen and rejected are the same conversation") }
            return (.messages(Array(c[..<n])), .messages(Array(c[n...])), .messages(Array(r[n...])))
        case let (.text(c), .text(r)):
            let a = Array(c.unicodeScalars), b = Array(r.unicodeScalars)
            var n = 0
            while n < min(a.count, b.count) && a[n] == b[n] { n += 1 }
            guard n < a.count || n < b.count else { throw Problem("chosen and rejected are the same text") }
            if n > 0 && a[n - 1] == " " { n -= 1 }
            func s(_ x: ArraySlice<Unicode.Scalar>) -> String { var u = String.UnicodeScalarView(); u.append(contentsOf: x); return String(u) }
            return (.text(s(a[..<n])), .text(s(a[n...])), .text(s(b[n...])))
        default:
            throw Problem("chosen and rejected must both be strings or both be message lists")
        }
    }
}
