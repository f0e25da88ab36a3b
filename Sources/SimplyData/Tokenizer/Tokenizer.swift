/// Text ↔ token ids. `encode` adds no special tokens; callers place bos/eos.
public protocol Tokenizer: Sendable {
    var vocabSize: Int { get }
    var bos: Int32 { get }
    var eos: Int32 { get }
    var pad: Int32 { get }
    /// Recorded in token shards, e.g. "byte".
    var name: String { get }
    /// Plain text to ids. Special-token strings inside `text` (e.g. "<|eos|>")
    /// are NOT parsed as specials; they encode as ordinary text, so data can
    /// never inject control tokens. Specials are placed by id. (A published
    /// tokenizer, `HFTokenizer`, parses them only in its explicit
    /// `encode(_:parseSpecial:addSpecialTokens:)`.)
    func encode(_ text: String) -> [Int32]
    func decode(_ ids: [Int32]) -> String
    /// The id of a special token by its content (e.g. "<|im_start|>"), or nil
    /// when the vocabulary has no such special. The chat template uses this:
    /// with a tokenizer that lacks the chat specials it writes them as text.
    func specialToken(_ content: String) -> Int32?
    /// Text Simply rendered itself (a model's chat template) to ids, with the
    /// special-token strings in it as their ids. Never for data.
    func encodeRendered(_ text: String) -> [Int32]
    /// The model's own chat template, when the tokenizer came with one (a
    /// published model's); nil: Simply's ChatML (`ChatTemplate`).
    var chatTemplate: ChatTemplateRenderer? { get }
    /// Whether a sequence starts with bos (false for models without one, e.g. Qwen).
    var startsWithBOS: Bool { get }
    /// Ids besides eos that end a generated turn (generation_config.json's eos_token_id list).
    var endOfTurnIds: [Int32] { get }
}

extension Tokenizer {
    public func encodeRendered(_ text: String) -> [Int32] { encode(text) }
    public var chatTemplate: ChatTemplateRenderer? { nil }
    public var startsWithBOS: Bool { true }
    public var endOfTurnIds: [Int32] { [] }
}

/// The chat specials a trained Simply tokenizer carries, in id order after the
/// learned vocabulary (ChatML markers, as in TRL's default chat template).
public enum SpecialTokens {
    public static let bos = "<|bos|>"
    public static let eos = "<|eos|>"
    public static let pad = "<|pad|>"
    public static let imStart = "<|im_start|>"
    public static let imEnd = "<|im_end|>"
    public static let all = [bos, eos, pad, imStart, imEnd]
}
