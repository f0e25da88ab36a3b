import Foundation

/// `simply data inspect`: a prepared file's header, then examples decoded,
/// with the tokens in the loss marked. Each run of tokens with the same mask
/// is one line: `loss │` before trained tokens, `     │` before the others;
/// newlines and tabs inside the text show as \n and \t.
public enum DataInspect {
    public static func describe(_ url: URL, tokenizer: any Tokenizer, start: Int = 0, count: Int = 3,
                                color: Bool = false) throws -> [String] {
        if ExampleShard.isExampleShard(url) {
            let shard = try ExampleShard.read(url)
            try check(url, prepared: shard.tokenizerName, with: tokenizer)
            let tokens = shard.examples.reduce(0) { $0 + $1.tokenCount }
            let loss = shard.examples.reduce(0) { $0 + $1.sequences.reduce(0) { $0 + $1.lossTokens } }
            var out = ["\(url.path): \(shard.kind.rawValue) examples: \(shard.examples.count), tokens: \(tokens), "
                       + "in the loss: \(loss), vocab_size: \(shard.vocabSize), tokenizer: \(shard.tokenizerName), sha256: \(shard.contentHash)"]
            let names = shard.kind == .preference ? ["prompt", "chosen", "rejected"] : [shard.kind == .prompt ? "prompt" : "sequence"]
            // Clamped: a start past the end shows no example (and must not form a reversed range).
            let first = min(max(start, 0), shard.examples.count)
            for i in first..<(first + min(max(count, 0), shard.examples.count - first)) {
                let e = shard.examples[i]
                out.append("")
                out.append("example \(i): \(e.tokenCount) tokens, \(e.sequences.reduce(0) { $0 + $1.lossTokens }) in the loss")
                for (name, seq) in zip(names, e.sequences) {
                    out.append("  \(name) (\(seq.count) tokens, \(seq.lossTokens) in the loss):")
                    out += runs(seq, tokenizer: tokenizer, color: color)
                }
                if let a = e.answer { out.append("  answer: \(escape(a))") }
            }
            return out
        }
        let shard = try TokenShard.read(url)
        try check(url, prepared: shard.tokenizerName, with: tokenizer)
        var out = ["\(url.path): token shard: tokens: \(shard.tokens.count), documents: \(shard.documentCount), "
                   + "vocab_size: \(shard.vocabSize), tokenizer: \(shard.tokenizerName), sha256: \(shard.contentHash)"]
        // Documents end with eos; every token of pretraining text is in the loss.
        var doc = 0, begin = 0
        for (j, t) in shard.tokens.enumerated() where t == tokenizer.eos {
            if doc >= start && doc - start < count {
                out.append("")
                out.append("document \(doc): \(j + 1 - begin) tokens, all in the loss")
                out += runs(MaskedTokens(tokens: Array(shard.tokens[begin...j]), mask: Array(repeating: true, count: j + 1 - begin)),
                            tokenizer: tokenizer, color: color)
            }
            doc += 1
            begin = j + 1
        }
        return out
    }

    static func check(_ url: URL, prepared: String, with tokenizer: any Tokenizer) throws {
        guard prepared == tokenizer.name else {
            throw DataError(url, "tokenizer_name: prepared with '\(prepared)' but the tokenizer given is '\(tokenizer.name)'")
        }
    }

    /// One line per run of equal mask.
    public static func runs(_ seq: MaskedTokens, tokenizer: any Tokenizer, color: Bool = false) -> [String] {
        var out: [String] = []
        var i = 0
        while i < seq.count {
            var j = i
            while j < seq.count && seq.mask[j] == seq.mask[i] { j += 1 }
            let text = escape(tokenizer.decode(Array(seq.tokens[i..<j])))
            if seq.mask[i] {
                out.append(color ? "    loss │ \u{1B}[32m\(text)\u{1B}[0m" : "    loss │ \(text)")
            } else {
                out.append("         │ \(text)")
            }
            i = j
        }
        return out
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
