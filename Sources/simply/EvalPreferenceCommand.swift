import ArgumentParser
import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyPosttraining
import SimplyRun
import SimplyTrain

/// `simply eval preference`: DPO's held-out implicit-reward accuracy.
struct EvalPreference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preference",
        abstract: "Held-out DPO metrics: implicit rewards β(log π − log π_ref) of chosen vs rejected on a prepared preference file.")

    @OptionGroup var model: CheckpointOption

    var checkpoint: String { model.checkpoint }

    @Option(name: .customLong("reference"), help: "The reference: a checkpoint or run directory (default: the policy run's --load_checkpoint).")
    var reference: String?

    @Option(name: .customLong("data"), help: "A preference example shard.")
    var data: String

    @Option(name: .customLong("beta"), help: "β (default: the policy run's dpo.beta).")
    var beta: Double?

    @OptionGroup var results: ResultsOutput

    var out: String? { results.out }

    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        do {
            let batch = 8
            let policy = try TrainedModel(URL(fileURLWithPath: checkpoint), maxBatch: 2 * batch)
            let run = RunDirectory(policy.checkpoint.deletingLastPathComponent().deletingLastPathComponent())
            let recordedInit = try run.recordedRun()["init_checkpoint"]?.stringValue
            guard let refPath = reference ?? recordedInit else {
                fail("--reference is needed: \(run.url.path) did not start from a checkpoint")
            }
            let ref = try TrainedModel(URL(fileURLWithPath: refPath), maxBatch: 2 * batch)
            guard ref.model.layout.entries.map(\.name) == policy.model.layout.entries.map(\.name),
                  ref.model.layout.entries.map(\.shape) == policy.model.layout.entries.map(\.shape) else {
                fail("\(refPath): the reference's parameters differ from the policy's in names or shapes")
            }
            let tokenizer = try TrainingData.loadTokenizer(policy.config)
            let shard = try ExampleShard.read(URL(fileURLWithPath: data))
            guard shard.kind == .preference else { fail("\(data): holds \(shard.kind.rawValue) examples, not preference pairs") }
            guard shard.tokenizerName == tokenizer.name else {
                fail("\(data): prepared with tokenizer '\(shard.tokenizerName)' but the model's is '\(tokenizer.name)'")
            }
            let b = beta ?? policy.config.dpo.beta
            let parallel = Parallel(threads: threadOptions.count(), deterministic: true)
            let r = PreferenceEvaluation.evaluate(policy: policy.model, reference: ref.model, examples: shard.examples, beta: b,
                                                  pad: tokenizer.pad, batch: batch, parallel: parallel)
            print(String(format: "rewards/accuracies %.4f | rewards/margins %.4f | logps/chosen %.3f | logps/rejected %.3f | %d pairs, beta %g",
                         r.accuracy, r.meanMargin, r.meanChosenLogProb, r.meanRejectedLogProb, r.pairs, b))
            EvalResults.write("preference", [
                ("checkpoint", EvalResults.checkpoint(policy.checkpoint, step: policy.step)),
                ("reference", EvalResults.checkpoint(ref.checkpoint, step: ref.step)),
                ("data", EvalResults.data(data, sha256: shard.contentHash)),
                ("pairs", .int(r.pairs)), ("accuracy", .double(r.accuracy)), ("margin", .double(r.meanMargin)),
                ("logps_chosen", .double(r.meanChosenLogProb)), ("logps_rejected", .double(r.meanRejectedLogProb)),
                ("settings", .object([("beta", .double(b))])),
            ], to: out)
        } catch { fail("\(error)") }
    }
}
