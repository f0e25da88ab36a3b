import Foundation
import SimplyCore

/// Built-in, seeded task generators: instruction data and verifiable tasks
/// whose answers can be checked exactly, so post-training (SFT, DPO, GRPO)
/// can show an improvement end to end with no download.
///
/// Example i of a task is a pure function of (task, seed, i), drawn from the
/// Philox stream "tasks.<task>". The train/test split is decided by a hash of
/// the prompt text, so the same prompt can never sit in both splits.
public enum TaskKind: String, CaseIterable, Sendable {
    case addition       // "What is 482 + 37?" → "519"
    case multiplication // "What is 23 * 7?" → "161"
    case sorting        // "Sort: 5 2 9 1" → "1 2 5 9"
    case copying        // "Repeat: kqzv" → "kqzv"
    case reversal       // "Reverse: kqzv" → "vzqk"
}

public struct TaskExample: Sendable, Equatable {
    public let prompt: String
    public let answer: String
    /// A plausible wrong answer (one digit, element or character off), for preference pairs.
    public let nearMiss: String

    public init(prompt: String, answer: String, nearMiss: String) {
        self.prompt = prompt; self.answer = answer; self.nearMiss = nearMiss
    }
}

public enum TaskSplit: String, Sendable { case train, test }

public enum TaskGenerator {
    /// Example `index` of `kind` for `seed`, with operands of up to `maxDigits` digits.
    public static func example(_ kind: TaskKind, seed: UInt64, index: UInt64, maxDigits: Int = 3) -> TaskExample {
        let s = RandomStream(seed: seed, name: "tasks." + kind.rawValue)
        var draw: UInt64 = 0
        func next(_ n: Int) -> Int {  // uniform in 0..<n from draw (index, draw)
            defer { draw += 1 }
            return Int(s.uint64(index, draw) % UInt64(n))
        }
        func number() -> Int {
            let digits = 1 + next(maxDigits)
            var lo = 1
            for _ in 1..<digits { lo *= 10 }
            return digits == 1 ? next(10) : lo + next(9 * lo)
        }
        func word() -> String {
            let letters = Array("abcdefghijklmnopqrstuvwxyz")
            return String((0..<(3 + next(6))).map { _ in letters[next(26)] })
        }
        let prompt: String, answer: String, nearMiss: String
        switch kind {
        case .addition, .multiplication:
            let a = number(), b = kind == .addition ? number() : next(10 * maxDigits) + 1
            let op = kind == .addition ? "+" : "*"
            prompt = "What is \(a) \(op) \(b)?"
            answer = String(kind == .addition ? a + b : a * b)
            nearMiss = perturbDigit(answer, pick: next(answer.count), delta: 1 + next(9))
        case .sorting:
            let values = (0..<(3 + next(5))).map { _ in next(100) }
            prompt = "Sort: " + values.map(String.init).joined(separator: " ")
            let sorted = values.sorted()
            answer = sorted.map(String.init).joined(separator: " ")
            var miss = sorted
            if let i = (0..<(miss.count - 1)).first(where: { miss[$0] != miss[$0 + 1] }) { miss.swapAt(i, i + 1) }
            else { miss[0] += 1 }
            nearMiss = miss.map(String.init).joined(separator: " ")
        case .copying, .reversal:
            let w = word()
            prompt = (kind == .copying ? "Repeat: " : "Reverse: ") + w
            answer = kind == .copying ? w : String(w.reversed())
            var chars = Array(answer)
            let i = next(chars.count)
            chars[i] = chars[i] == "z" ? "a" : Character(Unicode.Scalar(chars[i].asciiValue! + 1))
            nearMiss = String(chars)
        }
        return TaskExample(prompt: prompt, answer: answer, nearMiss: nearMiss)
    }

    /// Which split a prompt belongs to: about `testPercent`% of prompts are held out.
    public static func split(of prompt: String, testPercent: Int = 10) -> TaskSplit {
        let h = sha256Hex(Array(prompt.utf8))
        let v = Int(h.prefix(4), radix: 16)!          // 0..<65536
        return v * 100 < testPercent * 65536 ? .test : .train
    }

    /// Demonstrations with a systematic mistake, for experiments on learning
    /// from flawed data: each arithmetic example's answer becomes answer + 1
    /// with probability `fraction` (Philox stream "off_by_one", counter = the
    /// example's position), so a model fine-tuned on them learns to be off by
    /// one. The near miss stays as it was.
    public static func offByOne(_ examples: [TaskExample], fraction: Double, seed: UInt64) -> [TaskExample] {
        let stream = RandomStream(seed: seed, name: "off_by_one")
        return examples.enumerated().map { i, e in
            guard Double(stream.uniform(UInt64(i))) < fraction, let n = Int(e.answer) else { return e }
            return TaskExample(prompt: e.prompt, answer: String(n + 1), nearMiss: e.nearMiss)
        }
    }

