import SimplyCore
import SimplyData
import SimplyModel

/// pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on
/// Code"): n samples per prompt, c of them correct; the unbiased estimate of
/// the chance that at least one of k samples drawn without replacement from
/// the n is correct is 1 − C(n−c, k)/C(n, k), computed as their
/// 1 − Π_{i=n−c+1}^{n} (1 − k/i) in Double, i ascending: no big binomials,
/// and the same bits everywhere (IEEE +, −, ×, ÷ only).
public enum PassAtK {
    public static func estimate(n: Int, c: Int, k: Int) -> Double {
        precondition(n >= 1 && c >= 0 && c <= n && k >= 1 && k <= n, "pass@k needs 1 <= k <= n and 0 <= c <= n (n \(n), c \(c), k \(k))")
        if n - c < k { return 1 }
        if c == 0 { return 0 }
        var product = 1.0
        for i in (n - c + 1)...n { product *= 1 - Double(k) / Double(i) }
        return 1 - product
    }

    /// The mean of `estimate` over prompts, summed in prompt order.
    public static func mean(n: Int, correct: [Int], k: Int) -> Double {
        guard !correct.isEmpty else { return 0 }
        var total = 0.0
        for c in correct { total += estimate(n: n, c: c, k: k) }
        return total / Double(correct.count)
    }
}

/// Sampled generation on prompt-only examples with answers: `samples`
/// completions per prompt from the KV-cache sampler, each scored by exact
/// match; per prompt the number correct, and pass@k for each requested k.
public struct SampledGenerationReport: Sendable {
    public let samples: Int
    /// Per prompt (in file order): how many of its samples were correct.
    public let correct: [Int]
    /// (k, mean pass@k), in the order asked.
    public let passAtK: [(k: Int, value: Double)]
    /// Correct samples / all samples: the mean per-sample accuracy (pass@1's estimate).
    public var sampleAccuracy: Double {
        correct.isEmpty ? 0 : Double(correct.reduce(0, +)) / Double(correct.count * samples)
    }
}

public enum SampledGeneration {
    /// `config` sets temperature, top-k/top-p, max_new_tokens, stops and
    /// seed; sample s of prompt p is the sampler's (step 0, prompt id p,
    /// sample s) draw, so the result does not depend on the thread count or
    /// on how many prompts are decoded together (`rows`).
    public static func evaluate(model: Transformer, examples: [PreparedExample], tokenizer: any Tokenizer,
                                samples: Int, ks: [Int], config: SamplingConfig, rows: Int = 64,
                                parallel: Parallel) -> SampledGenerationReport {
        precondition(samples >= 1 && ks.allSatisfy { $0 >= 1 && $0 <= samples }, "every k must be in 1...samples")
        let items = examples.compactMap { e -> (prompt: [Int32], answer: String)? in
            guard e.kind == .prompt, let expected = e.answer else { return nil }
            return (e.sequences[0].tokens, expected)
        }
        guard !items.isEmpty else { return SampledGenerationReport(samples: samples, correct: [], passAtK: ks.map { ($0, 0) }) }
        let sampler = Sampler(model: model, maxRows: max(samples, min(rows, items.count * samples) / samples * samples))
        let out = sampler.generate(prompts: items.map(\.prompt), samplesPerPrompt: samples, config: config, parallel: parallel)
        let template = ChatTemplate(tokenizer: tokenizer)
        var correct = [Int](repeating: 0, count: items.count)
        for c in out where AnswerGrading.isExactMatch(template.answerText(c.tokens), expected: items[c.promptIndex].answer) {
            correct[c.promptIndex] += 1
        }
        return SampledGenerationReport(samples: samples, correct: correct,
                                       passAtK: ks.map { ($0, PassAtK.mean(n: samples, correct: correct, k: $0)) })
    }
}
