import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyRun
import SimplyTrain

/// What GRPO and PPO share: prompts from `data.dataset`, the KV-cache
/// sampler with the algorithm's settings and the chat template's stop
/// sequences, the reward functions, and one rollout's completions and scores.
/// A completion's bits depend on (train.seed, rollout index, prompt slot,
/// sample, position) only, so workers can sample their share of the prompts
/// and gather the rest.
final class PromptRollouts {
    let examples: ExampleData
    let template: ChatTemplate
    let sampling: SamplingConfig
    let rewards: [(reward: any RewardFunction, weight: Double)]
    let workers: Workers
    /// Rows the sampler decodes at once.
    let maxRows: Int
    private var sampler: Sampler?

    /// `section` (grpo, ppo) and `lengthKey` name the keys in errors;
    /// `promptsPerStep` prompts per rollout, `rows` completions in all.
    /// Every completion must fit its row: a cut one would be normalized by
    /// tokens that get no loss.
    init(_ context: ObjectiveContext, section: String, lengthKey: String, promptsPerStep: Int, rows: Int,
         temperature: Double, topK: Int = 0, topP: Double = 1, maxNewTokens: Int, rewardSpec: String, rewardModel: String,
         rewardBatch: Int, custom: [(reward: any RewardFunction, weight: Double)]?) throws {
        let config = context.config
        workers = context.workers
        maxRows = rows
        examples = try ExampleData(config: config, kind: .prompt, perStep: promptsPerStep)
        let longest = examples.shard.examples.map { $0.sequences[0].count }.max() ?? 0
        guard longest + maxNewTokens <= config.model.seqLen + 1 else {
            throw ConfigError("\(lengthKey) \(maxNewTokens): the longest prompt of \(examples.source) has \(longest) tokens, and prompt + completion must fit model.seq_len \(config.model.seqLen) + 1")
        }
        template = ChatTemplate(tokenizer: examples.tokenizer)
        sampling = SamplingConfig(temperature: Float(temperature), topK: topK, topP: Float(topP), maxNewTokens: maxNewTokens,
                                  stopSequences: template.stopSequences, seed: config.train.seed)
        do { try sampling.validate() } catch { throw ConfigError("\(section): \(error)") }
        rewards = try custom ?? Self.rewardFunctions(rewardSpec, rewardModel: rewardModel, section: section,
                                                     examples: examples, batch: rewardBatch)
    }

    /// One rollout: `samplesPerPrompt` completions of each of the first
    /// `prompts` prompts of rollout `index`, sampled from `policy`, and each
    /// reward function's scores ([function][completion]).
    func sample(_ index: Int, prompts: Int, samplesPerPrompt: Int, policy: Transformer, parallel: Parallel)
        -> (batch: [PreparedExample], promptTokens: [[Int32]], sampled: [SampledCompletion], scores: [[Double]]) {
        if sampler == nil || sampler!.model !== policy {
            sampler = Sampler(model: policy, maxRows: maxRows)
        }
        let batch = (0..<prompts).map { examples.example(step: index, slot: $0) }
        let promptTokens = batch.map { $0.sequences[0].tokens }
        let sampled: [SampledCompletion]
        if workers.size > 1 {
            let mine = ShardPlan(shards: prompts, workers: workers.size).shards(of: workers.rank)
            let part = mine.isEmpty ? [] : sampler!.generate(prompts: Array(promptTokens[mine]), samplesPerPrompt: samplesPerPrompt,
                                                             config: sampling, step: index, promptIDs: Array(mine), parallel: parallel)
            sampled = RolloutExchange.allGather(part, firstPrompt: mine.lowerBound, workers: workers)
        } else {
            sampled = sampler!.generate(prompts: promptTokens, samplesPerPrompt: samplesPerPrompt, config: sampling, step: index,
                                        promptIDs: Array(0..<prompts), parallel: parallel)
        }
        let inputs = sampled.map { RewardInput(prompt: promptTokens[$0.promptIndex], completion: $0.tokens,
                                               answer: batch[$0.promptIndex].answer) }
        return (batch, promptTokens, sampled, rewards.map { $0.reward.rewards(inputs, parallel: parallel) })
    }

    /// `grpo.rewards` (or `ppo.rewards`, `section` names it in errors):
    /// comma-separated `name` or `name:weight`, names exact_match,
    /// numeric_match, format, reward_model (the run or checkpoint `rewardModel`).
    /// The match rewards need every prompt of `examples` to carry its answer.
    static func rewardFunctions(_ spec: String, rewardModel: String, section: String, examples: ExampleData,
                                batch: Int) throws -> [(reward: any RewardFunction, weight: Double)] {
        let tokenizer = examples.tokenizer
        func needAnswers() throws {
            guard examples.shard.examples.allSatisfy({ $0.answer != nil }) else {
                throw ConfigError("data.dataset \(examples.source): the match rewards need each prompt's answer (simply data generate --format prompt_only)")
            }
        }
        var out: [(reward: any RewardFunction, weight: Double)] = []
        for item in spec.split(separator: ",") {
            let parts = item.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            var weight = 1.0
            if parts.count == 2 {
                guard let w = Double(parts[1]), w.isFinite else {
                    throw ConfigError("\(section).rewards: weight '\(parts[1])' of \(parts[0]) is not a number")
                }
                weight = w
            }
            let reward: any RewardFunction
            switch parts[0] {
            case "exact_match": try needAnswers(); reward = ExactMatchReward(tokenizer: tokenizer)
            case "numeric_match": try needAnswers(); reward = NumericAnswerReward(tokenizer: tokenizer)
            case "format": reward = FormatReward(tokenizer: tokenizer)
            case "reward_model":
                guard !rewardModel.isEmpty else {
                    throw ConfigError("\(section).rewards: reward_model needs \(section).reward_model (a reward run or checkpoint)")
                }
                reward = try ModelReward.load(checkpoint: URL(fileURLWithPath: rewardModel), batch: batch)
            default:
                throw ConfigError("\(section).rewards: unknown reward '\(parts[0])' (exact_match, numeric_match, format, reward_model)")
            }
            out.append((reward, weight))
        }
        guard !out.isEmpty else { throw ConfigError("\(section).rewards: name at least one reward") }
        return out
    }

    /// Σ over the last forward's positions with mask ≠ 0 of the entropy of
    /// the next-token distribution (GRPO's and PPO's `entropy`).
    static func entropySum(_ model: Transformer, mask shardMask: [Float]) -> Double {
        let v = model.config.vocabSize, logits = model.logits.pointer, n = shardMask.count
        var sum = 0.0
        for i in 0..<n where shardMask[i] != 0 {
            let row = logits + i * v
            var m = row[0]
            for j in 1..<v { m = max(m, row[j]) }
            var z = 0.0, ez = 0.0
            for j in 0..<v {
                let x = Double(row[j] - m), e = DetMath.exp(x)
                z += e; ez += e * x
            }
            sum += DetMath.log(z) - ez / z      // H = log Z − Σ p·x (x = logit − max)
        }
        return sum
    }

}
