/// Deterministic byte mutations in the style of AFL and libFuzzer: bit
/// flips, byte insert/delete/duplicate, splicing with another corpus entry,
/// and the edits that reach parser limits — numbers replaced by boundary
/// values (2^32, -1, 1e308, Int64.max, Int32.max, ...), little-endian
/// integers overwritten (safetensors' header length), and deep nesting.
public struct Mutator: Sendable {
    public var rng: SplitMix64
    /// Mutants are cut to this length so a run stays fast.
    public let maxLength: Int

    public init(seed: UInt64, maxLength: Int = 1 << 16) {
        rng = SplitMix64(seed: seed)
        self.maxLength = maxLength
    }

    /// Number texts at the edges of Int32, Int64, UInt64 and Double.
    public static let interestingNumbers: [String] = [
        "4294967296", "4294967295", "-1", "0", "-0", "1", "1e308", "1e309", "-1e308", "1e-308", "1e1000",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551615",
        "18446744073709551616", "2147483647", "2147483648", "-2147483648", "65536", "65535", "1000000000000",
        "4611686018427387904", "1e12", "0.5", "1.0", "3", "256", "1024", "99999999999999999999999",
    ]

    /// JSON fragments worth inserting.
    static let tokens: [String] = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\uD800", "\\uDC00", "\\u0000", "\\u+123", "null", "true",
        "false", "{}", "[]", "\"\"", "\"a\":", "\n", "\r\n", " ", "\u{FEFF}", "\u{FFFD}", "é", "🚀", "\u{0}",
        "\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"F32\"", "\"I64\"", "\"BF16\"",
    ]

    /// 1-, 2-, 4- and 8-byte little-endian boundary values.
    static let interestingIntegers: [UInt64] = [
        0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFF8,
    ]

    /// One to four stacked mutations of `input`; `corpus` supplies splices.
    public mutating func mutate(_ input: [UInt8], corpus: [[UInt8]]) -> [UInt8] {
        var out = input
        for _ in 0..<(1 + rng.below(4)) { mutateOnce(&out, corpus: corpus) }
        if out.count > maxLength { out.removeLast(out.count - maxLength) }
        return out
    }

    mutating func position(_ bytes: [UInt8], inclusiveEnd: Bool = false) -> Int {
        rng.below(bytes.count + (inclusiveEnd ? 1 : 0))
    }

    mutating func range(_ bytes: [UInt8]) -> Range<Int> {
        let start = rng.below(bytes.count)
        let length = 1 + rng.below(min(bytes.count - start, rng.chance(80) ? 8 : 256))
        return start..<(start + length)
    }

    mutating func mutateOnce(_ b: inout [UInt8], corpus: [[UInt8]]) {
        let op = rng.below(b.isEmpty ? 1 : 13)
        switch op {
        case 0:  // insert random or printable bytes
            let n = 1 + rng.below(rng.chance(80) ? 4 : 64)
            let printable = rng.chance(50)
            let bytes = (0..<n).map { _ in printable ? UInt8(0x20 + rng.below(95)) : UInt8(truncatingIfNeeded: rng.next()) }
            b.insert(contentsOf: bytes, at: position(b, inclusiveEnd: true))
        case 1:  // flip a bit
            let i = position(b)
            b[i] ^= 1 << UInt8(rng.below(8))
        case 2:  // set a byte
            b[position(b)] = UInt8(truncatingIfNeeded: rng.next())
        case 3:  // delete a range
            b.removeSubrange(range(b))
        case 4:  // duplicate a range (repeats it up to 64 times: long lines, big arrays)
            let r = range(b)
            let copies = rng.chance(80) ? 1 : 1 + rng.below(64)
            let chunk = Array(b[r])
            b.insert(contentsOf: (0..<copies).flatMap { _ in chunk }, at: position(b, inclusiveEnd: true))
        case 5:  // splice: this input's head with another's tail, or a chunk of another inserted
            guard let other = corpus.isEmpty ? nil : corpus[rng.below(corpus.count)], !other.isEmpty else { return }
            if rng.chance(50) {
                b = Array(b[..<position(b, inclusiveEnd: true)]) + Array(other[position(other)...])
            } else {
                b.insert(contentsOf: other[range(other)], at: position(b, inclusiveEnd: true))
            }
        case 6, 7:  // replace a number with a boundary value
            replaceNumber(&b)
        case 8:  // insert a boundary number text
            b.insert(contentsOf: Array(Self.interestingNumbers[rng.below(Self.interestingNumbers.count)].utf8),
                     at: position(b, inclusiveEnd: true))
        case 9:  // insert a JSON fragment
            b.insert(contentsOf: Array(Self.tokens[rng.below(Self.tokens.count)].utf8), at: position(b, inclusiveEnd: true))
        case 10:  // deep nesting around a position
            nest(&b)
        case 11:  // overwrite a little-endian integer
            let width = [1, 2, 4, 8][rng.below(4)]
            var v = Self.interestingIntegers[rng.below(Self.interestingIntegers.count)]
            if rng.chance(20) { v = v &+ UInt64(bitPattern: Int64(rng.below(5) - 2)) }
            let at = rng.chance(30) ? 0 : position(b)
            for j in 0..<width where at + j < b.count { b[at + j] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(j))) }
        default:  // copy a range over another place
            let r = range(b)
            let chunk = Array(b[r])
            let at = position(b)
            for (j, x) in chunk.enumerated() where at + j < b.count { b[at + j] = x }
        }
    }

    /// Replaces the digit run (with sign, fraction, exponent) at or after a
    /// random position; inserts a number when there is none.
    public mutating func replaceNumber(_ b: inout [UInt8]) {
        func isNumberByte(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
        }
        let value = Array(Self.interestingNumbers[rng.below(Self.interestingNumbers.count)].utf8)
        var i = position(b)
        while i < b.count && !(b[i] >= 0x30 && b[i] <= 0x39) { i += 1 }
        guard i < b.count else {
            b.insert(contentsOf: value, at: position(b, inclusiveEnd: true))
            return
        }
        var start = i, end = i
        while start > 0 && isNumberByte(b[start - 1]) { start -= 1 }
        while end < b.count && isNumberByte(b[end]) { end += 1 }
        b.replaceSubrange(start..<end, with: value)
    }

    /// Wraps a range in up to 2000 levels of [ ] or {"a": }, or inserts
    /// only the openers (an unterminated deep document).
    public mutating func nest(_ b: inout [UInt8]) {
        let depth = [10, 100, 511, 512, 513, 1000, 2000][rng.below(7)]
        let object = rng.chance(40)
        let open = Array((object ? "{\"a\":" : "[").utf8), close = Array((object ? "}" : "]").utf8)
        let at = position(b, inclusiveEnd: true)
        let end = at + rng.below(b.count - at + 1)
        if rng.chance(70) {
            b.insert(contentsOf: (0..<depth).flatMap { _ in close }, at: end)
        }
        b.insert(contentsOf: (0..<depth).flatMap { _ in open }, at: at)
    }
}
