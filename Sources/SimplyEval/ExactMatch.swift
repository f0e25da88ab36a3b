import SimplyCore
import SimplyData
import SimplyModel

/// Exact-match accuracy on prompt-only examples that carry their answer
/// (`simply data generate --format prompt_only`): greedy completion, cut at
/// the end of the turn, trimmed, compared with the answer.
public struct ExactMatchReport: Sendable {
    public let total: Int
    public let correct: Int
    /// Completions whose last number is the answer's (`AnswerGrading.isNumericMatch`):
    /// right arithmetic in any wrapping, so a format slip shows as the gap to `correct`.
    public let numericCorrect: Int
    /// (prompt, expected, generated) of the first examples, for a look.
    public let samples: [(prompt: String, expected: String, generated: String)]
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }
    public var numericAccuracy: Double { total == 0 ? 0 : Double(numericCorrect) / Double(total) }
}

public enum ExactMatch {
    /// `batch` prompts are decoded together (speed only: a prompt's completion
    /// does not depend on the others).
    public static func evaluate(model: Transformer, examples: [PreparedExample], tokenizer: any Tokenizer,
                                maxNewTokens: Int = 16, keepSamples: Int = 5, batch: Int = 16,
                                parallel: Parallel) -> ExactMatchReport {
        let items = examples.compactMap { e -> (prompt: [Int32], answer: String)? in
            guard e.kind == .prompt, let expected = e.answer else { return nil }
            return (e.sequences[0].tokens, expected)
        }
        let outs = Greedy.generate(model: model, prompts: items.map(\.prompt), maxNewTokens: maxNewTokens,
                                   tokenizer: tokenizer, batch: batch, parallel: parallel)
        var correct = 0, numericCorrect = 0
        var samples: [(String, String, String)] = []
        for (item, out) in zip(items, outs) {
            let text = Greedy.answerText(out, tokenizer: tokenizer)
            if AnswerGrading.isExactMatch(text, expected: item.answer) { correct += 1 }
            if AnswerGrading.isNumericMatch(text, expected: item.answer) { numericCorrect += 1 }
            if samples.count < keepSamples { samples.append((tokenizer.decode(item.prompt), item.answer, text)) }
        }
        return ExactMatchReport(total: items.count, correct: correct, numericCorrect: numericCorrect, samples: samples)
    }
}
