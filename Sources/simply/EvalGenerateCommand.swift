import ArgumentParser
import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyRun
import SimplyTrain

/// `simply eval generate`: greedy completions of prompt-only examples with
/// answers, scored by exact match; with `--samples N`, also N sampled
/// completions per prompt and pass@k (Chen et al. 2021's unbiased estimator).
struct EvalGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Exact match of greedy completions, and pass@k of sampled ones, on a prepared prompt_only file with answers.",
        discussion: """
        pass@k = mean over prompts of 1 - C(n-c, k)/C(n, k), n = --samples, c = correct samples of the prompt. \
        Sample s of prompt p is the sampler's Philox draw (--seed, step 0, prompt p, sample s): the numbers do not \
        depend on --threads.
        """)

    @OptionGroup var model: CheckpointOption

    var checkpoint: String { model.checkpoint }

    @Option(name: .customLong("data"), help: "An example shard of prompts with answers (simply data generate --format prompt_only, then simply data prepare).")
    var data: String

    @Option(name: .customLong("max_new_tokens"), help: "Longest completion.")
    var maxNewTokens: Int = 16

    @Option(name: .customLong("limit"), help: "Evaluate only the first N examples (0: all).")
    var limit: Int = 0

    @Option(name: .customLong("show"), help: "Print this many (prompt, expected, generated) samples.")
    var show: Int = 3

    @Option(name: .customLong("samples"), help: "Sampled completions per prompt for pass@k (0: greedy exact match only).")
    var samples: Int = 0

    @Option(name: .customLong("k"), help: "Comma-separated k values for pass@k, each in 1...samples (default: 1 and --samples).")
    var k: String?

    @Option(name: .customLong("temperature"), help: "Sampling temperature for --samples (0: greedy, every sample the same).")
    var temperature: Float = 1

    @Option(name: .customLong("top_k"), help: "Sample from the k most likely tokens (0: all).")
    var topK: Int = 0

    @Option(name: .customLong("top_p"), help: "Sample from the most likely tokens up to this mass (1: all).")
    var topP: Float = 1

    @Option(name: .customLong("seed"), help: "Seed of the sampling stream.")
    var seed: UInt64 = 0

    @OptionGroup var results: ResultsOutput

    var out: String? { results.out }

    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        guard samples >= 0 else { fail("--samples must be >= 0 (got \(samples))") }
        guard maxNewTokens >= 1 else { fail("--max_new_tokens must be >= 1 (got \(maxNewTokens))") }
        let threadCount = threadOptions.count()
        var ks: [Int] = []
        if let k {
            guard samples >= 1 else { fail("--k needs --samples N") }
            for part in k.split(separator: ",", omittingEmptySubsequences: false) {
                guard let v = Int(part.trimmingCharacters(in: .whitespaces)), v >= 1, v <= samples else {
                    fail("--k \(k): '\(part)' is not an integer in 1...\(samples) (--samples)")
                }
                if !ks.contains(v) { ks.append(v) }
            }
        } else if samples >= 1 {
            ks = samples == 1 ? [1] : [1, samples]
        }
        do {
            let m = try TrainedModel(URL(fileURLWithPath: checkpoint), maxBatch: 1)
            let tokenizer = try TrainingData.loadTokenizer(m.config)
            let shard = try ExampleShard.read(URL(fileURLWithPath: data))
            guard shard.kind == .prompt else { fail("\(data): holds \(shard.kind.rawValue) examples; eval generate needs prompt examples with answers") }
            guard shard.tokenizerName == tokenizer.name else {
                fail("\(data): prepared with tokenizer '\(shard.tokenizerName)' but the model's is '\(tokenizer.name)'")
            }
            let examples = limit > 0 ? Array(shard.examples.prefix(limit)) : shard.examples
            guard examples.contains(where: { $0.answer != nil }) else { fail("\(data): no example has an answer to compare with") }
            let sampling = SamplingConfig(temperature: temperature, topK: topK, topP: topP, maxNewTokens: maxNewTokens,
                                          stopSequences: ChatTemplate(tokenizer: tokenizer).stopSequences, seed: seed)
            if samples > 0 { do { try sampling.validate() } catch { fail("--\(error)") } }
            let parallel = Parallel(threads: threadCount, deterministic: true)
            let r = ExactMatch.evaluate(model: m.model, examples: examples, tokenizer: tokenizer, maxNewTokens: maxNewTokens,
                                        keepSamples: show, parallel: parallel)
            for s in r.samples {
                print("prompt: \(s.prompt.debugDescription)\n  expected: \(s.expected.debugDescription)  generated: \(s.generated.debugDescription)")
            }
            var fields: [(String, JSONValue)] = [
                ("checkpoint", EvalResults.checkpoint(m.checkpoint, step: m.step)),
                ("data", EvalResults.data(data, sha256: shard.contentHash)),
                ("prompts", .int(r.total)), ("exact_match", .double(r.accuracy)), ("exact_match_correct", .int(r.correct)),
                ("numeric_match", .double(r.numericAccuracy)), ("numeric_match_correct", .int(r.numericCorrect)),
                ("settings", .object([("max_new_tokens", .int(maxNewTokens)), ("limit", .int(limit)), ("samples", .int(samples))])),
            ]
            var rows = [["exact_match (greedy)", EvalResults.f4(r.accuracy), "\(r.correct)/\(r.total)"],
                        ["numeric_match (greedy)", EvalResults.f4(r.numericAccuracy), "\(r.numericCorrect)/\(r.total)"]]
            if samples > 0 {
                let s = SampledGeneration.evaluate(model: m.model, examples: examples, tokenizer: tokenizer, samples: samples,
                                                   ks: ks, config: sampling, parallel: parallel)
                for (k, v) in s.passAtK { rows.append(["pass@\(k)", EvalResults.f4(v), "n=\(samples)"]) }
                rows.append(["sample accuracy", EvalResults.f4(s.sampleAccuracy),
                             "\(s.correct.reduce(0, +))/\(s.correct.count * samples)"])
                fields += [
                    ("pass_at_k", .object(s.passAtK.map { ("\($0.k)", .double($0.value)) })),
                    ("sample_accuracy", .double(s.sampleAccuracy)),
                    ("correct_per_prompt", .array(s.correct.map { .int($0) })),
                    ("sampling", .object([("temperature", .double(Double(temperature))), ("top_k", .int(topK)),
                                          ("top_p", .double(Double(topP))), ("seed", .number(String(seed))),
                                          ("k", .array(ks.map { .int($0) }))])),
                ]
            }
            print(EvalResults.table(["metric", "value", "count"], rows))
            print(String(format: "exact_match %.4f (%d/%d) | %@ step %d", r.accuracy, r.correct, r.total, m.checkpoint.path, m.step))
            EvalResults.write("generate", fields, to: out)
        } catch { fail("\(error)") }
    }
}
