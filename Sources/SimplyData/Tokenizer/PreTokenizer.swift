/// GPT-2's pre-tokenizer: splits text into the pieces that BPE merges never
/// cross. It is Hugging Face `ByteLevel(add_prefix_space=False, use_regex=True)`,
/// i.e. the regex
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// run as a sequence of leftmost matches (every character ends up in exactly
/// one piece), written out by hand over Unicode scalars. As in Oniguruma,
/// which `tokenizers` uses: alternatives are tried in order (first match
/// wins, not longest), \p{L} is general category L*, \p{N} is N*, \s is
/// White_Space, and the contractions are case-sensitive ASCII.
public enum PreTokenizer {
    /// The pieces of `text`, in order; their concatenation is `text`.
    public static func split(_ text: String) -> [String] {
        var t = text
        return t.withUTF8 { buf in
            var out: [String] = []
            forEachPiece(buf) { r in out.append(String(decoding: UnsafeBufferPointer(rebasing: buf[r]), as: UTF8.self)) }
            return out
        }
    }

    static let other: UInt8 = 0, letter: UInt8 = 1, number: UInt8 = 2, space: UInt8 = 3

    /// Character class of every scalar in the Basic Multilingual Plane.
    private static let bmpClass: [UInt8] = {
        var t = [UInt8](repeating: other, count: 0x10000)
        for v in 0..<0x10000 {
            if let u = Unicode.Scalar(UInt32(v)) { t[v] = classify(u) }
        }
        return t
    }()

    private static func classify(_ u: Unicode.Scalar) -> UInt8 {
        let p = u.properties
        if p.isWhitespace { return space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return letter
        case .decimalNumber, .letterNumber, .otherNumber: return number
        default: return other
        }
    }

    @inline(__always)
    static func charClass(_ v: UInt32) -> UInt8 {
        v < 0x10000 ? bmpClass[Int(v)] : classify(Unicode.Scalar(v) ?? "\u{FFFD}")
    }

    /// Decodes the scalar starting at `i` of valid UTF-8: (value, byte length).
    @inline(__always)
    static func scalar(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(b[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 { return ((b0 & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F), 3) }
        return ((b0 & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6 | UInt32(b[i + 3] & 0x3F), 4)
    }

    /// Calls `body` with the byte range of each piece of the valid UTF-8 in `b`.
    static func forEachPiece(_ b: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let n = b.count
        var i = 0
        // End of the run of scalars of class `cls` starting at byte `j`.
        func run(from j: Int, _ cls: UInt8) -> Int {
            var k = j
            while k < n {
                let (v, len) = scalar(b, k)
                if charClass(v) != cls { break }
                k += len
            }
            return k
        }
        while i < n {
            let start = i
            let (c, len) = scalar(b, i)
            // 's 't 're 've 'm 'll 'd
            if c == 0x27, i + 1 < n {
                let b1 = b[i + 1]
                if b1 == UInt8(ascii: "s") || b1 == UInt8(ascii: "t") || b1 == UInt8(ascii: "m") || b1 == UInt8(ascii: "d") {
                    i += 2; body(start..<i); continue
                }
                if i + 2 < n {
                    let b2 = b[i + 2]
                    if (b1 == UInt8(ascii: "r") && b2 == UInt8(ascii: "e")) || (b1 == UInt8(ascii: "v") && b2 == UInt8(ascii: "e"))
                        || (b1 == UInt8(ascii: "l") && b2 == UInt8(ascii: "l")) {
                        i += 3; body(start..<i); continue
                    }
                }
            }
            // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional ASCII space, then a run of one class.
            if c == 0x20, i + 1 < n {
                let (c2, _) = scalar(b, i + 1)
                let cls2 = charClass(c2)
                if cls2 != space { i = run(from: i + 1, cls2); body(start..<i); continue }
            }
            let cls = charClass(c)
            if cls != space { i = run(from: i, cls); body(start..<i); continue }
            // "\s+(?!\S)|\s+": the whole whitespace run if it ends the text;
            // otherwise all but its last scalar (which then starts the next
            // piece: " ?\p{L}+" for a space before a letter), or the single
            // scalar when the run has only one.
            var k = i + len
            var lastStart = i
            while k < n {
                let (v, l) = scalar(b, k)
                if charClass(v) != space { break }
                lastStart = k
                k += l
            }
            i = (k == n || lastStart == start) ? k : lastStart
            body(start..<i)
        }
    }
}
