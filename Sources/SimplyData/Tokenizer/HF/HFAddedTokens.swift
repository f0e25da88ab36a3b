import SimplyCore

/// The `added_tokens` of a tokenizer.json and how `tokenizers` finds them in
/// text (`AddedVocabulary::find_matches`).
///
/// Tokens with `normalized: false` are found in the raw text first; the text
/// between them is normalized, and tokens with `normalized: true` are found
/// in that, by their own normalized content. In each pass the matches are
/// leftmost-longest and do not overlap (Aho–Corasick, `LeftmostLongest`);
/// a match is then dropped when it is special and specials are not parsed,
/// or when it is `single_word` and touches a word character (Rust `regex`
/// `\w`) on either side — a dropped match's text is not searched again.
/// `lstrip` widens a kept match over the whitespace before it (not past the
/// previous match), `rstrip` over the whitespace after it.
struct HFAddedTokens: Sendable {
    struct Token: Sendable {
        let id: Int32
        let content: String
        let special: Bool
        let singleWord: Bool
        let lstrip: Bool
        let rstrip: Bool
        let normalized: Bool
    }

    let tokens: [Token]
    /// Per pass (0: raw text, 1: normalized text): first scalar → (pattern, token index), longest first.
    private let patterns: [[UInt32: [([UInt32], Int)]]]
    /// What `decode` writes for each added id: the content, or the normalized
    /// content of a `normalized` token (tokenizers' `simple_id_to_token`).
    let text: [Int32: String]

    init(_ tokens: [Token], normalizer: HFNormalizer?) throws {
        var passes: [[UInt32: [([UInt32], Int)]]] = [[:], [:]]
        var seen: [Set<[UInt32]>] = [[], []]
        var text: [Int32: String] = [:]
        for (i, t) in tokens.enumerated() {
            var pattern = [UInt32](scalarsOf: t.content)
            guard !pattern.isEmpty else { throw DataError("added_tokens[\(i)].content: empty") }
            if t.normalized, let n = normalizer { pattern = n.apply(pattern) }
            let pass = t.normalized ? 1 : 0
            guard seen[pass].insert(pattern).inserted else {
                throw DataError("added_tokens[\(i)]: \(JSONValue.string(t.content).brief()) matches the same text as an earlier added token")
            }
            passes[pass][pattern[0], default: []].append((pattern, i))
            text[t.id] = String(scalarValues: pattern)
        }
        for p in 0..<2 {
            for k in passes[p].keys { passes[p][k]?.sort { $0.0.count > $1.0.count } }
        }
        self.tokens = tokens
        self.patterns = passes
        self.text = text
    }

    var isEmpty: Bool { tokens.isEmpty }

    /// A piece of text, or an added token found there.
    enum Part { case text(Range<Int>), token(Int32) }

    /// Splits `s` at the added tokens of `pass` (0: not normalized, 1: normalized).
    func split(_ s: [UInt32], pass: Int, parseSpecial: Bool) -> [Part] {
        let table = patterns[pass]
        if table.isEmpty || s.isEmpty { return s.isEmpty ? [] : [.text(0..<s.count)] }
        var out: [Part] = []
        var startOffset = 0
        var i = 0
        let n = s.count
        while i < n {
            guard let candidates = table[s[i]] else { i += 1; continue }
            var found: (Int, Int)? = nil  // (end, token index)
            for (pattern, t) in candidates where i + pattern.count <= n {
                if s[i..<(i + pattern.count)].elementsEqual(pattern) { found = (i + pattern.count, t); break }
            }
            guard let (end, t) = found else { i += 1; continue }
            let token = tokens[t]
            var start = i
            var stop = end
            i = end
            if token.special && !parseSpecial { continue }
            if token.singleWord {
                let wordBefore = start > 0 && UnicodeClasses.isRustWord(s[start - 1])
                let wordAfter = stop < n && UnicodeClasses.isRustWord(s[stop])
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                var k = start
                while k > 0 && UnicodeClasses.isWhiteSpace(s[k - 1]) { k -= 1 }
                start = max(k, startOffset)
            }
            if token.rstrip {
                while stop < n && UnicodeClasses.isWhiteSpace(s[stop]) { stop += 1 }
            }
            if startOffset < start { out.append(.text(startOffset..<start)) }
            out.append(.token(token.id))
            startOffset = stop
            i = stop
        }
        if startOffset < n { out.append(.text(startOffset..<n)) }
        return out
    }
}
