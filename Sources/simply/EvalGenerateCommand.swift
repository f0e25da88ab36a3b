import ArgumentParser
import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyTrain

/// `simply eval generate`: greedy completions of prompt-only examples with
/// answers, scored by exact match.
struct EvalGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Exact-match accuracy of greedy completions on a prepared prompt_only file with answers.")

    @Option(name: .customLong("checkpoint"), help: "A checkpoint directory, or a run directory (its newest checkpoint).")
    var checkpoint: String

    @Option(name: .customLong("data"), help: "An example shard of prompts with answers (simply data generate --format prompt_only, then simply data prepare).")
    var data: String

    @Option(name: .customLong("max_new_tokens"), help: "Longest completion.")
    var maxNewTokens: Int = 16

    @Option(name: .customLong("limit"), help: "Evaluate only the first N examples (0: all).")
    var limit: Int = 0

    @Option(name: .customLong("show"), help: "Print this many (prompt, expected, generated) samples.")
    var show: Int = 3

    @Option(name: .customLong("threads"), help: "Worker threads (never changes the result).")
    var threads: Int?

    func run() throws {
        do {
            let m = try TrainedModel(URL(fileURLWithPath: checkpoint), maxBatch: 1)
            let tokenizer = try TrainingData.loadTokenizer(m.config)
            let shard = try ExampleShard.read(URL(fileURLWithPath: data))
            guard shard.kind == .prompt else { fail("\(data): holds \(shard.kind.rawValue) examples; eval generate needs prompt examples with answers") }
            guard shard.tokenizerName == tokenizer.name else {
                fail("\(data): prepared with tokenizer '\(shard.tokenizerName)' but the model's is '\(tokenizer.name)'")
            }
            let examples = limit > 0 ? Array(shard.examples.prefix(limit)) : shard.examples
            let parallel = Parallel(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, deterministic: true)
            let r = ExactMatch.evaluate(model: m.model, examples: examples, tokenizer: tokenizer, maxNewTokens: maxNewTokens,
                                        keepSamples: show, parallel: parallel)
            for s in r.samples {
                print("prompt: \(s.prompt.debugDescription)\n  expected: \(s.expected.debugDescription)  generated: \(s.generated.debugDescription)")
            }
            print(String(format: "exact_match %.4f (%d/%d) | %@ step %d", r.accuracy, r.correct, r.total, m.checkpoint.path, m.step))
        } catch { fail("\(error)") }
    }
}
