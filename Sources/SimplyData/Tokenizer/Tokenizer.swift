/// Text ↔ token ids. `encode` adds no special tokens; callers place bos/eos.
public protocol Tokenizer: Sendable {
    var vocabSize: Int { get }
    var bos: Int32 { get }
    var eos: Int32 { get }
    var pad: Int32 { get }
    /// Recorded in token shards, e.g. "byte".
    var name: String { get }
    func encode(_ text: String) -> [Int32]
    func decode(_ ids: [Int32]) -> String
}