    /// Demonstrations with a format slip, for experiments on preference and RL
    /// training: each answer gets a trailing period ("85.") with probability
    /// `fraction` (Philox stream "trailing_period", counter = the example's
    /// position). The arithmetic stays right; exact match rejects the period,
    /// so a model fine-tuned on them answers right but often in the wrong form.
    public static func trailingPeriod(_ examples: [TaskExample], fraction: Double, seed: UInt64) -> [TaskExample] {
        let stream = RandomStream(seed: seed, name: "trailing_period")
        return examples.enumerated().map { i, e in
            guard Double(stream.uniform(UInt64(i))) < fraction else { return e }
            return TaskExample(prompt: e.prompt, answer: e.answer + ".", nearMiss: e.nearMiss)
        }
    }

    /// Preference pairs whose rejected answer is the right answer with the
    /// format slip of `trailingPeriod` ("85" over "85.").
    public static func periodRejected(_ examples: [TaskExample]) -> [TaskExample] {
        examples.map { TaskExample(prompt: $0.prompt, answer: $0.answer, nearMiss: $0.answer + ".") }
    }

    /// The first `count` distinct examples of `split`, in index order.
    public static func examples(_ kind: TaskKind, seed: UInt64, split: TaskSplit, count: Int, maxDigits: Int = 3,
                                testPercent: Int = 10) -> [TaskExample] {
        var out: [TaskExample] = []
        var seen = Set<String>()
        var i: UInt64 = 0
        // Small task spaces run out of distinct prompts: stop after 100 × (those found) misses in a row,
        // not 100 × count (a count far beyond the space spun through 100 × count misses).
        var misses = 0
        while out.count < count && misses < 100 * max(out.count, 1000) {
            let e = example(kind, seed: seed, index: i, maxDigits: maxDigits)
            i += 1
            if TaskGenerator.split(of: e.prompt, testPercent: testPercent) == split, seen.insert(e.prompt).inserted {
                out.append(e)
                misses = 0
            } else {
                misses += 1
            }
        }
        return out
    }

    static func perturbDigit(_ s: String, pick: Int, delta: Int) -> String {
        var chars = Array(s)
        var i = pick
        while i < chars.count, !(chars[i].isNumber) { i += 1 }
        if i >= chars.count { return s + "1" }
        let d = Int(String(chars[i]))!
        var nd = (d + delta) % 10                               // delta in 1...9: never d
        if i == 0 && nd == 0 && chars.count > 1 { nd = d == 9 ? 8 : d + 1 }  // no leading zero
        chars[i] = Character(String(nd))
        return String(chars)
    }
}

/// The JSONL records a task example becomes, in TRL's dataset formats (RecordFormat.swift).
public enum TaskRecordFormat: String, CaseIterable, Sendable {
    case alpaca, messages, promptCompletion = "prompt_completion", preference, promptOnly = "prompt_only"

    /// The record of one example. `conversational` writes prompts as a user
    /// message and answers as assistant messages (TRL's conversational form),
    /// so the data renders with the same chat template as Alpaca/messages SFT
    /// data; alpaca and messages are conversational by nature.
    public func record(_ e: TaskExample, conversational: Bool = false) -> JSONValue {
        func user(_ s: String) -> JSONValue { .array([.object([("role", .string("user")), ("content", .string(s))])]) }
        func assistant(_ s: String) -> JSONValue { .array([.object([("role", .string("assistant")), ("content", .string(s))])]) }
        let prompt: JSONValue = conversational ? user(e.prompt) : .string(e.prompt)
        func answer(_ s: String) -> JSONValue { conversational ? assistant(s) : .string(s) }
        switch self {
        case .alpaca:
            return .object([("instruction", .string(e.prompt)), ("input", .string("")), ("output", .string(e.answer))])
        case .messages:
            return .object([("messages", .array([
                .object([("role", .string("user")), ("content", .string(e.prompt))]),
                .object([("role", .string("assistant")), ("content", .string(e.answer))]),
            ]))])
        case .promptCompletion:
            return .object([("prompt", prompt), ("completion", answer(e.answer))])
        case .preference:
            return .object([("prompt", prompt), ("chosen", answer(e.answer)), ("rejected", answer(e.nearMiss))])
        case .promptOnly:
            // The answer rides along for verifiable rewards and exact-match evals.
            return .object([("prompt", prompt), ("answer", .string(e.answer))])
        }
    }
}
