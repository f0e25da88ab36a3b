import SimplyCore

/// The `decoder` of a tokenizer.json: token strings back to text, as
/// `tokenizers`' `decode_chain` (each step maps the list of strings; the
/// result is their concatenation).
///
/// - `ByteLevel`: every token whose characters are all byte characters is
///   those bytes (others their own UTF-8); all joined, then read as UTF-8
///   with invalid sequences replaced by U+FFFD;
/// - `Metaspace`: `replacement` becomes a space, except that the first
///   token loses it when `prepend_scheme` is not `never`;
/// - `Replace` (literal or regex), `ByteFallback` (runs of `<0xXX>` tokens
///   become their bytes when valid UTF-8, else one U+FFFD per byte), `Fuse`
///   (one string), `Strip` (up to `start`/`stop` copies of `content` off
///   each token's ends), `Sequence`.
indirect enum HFDecoder: Sendable {
    case byteLevel
    case metaspace(replacement: UInt32, prependFirst: Bool)
    case replace(ScalarRegex, content: String)
    case byteFallback
    case fuse
    case strip(UInt32, start: Int, stop: Int)
    case sequence([HFDecoder])

    static let supported = ["ByteLevel", "Metaspace", "Replace", "ByteFallback", "Fuse", "Strip", "Sequence"]

    func decode(_ tokens: [String]) -> String { chain(tokens).joined() }

    func chain(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens { bytes.append(contentsOf: ByteLevel.decode(t) ?? Array(t.utf8)) }
            return [String(decoding: bytes, as: UTF8.self)]
        case let .metaspace(replacement, prependFirst):
            return tokens.enumerated().map { i, t in
                var v = String.UnicodeScalarView()
                for u in t.unicodeScalars {
                    if u.value != replacement { v.append(u) } else if !(i == 0 && prependFirst) { v.append(" ") }
                }
                return String(v)
            }
        case let .replace(regex, content):
            return tokens.map { t in
                let s = [UInt32](scalarsOf: t)
                return s.withUnsafeBufferPointer { buf in
                    var out = ""
                    for (r, isMatch) in regex.pieces(buf) {
                        out += isMatch ? content : String(scalarValues: buf[r])
                    }
                    return out
                }
            }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = Self.byteToken(t) { pending.append(b) } else { flush(); out.append(t) }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { t in
                let s = Array(t.unicodeScalars)
                var lo = 0
                while lo < min(start, s.count) && s[lo].value == content { lo += 1 }
                var hi = s.count
                var k = 0
                while k < stop && hi > 0 && s[hi - 1].value == content { hi -= 1; k += 1 }
                // tokenizers cuts both ends independently; when they cross, nothing is left.
                guard lo < hi else { return "" }
                var v = String.UnicodeScalarView()
                v.append(contentsOf: s[lo..<hi])
                return String(v)
            }
        case let .sequence(items):
            return items.reduce(tokens) { $1.chain($0) }
        }
    }

    /// The byte of a `<0xXX>` token: six bytes, "<0x", two characters that
    /// Rust's `u8::from_str_radix(_, 16)` reads (an optional "+" and hex digits), ">".
    static func byteToken(_ t: String) -> UInt8? {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        if u[3] == 0x2B { return hex(u[4]) }
        guard let a = hex(u[3]), let b = hex(u[4]) else { return nil }
        return a << 4 | b
    }

    static func parse(_ f: HFField) throws -> HFDecoder {
        let type = try f.type()
        switch type {
        case "ByteLevel": return .byteLevel
        case "Metaspace":
            var first = true
            if let s = f.optional("prepend_scheme") { first = try s.string() != "never" }
            if let a = f.optional("add_prefix_space"), try a.bool() == false { first = false }
            return .metaspace(replacement: try f.scalar("replacement"), prependFirst: first)
        case "Replace":
            return .replace(try f.pattern(), content: try f.required("content").string())
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            return .strip(try f.scalar("content"), start: try f.required("start").int(in: 0...1_000_000),
                          stop: try f.required("stop").int(in: 0...1_000_000))
        case "Sequence":
            return .sequence(try f.required("decoders").array().map(parse))
        default:
            throw f.unsupportedType(type, supported: supported)
        }
    }
}
