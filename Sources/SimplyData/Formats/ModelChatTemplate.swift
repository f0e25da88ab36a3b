import Foundation
import SimplyCore

/// A published model's own chat template (its Jinja `chat_template`, rendered
/// by `ChatTemplateRenderer` as transformers' `apply_chat_template` does),
/// turned into tokens with a loss mask.
///
/// Tokens: the rendered text encoded with special tokens parsed (transformers'
/// `apply_chat_template(tokenize=True)`: the template writes bos and the turn
/// markers as text; no post-processor tokens are added).
///
/// Loss mask (TRL's `assistant_only_loss`, without needing `{% generation %}`
/// blocks in the template): each trained assistant turn's span of text runs
/// from where the conversation rendered up to that turn with the generation
/// prompt ends (when that rendering is a prefix of the whole text; else from
/// the turn's content) through the turn's content and the end-of-turn marker
/// the template writes right after it (the tokenizer's eos or another stop
/// token). The tokens of that span carry loss: the first token at or after
/// the span's start (found by encoding the text before it, which gives a
/// prefix of the whole encoding in the usual case, else by decoding
/// prefixes) up to the first at or after its end.
struct ModelChatTemplate: Sendable {
    let renderer: ChatTemplateRenderer
    let tokenizer: any Tokenizer

    func text(_ messages: [ChatMessage], generationPrompt: Bool) throws -> String {
        let json = messages.map { m -> JSONValue in .object([("role", .string(m.role.rawValue)), ("content", .string(m.content))]) }
        do {
            return try renderer.render(messages: json, addGenerationPrompt: generationPrompt)
        } catch let e as DataError {
            throw DataError(file: e.file, line: e.line, "chat template: \(e.message)")
        }
    }

    func render(_ messages: [ChatMessage], trainFrom: Int, generationPrompt: Bool) throws -> MaskedTokens {
        let whole = try text(messages, generationPrompt: generationPrompt)
        let bytes = Array(whole.utf8)
        let tokens = tokenizer.encodeRendered(whole)
        var mask = [Bool](repeating: false, count: tokens.count)
        var cursor = 0   // byte offset: spans are searched in order
        for (i, m) in messages.enumerated() where m.role == .assistant {
            let (start, end) = try span(of: i, messages, in: bytes, from: cursor)
            cursor = end
            guard i >= trainFrom else { continue }
            let first = tokenIndex(atByte: start, text: bytes, tokens: tokens)
            let last = tokenIndex(atByte: end, text: bytes, tokens: tokens)
            for t in first..<max(first, last) { mask[t] = true }
        }
        return MaskedTokens(tokens: tokens, mask: mask)
    }

    /// Byte range of assistant message `i`'s turn in the whole text: see the type's comment.
    func span(of i: Int, _ messages: [ChatMessage], in text: [UInt8], from cursor: Int) throws -> (Int, Int) {
        var start = cursor
        if let head = try? self.text(Array(messages[..<i]), generationPrompt: true) {
            let h = Array(head.utf8)
            if h.count >= cursor && h.count <= text.count && text[..<h.count].elementsEqual(h) { start = h.count }
        }
        var content = Array(messages[i].content.trimmingWhitespace().utf8)
        // Templates that move reasoning (Qwen3) write the answer after `</think>` apart from it.
        if find(content, in: text, from: start) == nil, let r = messages[i].content.range(of: "</think>", options: .backwards) {
            content = Array(String(messages[i].content[r.upperBound...]).trimmingWhitespace().utf8)
        }
        var end = start
        if !content.isEmpty {
            guard let at = find(content, in: text, from: start) else {
                throw DataError("chat template: assistant message \(i)'s content does not appear in the rendered text, "
                                + "so its loss mask cannot be placed")
            }
            end = at + content.count
        }
        // The end-of-turn marker written right after the content (after a few spaces or newlines at most).
        var j = end
        while j < text.count && j - end < 4 && (text[j] == UInt8(ascii: " ") || text[j] == UInt8(ascii: "\n")) { j += 1 }
        for marker in endOfTurnMarkers where j + marker.count <= text.count && text[j..<(j + marker.count)].elementsEqual(marker) {
            return (start, j + marker.count)
        }
        return (start, end)
    }

    /// The texts of eos and the other stop tokens, longest first.
    var endOfTurnMarkers: [[UInt8]] {
        let ids = [tokenizer.eos] + tokenizer.endOfTurnIds
        var seen = Set<[UInt8]>()
        return ids.map { Array(tokenizer.decode([$0]).utf8) }.filter { !$0.isEmpty && seen.insert($0).inserted }
            .sorted { $0.count > $1.count }
    }

    func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// The index of the first token that starts at or after byte `b` of the text.
    func tokenIndex(atByte b: Int, text: [UInt8], tokens: [Int32]) -> Int {
        if b <= 0 { return 0 }
        if b >= text.count { return tokens.count }
        let prefix = tokenizer.encodeRendered(String(decoding: text[..<b], as: UTF8.self))
        if prefix.count <= tokens.count && tokens[..<prefix.count].elementsEqual(prefix) { return prefix.count }
        // A token straddles b: the first k whose decoded prefix reaches b (decoded lengths grow with k).
        var lo = 0, hi = tokens.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if tokenizer.decode(Array(tokens[..<mid])).utf8.count >= b { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines.
    func trimmingWhitespace() -> String {
        let ws: Set<Character> = [" ", "\t", "\n", "\r"]
        var s = Substring(self)
        while let f = s.first, ws.contains(f) { s = s.dropFirst() }
        while let l = s.last, ws.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
