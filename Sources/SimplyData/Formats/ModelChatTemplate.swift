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
    /// The texts of eos and the other stop tokens, longest first.
    let endOfTurnMarkers: [[UInt8]]

    init(renderer: ChatTemplateRenderer, tokenizer: any Tokenizer) {
        self.renderer = renderer
        self.tokenizer = tokenizer
        var seen = Set<[UInt8]>()
        endOfTurnMarkers = ([tokenizer.eos] + tokenizer.endOfTurnIds).map { Array(tokenizer.decode([$0]).utf8) }
            .filter { !$0.isEmpty && seen.insert($0).inserted }
            .sorted { $0.count > $1.count }
    }

    func text(_ messages: [ChatMessage], generationPrompt: Bool) throws -> String {
        let json = messages.map { m -> JSONValue in .object([("role", .string(m.role.rawValue)), ("content", .string(m.content))]) }
        do {
            return try renderer.render(messages: json, addGenerationPrompt: generationPrompt)
        } catch let e as DataError {
            throw DataError(file: e.file, line: e.line, "chat template: \(e.message)")
        }
    }

    func render(_ messages: [ChatMessage], trainFrom: Int, generationPrompt: Bool) throws -> MaskedTokens {
        let whole = Array(try text(messages, generationPrompt: generationPrompt).utf8)
        return masked(whole, spans: try spans(messages, in: whole, trainFrom: trainFrom))
    }

    /// The continuation of `prompt` (rendered with the generation prompt) by
    /// `completion`: the text the whole conversation adds after the prompt's
    /// text, tokenized on its own (as TRL tokenizes a prompt and its
    /// completion), with the loss on the completion's assistant turns. So a
    /// training sequence is what generation sees: the prompt as sampled, then
    /// the reply.
    func completion(after prompt: [ChatMessage], _ completion: [ChatMessage]) throws -> MaskedTokens {
        let head = Array(try text(prompt, generationPrompt: completion.first?.role == .assistant).utf8)
        let all = prompt + completion
        let whole = Array(try text(all, generationPrompt: false).utf8)
        let spans = try self.spans(all, in: whole, trainFrom: prompt.count)
        // Where the completion starts: after the prompt's text, or, for a template that renders
        // the prompt differently once a reply follows (Mistral v0.3 drops the system message
        // unless the last message is the user's), where the first completion turn starts.
        var cut = head.count
        if !(whole.count >= head.count && whole[..<head.count].elementsEqual(head)) {
            guard let first = spans.first else {
                throw DataError("chat template: the conversation's text does not start with its prompt's, and it has no assistant turn to start from")
            }
            cut = first.0
        }
        return masked(Array(whole[cut...]), spans: spans.map { (max(0, $0.0 - cut), max(0, $0.1 - cut)) })
    }

    /// `text` encoded with its special tokens, the tokens of each byte span in the loss.
    func masked(_ text: [UInt8], spans: [(Int, Int)]) -> MaskedTokens {
        let tokens = tokenizer.encodeRendered(String(decoding: text, as: UTF8.self))
        var mask = [Bool](repeating: false, count: tokens.count)
        for (start, end) in spans {
            let first = tokenIndex(atByte: start, text: text, tokens: tokens)
            let last = tokenIndex(atByte: end, text: text, tokens: tokens)
            for t in first..<max(first, last) { mask[t] = true }
        }
        return MaskedTokens(tokens: tokens, mask: mask)
    }

    /// The byte spans of the assistant turns from `trainFrom` on.
    func spans(_ messages: [ChatMessage], in text: [UInt8], trainFrom: Int) throws -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        var cursor = 0   // byte offset: turns are found in order
        for (i, m) in messages.enumerated() where m.role == .assistant {
            let (start, end) = try span(of: i, messages, in: text, from: cursor)
            cursor = end
            if i >= trainFrom { out.append((start, end)) }
        }
        return out
    }

    /// Byte range of assistant message `i`'s turn in the whole text: see the type's comment.
    func span(of i: Int, _ messages: [ChatMessage], in text: [UInt8], from cursor: Int) throws -> (Int, Int) {
        var start: Int? = nil
        if let head = try? self.text(Array(messages[..<i]), generationPrompt: true) {
            let h = Array(head.utf8)
            if h.count >= cursor && h.count <= text.count && text[..<h.count].elementsEqual(h) { start = h.count }
        }
        var content = Array(messages[i].content.trimmingWhitespace().utf8)
        // Templates that move reasoning (Qwen3) write the answer after `</think>` apart from it.
        if find(content, in: text, from: start ?? cursor) == nil, let r = messages[i].content.range(of: "</think>", options: .backwards) {
            content = Array(String(messages[i].content[r.upperBound...]).trimmingWhitespace().utf8)
        }
        var end = start ?? cursor
        if !content.isEmpty {
            guard let at = find(content, in: text, from: start ?? cursor) else {
                throw DataError("chat template: assistant message \(i)'s content does not appear in the rendered text, "
                                + "so its loss mask cannot be placed")
            }
            // Without a prefix rendering (a template that moves earlier text, e.g. Mistral's system prompt), the turn starts at its content.
            if start == nil { start = at }
            end = at + content.count
        }
        let from = start ?? end
        // The end-of-turn marker written right after the content (after a few spaces or newlines at most).
        var j = end
        while j < text.count && j - end < 4 && (text[j] == UInt8(ascii: " ") || text[j] == UInt8(ascii: "\n")) { j += 1 }
        for marker in endOfTurnMarkers where j + marker.count <= text.count && text[j..<(j + marker.count)].elementsEqual(marker) {
            return (from, j + marker.count)
        }
        return (from, end)
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
