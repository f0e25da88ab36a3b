import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun

/// One completion to score.
public struct RewardInput: Sendable, Equatable {
    /// The prompt's tokens, as sampled from (chat template applied).
    public let prompt: [Int32]
    /// The sampled tokens (with their stop sequence, when one ended them).
    public let completion: [Int32]
    /// The reference answer of a verifiable task (a prompt_only record's `answer`).
    public let answer: String?

    public init(prompt: [Int32], completion: [Int32], answer: String? = nil) {
        self.prompt = prompt; self.completion = completion; self.answer = answer
    }
}

/// A reward: one score per completion, a pure function of the inputs (and of
/// a reward model's weights), so RL rollouts stay inside the determinism
/// contract. GRPO/PPO take any of these, or a `WeightedReward` of several.
public protocol RewardFunction {
    /// The metric name, e.g. "exact_match" (logged as `rewards/NAME`).
    var name: String { get }
    func rewards(_ inputs: [RewardInput], parallel: Parallel) -> [Double]
}

/// 1 when the completion's answer text (cut at `<|im_end|>` or eos, trimmed)
/// is exactly the reference answer, else 0: `simply eval generate`'s
/// exact match, as a reward.
public struct ExactMatchReward: RewardFunction {
    public let template: ChatTemplate
    public var name: String { "exact_match" }

    public init(tokenizer: any Tokenizer) { template = ChatTemplate(tokenizer: tokenizer) }

    public func rewards(_ inputs: [RewardInput], parallel: Parallel) -> [Double] {
        inputs.map { input in
            guard let expected = input.answer else { preconditionFailure("exact_match reward needs each prompt's answer") }
            return AnswerGrading.isExactMatch(template.answerText(input.completion), expected: expected) ? 1 : 0
        }
    }
}

/// 1 when the last number in the completion's answer text equals the
/// reference answer's number (as decimals: "519", "519.0", "+519", "0519"
/// and "The answer is 519" all match 519; "1,000" reads as 1000), else 0. A
/// reference that is not a number falls back to exact match.
public struct NumericAnswerReward: RewardFunction {
    public let template: ChatTemplate
    public var name: String { "numeric_match" }

    public init(tokenizer: any Tokenizer) { template = ChatTemplate(tokenizer: tokenizer) }

    public func rewards(_ inputs: [RewardInput], parallel: Parallel) -> [Double] {
        inputs.map { input in
            guard let expected = input.answer else { preconditionFailure("numeric_match reward needs each prompt's answer") }
            return AnswerGrading.isNumericMatch(template.answerText(input.completion), expected: expected) ? 1 : 0
        }
    }
}

/// 1 when the completion is a clean turn: a non-empty answer with no white
/// space around it and no line break, then the end of the turn (`<|im_end|>`
/// or eos) as its last tokens; else 0. With `numeric`, the answer must also
/// be one number. A completion cut by max_new_tokens or with text after the
/// marker scores 0.
public struct FormatReward: RewardFunction {
    public let template: ChatTemplate
    public let numeric: Bool
    public var name: String { "format" }

    public init(tokenizer: any Tokenizer, numeric: Bool = false) {
        template = ChatTemplate(tokenizer: tokenizer)
        self.numeric = numeric
    }

    public func rewards(_ inputs: [RewardInput], parallel: Parallel) -> [Double] {
        inputs.map { score($0.completion) }
    }

    func score(_ completion: [Int32]) -> Double {
        guard let end = template.stopSequences.first(where: { completion.count > $0.count && completion.ends(with: $0) })
        else { return 0 }
        let body = Array(completion.dropLast(end.count))
        // Nothing that itself ends a turn inside the answer.
        if template.stopSequences.contains(where: { body.contains(subsequence: $0) }) { return 0 }
        let text = template.tokenizer.decode(body)
        if text.isEmpty || text.contains(SpecialTokens.imEnd) || text.contains("\n")
            || text != text.trimmingCharacters(in: .whitespacesAndNewlines) { return 0 }
        if numeric && !Self.isNumber(text) { return 0 }
        return 1
    }

