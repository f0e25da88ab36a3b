import SimplyCore

/// The `normalizer` of a tokenizer.json: text rewriting before added tokens
/// marked `normalized` are matched and before pre-tokenization. Supported as
/// in `tokenizers`: `Prepend` (a prefix on non-empty text), `Replace` (every
/// match of a literal or regex pattern), and `Sequence` of those — the
/// Llama 2 "legacy" normalizer is `Sequence[Prepend("▁"), Replace(" ", "▁")]`.
/// Unicode normalization forms (NFC, NFKC, …) and the rest are refused: they
/// would need Unicode tables identical to Rust's.
indirect enum HFNormalizer: Sendable {
    case prepend([UInt32])
    case replace(ScalarRegex, content: [UInt32])
    case sequence([HFNormalizer])

    static let supported = ["Prepend", "Replace", "Sequence"]

    /// `text` normalized.
    func apply(_ text: [UInt32]) -> [UInt32] {
        switch self {
        case let .prepend(p):
            return text.isEmpty ? text : p + text
        case let .replace(regex, content):
            return text.withUnsafeBufferPointer { buf in
                var out: [UInt32] = []
                out.reserveCapacity(text.count)
                for (r, isMatch) in regex.pieces(buf) {
                    if isMatch { out.append(contentsOf: content) } else { out.append(contentsOf: buf[r]) }
                }
                return out
            }
        case let .sequence(items):
            return items.reduce(text) { $1.apply($0) }
        }
    }

    static func parse(_ f: HFField) throws -> HFNormalizer {
        let type = try f.type()
        switch type {
        case "Prepend":
            return .prepend([UInt32](scalarsOf: try f.required("prepend").string()))
        case "Replace":
            return .replace(try f.pattern(), content: [UInt32](scalarsOf: try f.required("content").string()))
        case "Sequence":
            return .sequence(try f.required("normalizers").array().map(parse))
        default:
            throw f.unsupportedType(type, supported: supported)
        }
    }
}
