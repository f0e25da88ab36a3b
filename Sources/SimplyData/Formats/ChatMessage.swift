/// One turn of a conversation.
public struct ChatMessage: Equatable, Sendable {
    public enum Role: String, CaseIterable, Sendable { case system, user, assistant }
    public let role: Role
    public let content: String

    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// A prompt or a response: plain text, or a list of messages (TRL's
/// "standard" vs "conversational" datasets).
public enum TextOrMessages: Equatable, Sendable {
    case text(String)
    case messages([ChatMessage])
}

/// A post-training record after parsing, before tokenization.
public enum PostTrainingRecord: Equatable, Sendable {
    /// Supervised text: `messages`, Alpaca, ShareGPT, and prompt + completion.
    /// Loss falls on the completion only (assistant turns for conversations).
    case supervised(prompt: TextOrMessages, completion: TextOrMessages)
    /// A pair for reward models and DPO; `chosen` and `rejected` continue the prompt.
    case preference(prompt: TextOrMessages, chosen: TextOrMessages, rejected: TextOrMessages)
    /// A prompt for RL, with the reference answer when the data has one.
    case promptOnly(prompt: TextOrMessages, answer: String?)
}
