import SimplyCore

/// The `post_processor` of a tokenizer.json, applied only when asked
/// (`HFTokenizer.encode(_:parseSpecial:addSpecialTokens:)` with
/// `addSpecialTokens: true`, Python's `add_special_tokens=True`).
///
/// - `TemplateProcessing`: the `single` template, e.g. `<s> $A` → bos then the ids;
/// - `ByteLevel`: only moves offsets in `tokenizers`, so the ids stay as they are;
/// - `Sequence` of those.
indirect enum HFPostProcessor: Sendable {
    /// Template items: nil is the sequence, otherwise the ids of a special.
    case template([[Int32]?])
    case identity
    case sequence([HFPostProcessor])

    static let supported = ["TemplateProcessing", "ByteLevel", "Sequence"]

    func apply(_ ids: [Int32]) -> [Int32] {
        switch self {
        case .identity: return ids
        case let .template(items): return items.flatMap { $0 ?? ids }
        case let .sequence(items): return items.reduce(ids) { $1.apply($0) }
        }
    }

    static func parse(_ f: HFField) throws -> HFPostProcessor {
        let type = try f.type()
        switch type {
        case "ByteLevel": return .identity
        case "Sequence": return .sequence(try f.required("processors").array().map(parse))
        case "TemplateProcessing":
            let specials = try f.required("special_tokens")
            var items: [[Int32]?] = []
            for item in try f.required("single").array() {
                if let seq = item.optional("Sequence") {
                    let which = try seq.required("id")
                    guard try which.string() == "A" else { throw DataError("\(which.path): only sequence A belongs in single") }
                    items.append(nil)
                } else if let sp = item.optional("SpecialToken") {
                    let name = try sp.required("id").string()
                    guard let entry = specials.optional(name) else {
                        throw DataError("\(sp.path).id: \(JSONValue.string(name).brief()) is not in \(specials.path)")
                    }
                    let ids = try entry.required("ids").array().map { Int32(try $0.int(in: 0...Int(Int32.max))) }
                    items.append(ids)
                } else {
                    throw DataError("\(item.path): expected {\"Sequence\": …} or {\"SpecialToken\": …}")
                }
            }
            return .template(items)
        default:
            throw f.unsupportedType(type, supported: supported)
        }
    }
}
