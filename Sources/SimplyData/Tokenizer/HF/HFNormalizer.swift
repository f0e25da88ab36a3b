import Foundation
import SimplyCore

/// The `normalizer` of a tokenizer.json: text rewriting before added tokens
/// marked `normalized` are matched and before pre-tokenization. Supported as
/// in `tokenizers`: `Prepend` (a prefix on non-empty text), `Replace` (every
/// match of a literal or regex pattern), and `Sequence` of those — the
/// Llama 2 "legacy" normalizer is `Sequence[Prepend("▁"), Replace(" ", "▁")]`
/// — and the Unicode normalization forms `NFC` (Qwen 2 ships it), `NFD`,
/// `NFKC`, `NFKD`, through Foundation's. Unicode's stability policy fixes
/// the normal form of every assigned character, so these agree with Rust's
/// `unicode-normalization` on all text whose characters both Unicode
/// versions know. Other normalizers (Lowercase, Strip, BertNormalizer, …)
/// are refused.
indirect enum HFNormalizer: Sendable {
    case prepend([UInt32])
    case replace(ScalarRegex, content: [UInt32])
    case form(Form)
    case sequence([HFNormalizer])

    enum Form: String, Sendable { case nfc = "NFC", nfd = "NFD", nfkc = "NFKC", nfkd = "NFKD" }

    static let supported = ["Prepend", "Replace", "NFC", "NFD", "NFKC", "NFKD", "Sequence"]

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
        case let .form(form):
            // ASCII is its own normal form in all four.
            if text.allSatisfy({ $0 < 0x80 }) { return text }
            let s = String(scalarValues: text)
            let normal: String
            switch form {
            case .nfc: normal = s.precomposedStringWithCanonicalMapping
            case .nfd: normal = s.decomposedStringWithCanonicalMapping
            case .nfkc: normal = s.precomposedStringWithCompatibilityMapping
            case .nfkd: normal = s.decomposedStringWithCompatibilityMapping
            }
            return [UInt32](scalarsOf: normal)
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
        case "NFC", "NFD", "NFKC", "NFKD":
            return .form(Form(rawValue: type) ?? .nfc)
        case "Sequence":
            return .sequence(try f.required("normalizers").array().map(parse))
        default:
            throw f.unsupportedType(type, supported: supported)
        }
    }
}
