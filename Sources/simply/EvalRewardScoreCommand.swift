import ArgumentParser
import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

/// `simply eval reward-score`: the mean reward of a policy's completions of
/// held-out prompts (PPO and GRPO before/after).
struct EvalRewardScore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward-score",
        abstract: "Mean reward-model score (and exact match, when the prompts have answers) of a policy's completions of prepared prompts.")

    @OptionGroup var model: CheckpointOption

    var checkpoint: String { model.checkpoint }

    @Option(name: .customLong("reward_model"), help: "A reward run or checkpoint (training_mode reward).")
    var rewardModel: String

    @Option(name: .customLong("data"), help: "An example shard of prompts (simply data generate --format prompt_only, then simply data prepare).")
    var data: String

    @Option(name: .customLong("max_new_tokens"), help: "Longest completion.")
    var maxNewTokens: Int = 16

    @Option(name: .customLong("temperature"), help: "Sampling temperature; 0 (default): greedy.")
    var temperature: Float = 0

    @Option(name: .customLong("seed"), help: "Seed of the sampling stream (temperature > 0).")
    var seed: UInt64 = 0

    @Option(name: .customLong("limit"), help: "Evaluate only the first N prompts (0: all).")
    var limit: Int = 0

    @Option(name: .customLong("batch"), help: "Prompts sampled together (speed only).")
    var batch: Int = 8

    @Option(name: .customLong("show"), help: "Print this many (prompt, completion, scores) samples.")
    var show: Int = 3

    @OptionGroup var threadOptions: ThreadOptions

    @Flag(name: .customLong("json"), help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var results: ResultsOutput

    var out: String? { results.out }

    func run() throws {
        guard batch >= 1 else { fail("--batch must be >= 1") }
        do {
            let m = try TrainedModel(URL(fileURLWithPath: checkpoint), maxBatch: batch)
            let tokenizer = try TrainingData.loadTokenizer(m.config)
            let shard = try ExampleShard.read(URL(fileURLWithPath: data))
            guard shard.kind == .prompt else { fail("\(data): holds \(shard.kind.rawValue) examples; eval reward-score needs prompt examples") }
            guard shard.tokenizerName == tokenizer.name else {
                fail("\(data): prepared with tokenizer '\(shard.tokenizerName)' but the model's is '\(tokenizer.name)'")
            }
            let examples = limit > 0 ? Array(shard.examples.prefix(limit)) : shard.examples
            var rewards: [any RewardFunction] = [try ModelReward.load(checkpoint: URL(fileURLWithPath: rewardModel), batch: batch)]
            if examples.allSatisfy({ $0.answer != nil }) { rewards.append(ExactMatchReward(tokenizer: tokenizer)) }
            let sampling = SamplingConfig(temperature: temperature, maxNewTokens: maxNewTokens,
                                          stopSequences: ChatTemplate(tokenizer: tokenizer).stopSequences, seed: seed)
            do { try sampling.validate() } catch { fail("\(error)") }
            let parallel = Parallel(threads: threadOptions.count(), deterministic: true)
            let r = RewardScoreEvaluation.evaluate(policy: m.model, rewards: rewards, examples: examples, tokenizer: tokenizer,
                                                   sampling: sampling, rowsPerCall: batch, keepSamples: json ? 0 : show,
                                                   parallel: parallel)
            EvalResults.write("reward-score", [
                ("checkpoint", EvalResults.checkpoint(m.checkpoint, step: m.step)),
                ("reward_model", .string(rewardModel)),
                ("data", EvalResults.data(data, sha256: shard.contentHash)),
                ("prompts", .int(r.prompts)), ("mean_length", .double(r.meanLength)), ("stopped", .int(r.stopped)),
                ("settings", .object([("max_new_tokens", .int(maxNewTokens)), ("temperature", .double(Double(temperature))),
                                      ("seed", .number(String(seed))), ("limit", .int(limit))])),
            ] + r.means.map { ("\($0.name)_mean", .double($0.mean)) }, to: out)
            if json {
                print(JSONValue.object([("prompts", .int(r.prompts))] + r.means.map { ("\($0.name)_mean", .double($0.mean)) }
                                       + [("mean_length", .double(r.meanLength)), ("stopped", .int(r.stopped)),
                                          ("checkpoint", .string(m.checkpoint.path)), ("step", .int(m.step))]).serialized())
                return
            }
            for s in r.samples {
                print("prompt: \(s.prompt.debugDescription)\n  completion: \(s.completion.debugDescription)  scores: \(s.scores)")
            }
            let means = r.means.map { String(format: "%@ %.4f", $0.name, $0.mean) }.joined(separator: " | ")
            print("\(means) | \(r.prompts) prompts, mean length \(String(format: "%.2f", r.meanLength)), \(r.stopped) stopped | \(m.checkpoint.path) step \(m.step)")
        } catch { fail("\(error)") }
    }
}
