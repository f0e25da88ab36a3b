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
