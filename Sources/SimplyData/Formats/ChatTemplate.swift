import Foundation

/// Tokens with a per-token loss mask (`true`: the token is a target of the loss).
public struct MaskedTokens: Equatable, Sendable {
    public var tokens: [Int32] = []
    public var mask: [Bool] = []

    public init() {}
    public init(tokens: [Int32], mask: [Bool]) {
        precondition(tokens.count == mask.count, "tokens and mask differ in length")
        self.tokens = tokens
        self.mask = mask
    }

    public var count: Int { tokens.count }
    public var lossTokens: Int { mask.reduce(0) { $0 + ($1 ? 1 : 0) } }

    mutating func append(_ ids: [Int32], loss: Bool) {
        tokens.append(contentsOf: ids)
        mask.append(contentsOf: repeatElement(loss, count: ids.count))
    }

    public static func + (a: MaskedTokens, b: MaskedTokens) -> MaskedTokens {
        MaskedTokens(tokens: a.tokens + b.tokens, mask: a.mask + b.mask)
    }
}

/// Simply's chat template: ChatML, the format of TRL's default chat template
/// (and Qwen's), after a leading bos:
///
///     <|bos|><|im_start|>system\n{content}<|im_end|>\n
///     <|im_start|>user\n{content}<|im_end|>\n
///     <|im_start|>assistant\n{content}<|im_end|>\n<|eos|>
///
/// The markers are special tokens when the tokenizer has them (a trained BPE
/// does) and plain text otherwise (the byte tokenizer). Each piece is encoded
/// on its own, so rendering a prefix of a conversation gives a prefix of its
/// tokens; a prompt's tokens are exactly the start of prompt + response.
///
/// Loss mask (TRL `assistant_only_loss`): the content and the `<|im_end|>` of
/// the assistant turns that are trained, and, when the sequence ends with such
/// a turn, its newline and the final eos; never the role headers, system or
/// user turns.
///
/// A tokenizer that comes with its model's own chat template (a published
/// model's, `Tokenizer.chatTemplate`) renders with that template instead
/// (`ModelChatTemplate`): the same API, that template's text, and its
/// end-of-turn tokens as stop tokens.
public struct ChatTemplate: Sendable {
    public let tokenizer: any Tokenizer
    let model: ModelChatTemplate?

    public init(tokenizer: any Tokenizer) {
        self.tokenizer = tokenizer
        model = tokenizer.chatTemplate.map { ModelChatTemplate(renderer: $0, tokenizer: tokenizer) }
    }

    /// "the model's own" or "ChatML", for messages to the user.
    public var kind: String { model == nil ? "ChatML" : "the model's own" }

    func marker(_ s: String) -> [Int32] { tokenizer.specialToken(s).map { [$0] } ?? tokenizer.encode(s) }

    /// `<|bos|>` then the messages; `trainFrom` is the index of the first
    /// message whose assistant turns carry loss. With `generationPrompt`, the
    /// header of an assistant turn follows (the prompt for sampling).
    /// With the model's own template, its text and mask (`endOfSequence` adds
    /// nothing: such templates end turns themselves); a template that raises
    /// an error, or whose text hides an assistant turn, throws.
    public func render(_ messages: [ChatMessage], trainFrom: Int = 0, generationPrompt: Bool = false,
                       endOfSequence: Bool = false) throws -> MaskedTokens {
        if let model { return try model.render(messages, trainFrom: trainFrom, generationPrompt: generationPrompt) }
        return renderChatML(messages, trainFrom: trainFrom, generationPrompt: generationPrompt, endOfSequence: endOfSequence)
    }

    func renderChatML(_ messages: [ChatMessage], trainFrom: Int, generationPrompt: Bool, endOfSequence: Bool) -> MaskedTokens {
        var out = MaskedTokens()
        out.append([tokenizer.bos], loss: false)
        for (i, m) in messages.enumerated() {
            out.append(marker(SpecialTokens.imStart) + tokenizer.encode(m.role.rawValue + "\n"), loss: false)
            let loss = m.role == .assistant && i >= trainFrom
            out.append(tokenizer.encode(m.content), loss: loss)
            out.append(marker(SpecialTokens.imEnd), loss: loss)
            // The last trained turn's newline leads to the eos in the loss: train it too,
            // so a model sampled without a special <|im_end|> learns the whole ending.
            out.append(tokenizer.encode("\n"), loss: loss && endOfSequence && i == messages.count - 1)
        }
        if generationPrompt {
            out.append(marker(SpecialTokens.imStart) + tokenizer.encode(ChatMessage.Role.assistant.rawValue + "\n"), loss: false)
        }
        if endOfSequence {
            out.append([tokenizer.eos], loss: messages.last?.role == .assistant && messages.count > trainFrom)
        }
        return out
    }

    /// Where a generated turn ends, as token sequences for the sampler: eos,
    /// and `<|im_end|>` the way `render` writes it (one special token, or its
    /// text's tokens with a tokenizer that lacks the special).
    public var stopSequences: [[Int32]] {
        if model != nil { return ([tokenizer.eos] + tokenizer.endOfTurnIds.filter { $0 != tokenizer.eos }).map { [$0] } }
        return [[tokenizer.eos], endOfTurn]
    }