    /// An optional sign, digits (single commas between digits allowed), an optional fraction: nothing else.
    static func isNumber(_ text: String) -> Bool {
        var t = Substring(text)
        if t.first == "-" || t.first == "+" { t = t.dropFirst() }
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, whole.first?.isASCII == true, whole.first!.isNumber,
              whole.last!.isNumber, !whole.contains(",,"),
              whole.allSatisfy({ $0 == "," || ($0.isASCII && $0.isNumber) }) else { return false }
        if parts.count == 2 {
            return !parts[1].isEmpty && parts[1].allSatisfy { $0.isASCII && $0.isNumber }
        }
        return true
    }
}

/// A trained reward model's score of prompt + completion: the score head at
/// the last token (as `simply train --training_mode reward` trained it), the
/// sequence cut to model.seq_len tokens. `model.maxBatch` rows per forward;
/// a row's score does not depend on the others (deterministic `parallel`).
///
/// A reward model learned from chat data saw completions ending
/// `<|im_end|>`, "\n", eos, while the sampler stops at `<|im_end|>`:
/// `turnEnd` appends the rest (`load` sets it from the run's tokenizer).
public final class ModelReward: RewardFunction {
    public let model: Transformer
    public let pad: Int32
    /// When a completion ends with `marker`, `suffix` is appended before scoring.
    public let turnEnd: (marker: [Int32], suffix: [Int32])?
    public var name: String { "reward_model" }

    public init(model: Transformer, pad: Int32, turnEnd: (marker: [Int32], suffix: [Int32])? = nil) {
        precondition(model.config.scoreHead, "a reward model needs model.score_head")
        self.model = model; self.pad = pad; self.turnEnd = turnEnd
    }

    public func rewards(_ inputs: [RewardInput], parallel: Parallel) -> [Double] {
        let limit = model.config.seqLen
        var out: [Double] = []
        out.reserveCapacity(inputs.count)
        var start = 0
        while start < inputs.count {
            let rows = Array(inputs[start..<min(inputs.count, start + model.maxBatch)])
            let seqs = rows.map { input -> [Int32] in
                var s = input.prompt + input.completion
                if let (marker, suffix) = turnEnd, input.completion.ends(with: marker) { s += suffix }
                return Array(s.prefix(limit))
            }
            let t = seqs.map(\.count).max()!
            var tokens = [Int32](repeating: pad, count: rows.count * t)
            for (r, s) in seqs.enumerated() { for (j, x) in s.enumerated() { tokens[r * t + j] = x } }
            let zeros = [Float](repeating: 0, count: tokens.count)
            _ = model.forward(tokens: tokens, targets: tokens, weights: zeros, batch: rows.count, seqLen: t,
                              parallel: parallel, withLogits: false)
            out += model.scores(rows: seqs.enumerated().map { $0.offset * t + $0.element.count - 1 }).map(Double.init)
            start += rows.count
        }
        return out
    }
}

/// Σ weight · reward over several reward functions (e.g. exact match plus a
/// small format bonus), added in the order given.
public struct WeightedReward: RewardFunction {
    public let parts: [(reward: any RewardFunction, weight: Double)]
    public let name: String

    public init(_ parts: [(reward: any RewardFunction, weight: Double)], name: String = "reward") {
        self.parts = parts; self.name = name
    }

    public func rewards(_ inputs: [RewardInput], parallel: Parallel) -> [Double] {
        var total = [Double](repeating: 0, count: inputs.count)
        for (reward, weight) in parts {
            let r = reward.rewards(inputs, parallel: parallel)
            for i in total.indices { total[i] += weight * r[i] }
        }
        return total
    }
}

extension Array where Element: Equatable {
    func ends(with suffix: [Element]) -> Bool {
        suffix.count <= count && self[(count - suffix.count)...].elementsEqual(suffix)
    }

    func contains(subsequence s: [Element]) -> Bool {
        guard !s.isEmpty, s.count <= count else { return s.isEmpty }
        return (0...(count - s.count)).contains { self[$0..<($0 + s.count)].elementsEqual(s) }
    }
}
