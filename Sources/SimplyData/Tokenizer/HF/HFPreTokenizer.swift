import SimplyCore

/// A piece of text on its way through normalization and pre-tokenization:
/// its scalars, and whether it starts at offset 0 of the original text
/// (tokenizers' `offsets_original().0 == 0`, which Metaspace's
/// `prepend_scheme: "first"` asks).
struct TextPiece {
    var scalars: [UInt32]
    var atStart: Bool
}

/// The `pre_tokenizer` of a tokenizer.json: splits text into the words the
/// model encodes one by one, as `tokenizers` does.
///
/// - `Split` with a `Regex` or `String` pattern, any behavior (`Isolated`,
///   `Removed`, `MergedWithPrevious`, `MergedWithNext`, `Contiguous`), `invert`;
/// - `ByteLevel`: `add_prefix_space` (a space before every piece that does not
///   start with one), `use_regex` (GPT-2's split, `PreTokenizer`), then every
///   piece's UTF-8 bytes written as byte characters (`ByteLevel.scalars`);
/// - `Metaspace`: spaces become `replacement`, which `prepend_scheme`
///   (`always`, `first`: only at the start of the text, `never`) puts before
///   a piece that does not start with it; `split` cuts before each replacement;
/// - `Digits` (`individual_digits`), `Sequence`.
indirect enum HFPreTokenizer: Sendable {
    enum Behavior: String, Sendable, CaseIterable {
        case isolated = "Isolated", removed = "Removed", mergedWithPrevious = "MergedWithPrevious"
        case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
    }
    enum PrependScheme: String, Sendable { case always, first, never }

    case split(ScalarRegex, behavior: Behavior, invert: Bool)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case metaspace(replacement: UInt32, prepend: PrependScheme, split: Bool)
    case digits(individual: Bool)
    case sequence([HFPreTokenizer])

    static let supported = ["Split", "ByteLevel", "Metaspace", "Digits", "Sequence"]

    /// True when the pieces come out as byte-level characters.
    var isByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case let .sequence(items): return items.contains { $0.isByteLevel }
        default: return false
        }
    }

    func apply(_ pieces: [TextPiece]) -> [TextPiece] {
        switch self {
        case let .sequence(items):
            return items.reduce(pieces) { $1.apply($0) }
        case let .split(regex, behavior, invert):
            return pieces.flatMap { p in
                p.scalars.withUnsafeBufferPointer { buf in
                    var found = regex.pieces(buf)
                    if invert { for i in found.indices { found[i].1.toggle() } }
                    return Self.cut(p, found, behavior)
                }
            }
        case let .digits(individual):
            return pieces.flatMap { p in
                Self.cut(p, Self.charMatches(p.scalars, UnicodeClasses.isNumeric), individual ? .isolated : .contiguous)
            }
        case let .metaspace(replacement, scheme, split):
            return pieces.flatMap { p -> [TextPiece] in
                var q = p
                q.scalars = p.scalars.map { $0 == 0x20 ? replacement : $0 }
                let startsWith = q.scalars.first == replacement
                if !startsWith && (scheme == .always || (scheme == .first && p.atStart)) {
                    q.scalars.insert(replacement, at: 0)
                }
                guard split else { return [q] }
                return Self.cut(q, Self.charMatches(q.scalars) { $0 == replacement }, .mergedWithNext)
            }
        case let .byteLevel(addPrefixSpace, useRegex):
            return pieces.flatMap { p -> [TextPiece] in
                var utf8: [UInt8] = []
                utf8.reserveCapacity(p.scalars.count + 1)
                if addPrefixSpace && p.scalars.first != 0x20 { utf8.append(0x20) }
                for v in p.scalars { appendUTF8(v, to: &utf8) }
                let table = Self.byteScalars
                return utf8.withUnsafeBufferPointer { buf -> [TextPiece] in
                    func piece(_ r: Range<Int>) -> TextPiece {
                        var scalars = [UInt32](repeating: 0, count: r.count)
                        for (k, i) in r.enumerated() { scalars[k] = table[Int(buf[i])] }
                        return TextPiece(scalars: scalars, atStart: p.atStart && r.lowerBound == 0)
                    }
                    guard useRegex else { return buf.isEmpty ? [] : [piece(0..<buf.count)] }
                    var out: [TextPiece] = []
                    PreTokenizer.forEachPiece(buf) { r in out.append(piece(r)) }
                    return out
                }
            }
        }
    }

    /// `ByteLevel.scalars` as values.
    private static let byteScalars: [UInt32] = ByteLevel.scalars.map(\.value)

    /// Appends the UTF-8 bytes of scalar value `v`.
    @inline(__always)
    func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0..<0x80: out.append(UInt8(v))
        case 0x80..<0x800: out.append(UInt8(0xC0 | v >> 6)); out.append(UInt8(0x80 | v & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | v >> 12)); out.append(UInt8(0x80 | v >> 6 & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
        default:
            out.append(UInt8(0xF0 | v >> 18)); out.append(UInt8(0x80 | v >> 12 & 0x3F))
            out.append(UInt8(0x80 | v >> 6 & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
        }
    }

    /// Each scalar for which `test` holds as a one-scalar match, as
    /// tokenizers' `find_matches` for a `char` predicate.
    static func charMatches(_ s: [UInt32], _ test: (UInt32) -> Bool) -> [(Range<Int>, Bool)] {
        if s.isEmpty { return [(0..<0, false)] }
        var out: [(Range<Int>, Bool)] = []
        var prev = 0
        for (i, v) in s.enumerated() where test(v) {
            if prev < i { out.append((prev..<i, false)) }
            out.append((i..<(i + 1), true))
            prev = i + 1
        }
        if prev < s.count { out.append((prev..<s.count, false)) }
        return out
    }

    /// tokenizers' `NormalizedString::split`: the pieces `matches` (covering
    /// `p`, in order) leave under `behavior`; empty pieces are dropped.
    static func cut(_ p: TextPiece, _ matches: [(Range<Int>, Bool)], _ behavior: Behavior) -> [TextPiece] {
        var kept: [(Range<Int>, remove: Bool)] = []
        switch behavior {
        case .isolated:
            kept = matches.map { ($0.0, false) }
        case .removed:
            kept = matches.map { ($0.0, $0.1) }
        case .contiguous:
            var previous = false
            for (r, isMatch) in matches {
                if isMatch == previous, let last = kept.last {
                    kept[kept.count - 1] = (last.0.lowerBound..<r.upperBound, false)
                } else {
                    kept.append((r, false))
                }
                previous = isMatch
            }
        case .mergedWithPrevious:
            var previous = false
            for (r, isMatch) in matches {
                if isMatch && !previous, let last = kept.last {
                    kept[kept.count - 1] = (last.0.lowerBound..<r.upperBound, false)
                } else {
                    kept.append((r, false))
                }
                previous = isMatch
            }
        case .mergedWithNext:
            var previous = false
            for (r, isMatch) in matches.reversed() {
                if isMatch && !previous, let last = kept.last {
                    kept[kept.count - 1] = (r.lowerBound..<last.0.upperBound, false)
                } else {
                    kept.append((r, false))
                }
                previous = isMatch
            }
            kept.reverse()
        }
        return kept.compactMap { r, remove in
            remove || r.isEmpty ? nil : TextPiece(scalars: Array(p.scalars[r]), atStart: p.atStart && r.lowerBound == 0)
        }
    }

    static func parse(_ f: HFField) throws -> HFPreTokenizer {
        let type = try f.type()
        switch type {
        case "Sequence":
            return .sequence(try f.required("pretokenizers").array().map(parse))
        case "Split":
            let b = try f.required("behavior")
            let name = try b.string()
            guard let behavior = Behavior(rawValue: name) else {
                throw DataError("\(b.path): \(b.value.brief()) is not supported (supported: \(Behavior.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return .split(try f.pattern(), behavior: behavior, invert: try f.bool("invert", default: false))
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try f.bool("add_prefix_space", default: true),
                              useRegex: try f.bool("use_regex", default: true))
        case "Metaspace":
            var scheme = PrependScheme.always
            if let s = f.optional("prepend_scheme") {
                guard let v = PrependScheme(rawValue: try s.string()) else {
                    throw DataError("\(s.path): \(s.value.brief()) is not supported (supported: always, first, never)")
                }
                scheme = v
            }
            if let a = f.optional("add_prefix_space"), try a.bool() == false {
                // As tokenizers: add_prefix_space false means never, and must not contradict prepend_scheme.
                if f.optional("prepend_scheme") != nil && scheme != .never {
                    throw DataError("\(a.path): false does not match prepend_scheme \(scheme.rawValue)")
                }
                scheme = .never
            }
            return .metaspace(replacement: try f.scalar("replacement"), prepend: scheme, split: try f.bool("split", default: true))
        case "Digits":
            return .digits(individual: try f.bool("individual_digits", default: false))
        default:
            throw f.unsupportedType(type, supported: supported)
        }
    }
}
