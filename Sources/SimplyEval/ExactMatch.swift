import SimplyCore
import SimplyData
import SimplyModel

/// Exact-match accuracy on prompt-only examples that carry their answer
/// (`simply data generate --format prompt_only`): greedy completion, cut at
/// the end of the turn, trimmed, compared with the answer.
public struct ExactMatchReport: Sendable {
    public let total: Int
    public let correct: Int
    /// (prompt, expected, generated) of the first examples, for a look.
    public let samples: [(prompt: String, expected: String, generated: String)]
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }
}

public enum ExactMatch {
    public static func evaluate(model: Transformer, examples: [PreparedExample], tokenizer: any Tokenizer,
                                maxNewTokens: Int = 16, keepSamples: Int = 5, parallel: Parallel) -> ExactMatchReport {
        var correct = 0, total = 0
        var samples: [(String, String, String)] = []
        for e in examples {
            guard e.kind == .prompt, let expected = e.answer else { continue }
            let out = Greedy.generate(model: model, prompt: e.sequences[0].tokens, maxNewTokens: maxNewTokens,
                                      tokenizer: tokenizer, parallel: parallel)
            let text = Greedy.answerText(out, tokenizer: tokenizer)
            total += 1
            if TaskGenerator.isCorrect(text, expected: expected) { correct += 1 }
            if samples.count < keepSamples { samples.append((tokenizer.decode(e.sequences[0].tokens), expected, text)) }
        }
        return ExactMatchReport(total: total, correct: correct, samples: samples)
    }
}
