import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun

/// How a policy's completions of held-out prompts score under reward
/// functions (PPO's "before/after"): sample (greedy by default) one
/// completion per prompt, score every completion, average.
public enum RewardScoreEvaluation {
    public struct Result: Sendable {
        public let prompts: Int
        /// Mean score per reward function, in the order given.
        public let means: [(name: String, mean: Double)]
        public let meanLength: Double
        /// Completions that ended with an end-of-turn marker.
        public let stopped: Int
        /// The first few (prompt, completion, scores), decoded.
        public let samples: [(prompt: String, completion: String, scores: [Double])]
    }

    /// `prompts` rows at a time from `policy` (whose maxBatch ≥ rowsPerCall).
    /// Deterministic: a function of the weights, the prompts and `sampling`.
    public static func evaluate(policy: Transformer, rewards: [any RewardFunction], examples: [PreparedExample],
                                tokenizer: any Tokenizer, sampling: SamplingConfig, rowsPerCall: Int, keepSamples: Int,
                                parallel: Parallel) -> Result {
        let sampler = Sampler(model: policy, maxRows: rowsPerCall)
        var sums = [Double](repeating: 0, count: rewards.count)
        var length = 0, stopped = 0
        var samples: [(prompt: String, completion: String, scores: [Double])] = []
        var start = 0
        while start < examples.count {
            let batch = Array(examples[start..<min(examples.count, start + rowsPerCall)])
            let prompts = batch.map { $0.sequences[0].tokens }
            let sampled = sampler.generate(prompts: prompts, config: sampling, step: 0,
                                           promptIDs: Array(start..<(start + batch.count)), parallel: parallel)
            let inputs = sampled.map { RewardInput(prompt: prompts[$0.promptIndex], completion: $0.tokens, answer: batch[$0.promptIndex].answer) }
            let scores = rewards.map { $0.rewards(inputs, parallel: parallel) }
            for (k, s) in scores.enumerated() { sums[k] += s.reduce(0, +) }
            for (i, c) in sampled.enumerated() {
                length += c.count
                if c.finishReason == .stop { stopped += 1 }
                if samples.count < keepSamples {
                    samples.append((tokenizer.decode(prompts[c.promptIndex]), tokenizer.decode(c.tokens), scores.map { $0[i] }))
                }
            }
            start += batch.count
        }
        let n = Double(max(examples.count, 1))
        return Result(prompts: examples.count, means: zip(rewards, sums).map { ($0.name, $1 / n) },
                      meanLength: Double(length) / n, stopped: stopped, samples: samples)
    }
}
