import SimplyData
import SimplyModel

/// The text of one continuation as its tokens arrive: what may be sent now
/// (streaming), and the final text.
///
/// The final text is the tokens decoded without the stop token sequence that
/// ended them, cut before the first `stop` string. While streaming, text is
/// held back as long as it could still change: a decoded tail that is an
/// unfinished UTF-8 character (U+FFFD), or a tail that may be the start of
/// a stop string or of an end-of-turn marker spelled in several tokens.
/// So what a stream sends is always a prefix of the final text.
public struct CompletionText {
    let tokenizer: any Tokenizer
    let stopTokens: [[Int32]]
    let stopTexts: [String]
    /// stopTexts and the decoded stop token sequences: tails to hold back.
    let holdBack: [String]
    private(set) var tokens: [Int32] = []
    /// Unicode scalars already sent.
    private(set) var sent = 0

    public init(tokenizer: any Tokenizer, stopTokens: [[Int32]], stopTexts: [String], stopMarkers: [String]) {
        self.tokenizer = tokenizer; self.stopTokens = stopTokens; self.stopTexts = stopTexts
        holdBack = stopTexts + stopMarkers
    }

    public mutating func append(_ token: Int32) { tokens.append(token) }

    /// The text so far that can no longer change, not yet sent; marks it sent.
    public mutating func releasable() -> String {
        let scalars = Array(text().unicodeScalars)
        var end = scalars.count
        while end > 0, scalars[end - 1] == "\u{FFFD}" { end -= 1 }
        // The longest tail that is a proper start of a stop string or marker.
        var keep = 0
        for marker in holdBack {
            let m = Array(marker.unicodeScalars)
            for l in stride(from: min(m.count - 1, end), through: 1, by: -1) where l > keep {
                if scalars[(end - l)..<end].elementsEqual(m[0..<l]) { keep = l; break }
            }
        }
        end -= keep
        return take(scalars, upTo: end)
    }

    /// The rest of the final text, after the continuation ended.
    public mutating func finish() -> String {
        take(Array(text().unicodeScalars), upTo: nil)
    }

    private mutating func take(_ scalars: [Unicode.Scalar], upTo end: Int?) -> String {
        let end = end ?? scalars.count
        guard end > sent else { return "" }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[sent..<end])
        sent = end
        return String(out)
    }

    /// The decoded text: without a final stop token sequence, cut at the
    /// first stop string (its earliest occurrence).
    public func text() -> String {
        var body = tokens
        if let s = stopTokens.first(where: { body.count >= $0.count && body.suffix($0.count).elementsEqual($0) }) {
            body.removeLast(s.count)
        }
        var text = tokenizer.decode(body)
        var cut = text.endIndex
        for s in stopTexts { if let r = text.firstRange(of: s), r.lowerBound < cut { cut = r.lowerBound } }
        text = String(text[..<cut])
        return text
    }
}
