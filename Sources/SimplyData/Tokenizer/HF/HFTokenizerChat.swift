import Foundation
import SimplyCore

/// What `ChatTemplate` needs from a published model's tokenizer: its own chat
/// template, special tokens parsed in text the template rendered, and the
/// ids that end a turn.
extension HFTokenizer {
    /// `encode(text, parseSpecial: true)`: a rendered chat template's markers become their ids.
    public func encodeRendered(_ text: String) -> [Int32] { encode(text, parseSpecial: true) }

    /// Models without a bos (Qwen) start sequences with their first token.
    public var startsWithBOS: Bool { bosId != nil }

    /// Reads the chat template in `directory` (chat_template.jinja, else
    /// tokenizer_config.json's chat_template, already parsed by the loader;
    /// none is fine: Simply's ChatML is used) and generation_config.json's eos ids. A template that is there
    /// but does not parse is an error naming its file.
    mutating func attachChat(directory: URL, tokenizerConfig: JSONValue?, generation: (JSONValue, String)?) throws {
        let jinja = directory.appendingPathComponent("chat_template.jinja")
        let inConfig = tokenizerConfig?["chat_template"].map { $0 != .null } ?? false
        if inConfig || FileManager.default.fileExists(atPath: jinja.path) {
            chatTemplate = try ChatTemplateRenderer(modelDirectory: directory)
        }
        if let (json, path) = generation, let v = json["eos_token_id"] {
            var ids: [Int32] = []
            switch v {
            case .null: break
            case let .array(items):
                for item in items.prefix(64) {
                    guard let i = item.intValue, i >= 0, i < vocabSize else { throw DataError(file: path, "eos_token_id: \(item.brief()) is not a token id") }
                    ids.append(Int32(i))
                }
            default:
                guard let i = v.intValue, i >= 0, i < vocabSize else { throw DataError(file: path, "eos_token_id: \(v.brief()) is not a token id") }
                ids.append(Int32(i))
            }
            endOfTurnIds = ids
        }
    }
}
