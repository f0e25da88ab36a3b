/// What a prepared post-training file holds per example.
public enum ExampleKind: String, CaseIterable, Sendable {
    /// One sequence: prompt and completion, loss on the completion.
    case supervised
    /// Three sequences: prompt (no loss), chosen and rejected continuations (loss).
    case preference
    /// One sequence, the prompt ready for generation, plus the reference answer if any.
    case prompt

    var code: UInt32 {
        switch self { case .supervised: return 1; case .preference: return 2; case .prompt: return 3 }
    }
    init?(code: UInt32) {
        guard let k = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = k
    }
    public var sequenceCount: Int { self == .preference ? 3 : 1 }
}

/// One tokenized post-training example.
public struct PreparedExample: Equatable, Sendable {
    public let kind: ExampleKind
    /// supervised: [whole]; preference: [prompt, chosen, rejected]; prompt: [prompt].
    public let sequences: [MaskedTokens]
    public let answer: String?

    public init(kind: ExampleKind, sequences: [MaskedTokens], answer: String? = nil) {
        precondition(sequences.count == kind.sequenceCount, "\(kind) example needs \(kind.sequenceCount) sequences")
        self.kind = kind
        self.sequences = sequences
        self.answer = answer
    }

    /// Tokenizes a parsed record with the chat template.
    public init(_ record: PostTrainingRecord, template: ChatTemplate) throws {
        switch record {
        case let .supervised(prompt, completion):
            self.init(kind: .supervised, sequences: [try template.prompt(prompt) + template.completion(after: prompt, completion)])
        case let .preference(prompt, chosen, rejected):
            self.init(kind: .preference, sequences: [try template.prompt(prompt),
                                                    try template.completion(after: prompt, chosen),
                                                    try template.completion(after: prompt, rejected)])
        case let .promptOnly(prompt, answer):
            self.init(kind: .prompt, sequences: [try template.prompt(prompt)], answer: answer)
        }
    }

    public var tokenCount: Int { sequences.reduce(0) { $0 + $1.count } }
}
