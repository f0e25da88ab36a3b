import SimplyCore
import SimplyModel

/// Win rate of a policy against a baseline from per-prompt scores (a reward
/// model's): a win when the policy's completion scores strictly higher, a tie
/// when the two scores are equal (bit for bit: identical completions always
/// tie), a loss otherwise. Win rate = (wins + ties / 2) / prompts.
public struct WinRateReport: Sendable, Equatable {
    public let wins: Int
    public let ties: Int
    public let losses: Int
    /// Mean scores of the policy and the baseline, summed in prompt order.
    public let meanScore: Double
    public let meanBaselineScore: Double

    public var count: Int { wins + ties + losses }
    public var winRate: Double { count == 0 ? 0 : (Double(wins) + 0.5 * Double(ties)) / Double(count) }

    public init(scores: [Double], baselineScores: [Double]) {
        precondition(scores.count == baselineScores.count, "one baseline score per policy score")
        var w = 0, t = 0, l = 0, sum = 0.0, baseSum = 0.0
        for (a, b) in zip(scores, baselineScores) {
            if a > b { w += 1 } else if a == b { t += 1 } else { l += 1 }
            sum += a; baseSum += b
        }
        wins = w; ties = t; losses = l
        meanScore = scores.isEmpty ? 0 : sum / Double(scores.count)
        meanBaselineScore = scores.isEmpty ? 0 : baseSum / Double(scores.count)
    }
}

/// A policy against a baseline on the same prompts, judged by a reward
/// function: each model completes every prompt with the same sampling
/// settings and Philox draws, and each (policy, baseline) pair is scored in
/// the same forward. Deterministic: a function of the weights, the prompts and `sampling`.
public enum WinRate {
    public struct Result: Sendable {
        public let report: WinRateReport
        public let completions: [[Int32]]
        public let baselineCompletions: [[Int32]]
        public let scores: [Double]
        public let baselineScores: [Double]
    }

    /// `batch` prompts are decoded together (speed only).
    public static func evaluate(policy: Transformer, baseline: Transformer, judge: any RewardFunction, prompts: [[Int32]],
                                sampling: SamplingConfig, batch: Int, parallel: Parallel) -> Result {
        func complete(_ m: Transformer) -> [[Int32]] {
            Sampler(model: m, maxRows: max(1, min(batch, prompts.count)))
                .generate(prompts: prompts, config: sampling, parallel: parallel).map(\.tokens)
        }
        let a = complete(policy), b = complete(baseline)
        // Interleaved (policy, baseline) per prompt, so a pair is always scored in the same forward.
        var inputs: [RewardInput] = []
        for p in prompts.indices {
            inputs.append(RewardInput(prompt: prompts[p], completion: a[p]))
            inputs.append(RewardInput(prompt: prompts[p], completion: b[p]))
        }
        let scores = judge.rewards(inputs, parallel: parallel)
        let sa = stride(from: 0, to: scores.count, by: 2).map { scores[$0] }
        let sb = stride(from: 1, to: scores.count, by: 2).map { scores[$0] }
        return Result(report: WinRateReport(scores: sa, baselineScores: sb), completions: a, baselineCompletions: b,
                      scores: sa, baselineScores: sb)
    }
}
