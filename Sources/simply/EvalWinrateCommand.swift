import ArgumentParser
import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

/// `simply eval winrate`: a policy against a baseline on the same prompts,
/// judged by a reward model. Both generate with the same sampling settings
/// (greedy by default), the reward model scores prompt + completion of each,
/// and a prompt is a win, a tie (equal scores) or a loss for the policy.
struct EvalWinrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "winrate",
        abstract: "Win rate of one checkpoint against another, judged by a reward model (ties count half).",
        discussion: """
        --data is a prompt_only example shard (or a preference shard: its prompts). Completions come from the \
        KV-cache sampler with the same settings and Philox draws for both checkpoints, so the result is a pure \
        function of the three checkpoints, the data and the flags; it does not depend on --threads.
        """)

    @OptionGroup var model: CheckpointOption

    var checkpoint: String { model.checkpoint }

    @Option(name: .customLong("baseline"), help: "The baseline: a checkpoint or run directory.")
    var baseline: String

    @Option(name: .customLong("reward_model"), help: "A training_mode reward run or checkpoint (the judge).")
    var rewardModel: String

    @Option(name: .customLong("data"), help: "A prompt_only (or preference) example shard: the prompts.")
    var data: String

    @Option(name: .customLong("limit"), help: "Use only the first N prompts (0: all).")
    var limit: Int = 0

    @Option(name: .customLong("max_new_tokens"), help: "Longest completion.")
    var maxNewTokens: Int = 24

    @Option(name: .customLong("temperature"), help: "Sampling temperature (0: greedy).")
    var temperature: Float = 0

    @Option(name: .customLong("top_k"), help: "Sample from the k most likely tokens (0: all).")
    var topK: Int = 0

    @Option(name: .customLong("top_p"), help: "Sample from the most likely tokens up to this mass (1: all).")
    var topP: Float = 1

    @Option(name: .customLong("seed"), help: "Seed of the sampling stream.")
    var seed: UInt64 = 0

    @Option(name: .customLong("batch"), help: "Rows decoded or scored together (speed only).")
    var batch: Int = 16

    @Option(name: .customLong("show"), help: "Print this many (prompt, policy, baseline) examples with their scores.")
    var show: Int = 3

    @OptionGroup var results: ResultsOutput

    var out: String? { results.out }

    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        let threadCount = threadOptions.count()
        guard batch >= 1 else { fail("--batch must be >= 1") }
        guard maxNewTokens >= 1 else { fail("--max_new_tokens must be >= 1 (got \(maxNewTokens))") }
        guard limit >= 0 else { fail("--limit must be >= 0") }
        do {
            let policy = try TrainedModel(URL(fileURLWithPath: checkpoint), maxBatch: 1)
            let base = try TrainedModel(URL(fileURLWithPath: baseline), maxBatch: 1)
            let judge = try ModelReward.load(checkpoint: URL(fileURLWithPath: rewardModel), batch: 2 * batch)
            let tokenizer = try TrainingData.loadTokenizer(policy.config)
            let judgeCheckpoint = try Checkpoints.resolve(URL(fileURLWithPath: rewardModel))
            let judgeStep = try Checkpoints.manifest(judgeCheckpoint).step
            let judgeConfig = try ExperimentConfig.fromRunConfig(RunDirectory(
                judgeCheckpoint.standardizedFileURL.deletingLastPathComponent().deletingLastPathComponent()).configURL)
            for (flag, name) in [("--baseline", base.config.data.tokenizer), ("--reward_model", judgeConfig.data.tokenizer)]
            where name != policy.config.data.tokenizer {
                fail("\(flag): tokenizer \(name) differs from the checkpoint's \(policy.config.data.tokenizer); all three must share one")
            }
            let shard = try ExampleShard.read(URL(fileURLWithPath: data))
            guard shard.kind != .supervised else { fail("\(data): holds supervised examples; eval winrate needs prompts (prompt_only or preference)") }
            guard shard.tokenizerName == tokenizer.name else {
                fail("\(data): prepared with tokenizer '\(shard.tokenizerName)' but the models' is '\(tokenizer.name)'")
            }
            let examples = limit > 0 ? Array(shard.examples.prefix(limit)) : shard.examples
            guard !examples.isEmpty else { fail("\(data): no prompts") }
            let prompts = examples.map { $0.sequences[0].tokens }
            let template = ChatTemplate(tokenizer: tokenizer)
            let sampling = SamplingConfig(temperature: temperature, topK: topK, topP: topP, maxNewTokens: maxNewTokens,
                                          stopSequences: template.stopSequences, seed: seed)
            do { try sampling.validate() } catch { fail("--\(error)") }
            let parallel = Parallel(threads: threadCount, deterministic: true)
            let w = WinRate.evaluate(policy: policy.model, baseline: base.model, judge: judge, prompts: prompts,
                                     sampling: sampling, batch: batch, parallel: parallel)
            let r = w.report, a = w.completions, b = w.baselineCompletions, sa = w.scores, sb = w.baselineScores
            for p in prompts.indices.prefix(show) {
                print("prompt: \(tokenizer.decode(prompts[p]).debugDescription)\n"
                      + "  policy: \(template.answerText(a[p]).debugDescription) (\(EvalResults.f4(sa[p])))"
                      + "  baseline: \(template.answerText(b[p]).debugDescription) (\(EvalResults.f4(sb[p])))")
            }
            print(EvalResults.table(["", "wins", "ties", "losses", "win_rate", "mean_reward"], [
                ["policy", "\(r.wins)", "\(r.ties)", "\(r.losses)", EvalResults.f4(r.winRate), EvalResults.f4(r.meanScore)],
                ["baseline", "\(r.losses)", "\(r.ties)", "\(r.wins)", EvalResults.f4(1 - r.winRate), EvalResults.f4(r.meanBaselineScore)],
            ]))
            print(String(format: "win_rate %.4f (%d wins, %d ties, %d losses of %d) | %@ step %d vs %@ step %d",
                         r.winRate, r.wins, r.ties, r.losses, r.count, policy.checkpoint.path, policy.step,
                         base.checkpoint.path, base.step))
            EvalResults.write("winrate", [
                ("checkpoint", EvalResults.checkpoint(policy.checkpoint, step: policy.step)),
                ("baseline", EvalResults.checkpoint(base.checkpoint, step: base.step)),
                ("reward_model", EvalResults.checkpoint(judgeCheckpoint, step: judgeStep)),
                ("data", EvalResults.data(data, sha256: shard.contentHash)),
                ("prompts", .int(r.count)), ("wins", .int(r.wins)), ("ties", .int(r.ties)), ("losses", .int(r.losses)),
                ("win_rate", .double(r.winRate)), ("mean_reward", .double(r.meanScore)),
                ("mean_reward_baseline", .double(r.meanBaselineScore)),
                ("settings", .object([("max_new_tokens", .int(maxNewTokens)), ("temperature", .double(Double(temperature))),
                                      ("top_k", .int(topK)), ("top_p", .double(Double(topP))), ("seed", .number(String(seed))),
                                      ("limit", .int(limit))])),
            ], to: out)
        } catch { fail("\(error)") }
    }
}