    /// The tokens a rendered sequence holds after the end-of-turn marker of
    /// its final assistant turn: "\n" and eos with ChatML (`render`'s
    /// `endOfSequence`); with a model's own template, what it writes there
    /// (Qwen's "\n", nothing for Llama 3 or Mistral). A completion sampled up
    /// to its end-of-turn marker plus these is what training sequences look like.
    public var afterFinalTurn: [Int32] {
        guard model != nil else { return tokenizer.encode("\n") + [tokenizer.eos] }
        let probe = [ChatMessage(.user, "Hi"), ChatMessage(.assistant, "Hello")]
        guard let tokens = try? render(probe).tokens else { return [] }
        let stops = Set(stopSequences.compactMap { $0.count == 1 ? $0[0] : nil })
        guard let last = tokens.lastIndex(where: { stops.contains($0) }) else { return [] }
        return Array(tokens[(last + 1)...])
    }

    /// `<|im_end|>` as `render` writes it; the tokenizer's eos with the model's own template.
    public var endOfTurn: [Int32] { model != nil ? [tokenizer.eos] : marker(SpecialTokens.imEnd) }

    /// The answer text of a completion: decoded, cut at the end-of-turn marker
    /// (`<|im_end|>`, special or text) or eos; with a model's own template, the
    /// part after a closing `</think>`.
    public func answerText(_ completion: [Int32]) -> String {
        var ids = completion
        let stops = Set(stopSequences.compactMap { $0.count == 1 ? $0[0] : nil } + [tokenizer.eos])
        if let i = ids.firstIndex(where: { stops.contains($0) || $0 == tokenizer.specialToken(SpecialTokens.imEnd) }) {
            ids.removeSubrange(i...)
        }
        var text = tokenizer.decode(ids)
        if let r = text.range(of: SpecialTokens.imEnd) { text = String(text[..<r.lowerBound]) }
        // A reasoning model's answer follows its thinking (Qwen3's `<think>…</think>`),
        // as its own template reads a past turn: content.split('</think>')[-1].lstrip('\n').
        if model != nil, let r = text.range(of: "</think>", options: .backwards) {
            text = String(String(text[r.upperBound...]).drop { $0 == "\n" })
        }
        return text
    }

    /// A plain-text prompt: bos (when the tokenizer has one) then the text, no template.
    public func plainPrompt(_ text: String) -> MaskedTokens {
        var out = MaskedTokens()
        if tokenizer.startsWithBOS { out.append([tokenizer.bos], loss: false) }
        out.append(tokenizer.encode(text), loss: false)
        return out
    }

    /// A plain-text completion: the text then eos, all in the loss.
    public func plainCompletion(_ text: String) -> MaskedTokens {
        var out = MaskedTokens()
        out.append(tokenizer.encode(text) + [tokenizer.eos], loss: true)
        return out
    }

    /// The tokens of `prompt` ready for generation: bos + text, or the
    /// rendered messages + the assistant header.
    public func prompt(_ p: TextOrMessages) throws -> MaskedTokens {
        switch p {
        case let .text(t): return plainPrompt(t)
        case let .messages(m): return try render(m, trainFrom: m.count, generationPrompt: true)
        }
    }

    /// Makes a prompt and a completion the same kind: when one is a message
    /// list, a text prompt becomes a user turn and a text completion an
    /// assistant turn.
    public static func pair(_ p: TextOrMessages, _ c: TextOrMessages) -> (TextOrMessages, TextOrMessages) {
        switch (p, c) {
        case let (.text(t), .messages): return (.messages([ChatMessage(.user, t)]), c)
        case let (.messages, .text(t)): return (p, .messages([ChatMessage(.assistant, t)]))
        default: return (p, c)
        }
    }

    /// The continuation of `prompt` by `completion`, with its mask. Both must
    /// be the same kind (see `pair`).
    public func completion(after prompt: TextOrMessages, _ completion: TextOrMessages) throws -> MaskedTokens {
        switch (prompt, completion) {
        case let (.messages(p), .messages(c)):
            if let model { return try model.completion(after: p, c) }
            let whole = try render(p + c, trainFrom: p.count, endOfSequence: true)
            let headTokens = try render(p, trainFrom: p.count, generationPrompt: c.first?.role == .assistant)
            let head = headTokens.count
            guard head <= whole.count, whole.tokens[..<head].elementsEqual(headTokens.tokens) else {
                throw DataError("chat template: the conversation's tokens do not start with its prompt's "
                                + "(the template renders the prompt differently once a reply follows)")
            }
            // The generation prompt is the first assistant header of `whole`.
            return MaskedTokens(tokens: Array(whole.tokens[head...]), mask: Array(whole.mask[head...]))
        case let (.text(_), .text(c)):
            return plainCompletion(c)
        default:
            preconditionFailure("prompt and completion of different kinds: call ChatTemplate.pair first")
        }
    }
}
