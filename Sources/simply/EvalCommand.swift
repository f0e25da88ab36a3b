import ArgumentParser
import Foundation
import SimplyCore
import SimplyData
import SimplyPosttraining
import SimplyRun
import SimplyTrain

/// `simply eval <what>`: one subcommand per kind of evaluation.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate a trained model.",
        subcommands: [EvalLoss.self, EvalGenerate.self, EvalPreference.self, Reward.self, EvalRewardScore.self, EvalLogits.self,
                      EvalWinrate.self])

    struct Reward: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Preference accuracy of a reward model on a prepared preference shard (held-out pairs).",
            discussion: """
            Scores prompt + chosen and prompt + rejected of every pair with the score head and reports how often \
            the chosen one wins. A checkpoint without a score head (a pretrained LM) gets the fresh head a \
            reward run with the same train.seed starts from: the accuracy before reward training.
            """)

        @OptionGroup var model: CheckpointOption

        var checkpoint: String { model.checkpoint }

        @Option(name: .customLong("data"), help: "A preference example shard from `simply data prepare`.")
        var data: String

        @Option(name: .customLong("batch_pairs"), help: "Pairs scored per forward pass (speed only).")
        var batchPairs: Int = 8

        @OptionGroup var threadOptions: ThreadOptions

        @Flag(name: .customLong("json"), help: "Print one JSON object instead of text.")
        var json = false

        @OptionGroup var results: ResultsOutput

        var out: String? { results.out }

        func run() throws {
            let threadCount = threadOptions.count()
            guard batchPairs >= 1 else { fail("--batch_pairs must be >= 1") }
            do {
                let (model, config, fresh) = try RewardObjective.loadModel(checkpoint: URL(fileURLWithPath: checkpoint),
                                                                          maxRows: 2 * batchPairs)
                if fresh { log("score.weight is not in \(checkpoint): a fresh head from train.seed \(config.train.seed)") }
                let e = try RewardObjective.evaluate(model: model, config: config, data: URL(fileURLWithPath: data),
                                                     pairsPerForward: batchPairs, parallel: Parallel(threads: threadCount))
                if json {
                    print(JSONValue.object([
                        ("accuracy", .double(e.accuracy)), ("fresh_head", .bool(fresh)), ("loss", .double(e.loss)),
                        ("margin", .double(e.margin)), ("pairs", .int(e.pairs)), ("reward_chosen", .double(e.meanChosen)),
                        ("reward_rejected", .double(e.meanRejected)), ("truncated", .int(e.truncated)),
                    ]).serialized())
                } else {
                    print(String(format: "%d pairs: accuracy %.4f, margin %.4f, loss %.4f, reward chosen %.4f rejected %.4f",
                                 e.pairs, e.accuracy, e.margin, e.loss, e.meanChosen, e.meanRejected)
                          + (e.truncated > 0 ? "; \(e.truncated) pairs longer than model.seq_len \(config.model.seqLen)" : "")
                          + (fresh ? " (untrained score head)" : ""))
                }
                if out != nil {
                    let resolved = try Checkpoints.resolve(URL(fileURLWithPath: checkpoint))
                    let shard = try ExampleShard.read(URL(fileURLWithPath: data))
                    EvalResults.write("reward", [
                        ("checkpoint", EvalResults.checkpoint(resolved, step: try Checkpoints.manifest(resolved).step)),
                        ("data", EvalResults.data(data, sha256: shard.contentHash)),
                        ("pairs", .int(e.pairs)), ("accuracy", .double(e.accuracy)), ("margin", .double(e.margin)),
                        ("loss", .double(e.loss)), ("reward_chosen", .double(e.meanChosen)),
                        ("reward_rejected", .double(e.meanRejected)), ("truncated", .int(e.truncated)),
                        ("fresh_head", .bool(fresh)),
                    ], to: out)
                }
            } catch { fail("\(error)") }
        }
    }
}
