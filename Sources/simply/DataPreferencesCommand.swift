import ArgumentParser
import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyRun
import SimplyTrain

/// `simply data preferences`: on-policy preference pairs, judged by the
/// prompt's answer (the verifier).
///
/// - Greedy (default): the model's greedy completion of each prompt; where it
///   is wrong, the pair (chosen = the reference answer, rejected = the
///   model's answer).
/// - `--samples N`: N completions per prompt sampled at `--temperature`
///   (sample s of prompt p is the sampler's Philox draw (--seed, step 0,
///   prompt p, sample s), so the file does not depend on --threads); where
///   some are right and some wrong, the first right sample over the first
///   wrong one (`OnPolicyPairs`). Both sides are the model's own text.
///   `--fallback_answer` also pairs prompts whose samples are all wrong
///   (chosen = the reference answer).
struct DataPreferences: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preferences",
        abstract: "Write preference pairs from a model's own completions, judged right or wrong by each prompt's answer.")

    @OptionGroup var model: CheckpointOption

    var checkpoint: String { model.checkpoint }

    @Option(name: .customLong("prompts"), help: "prompt_only JSONL with an answer per record (simply data generate --format prompt_only).")
    var prompts: String

    @Option(name: .customLong("output"), help: "The preference JSONL to write.")
    var output: String

    @Option(name: .customLong("max_new_tokens"), help: "Longest completion.")
    var maxNewTokens: Int = 16

    @Option(name: .customLong("samples"), help: "Sampled completions per prompt (0: one greedy completion; wrong ones are paired with the answer).")
    var samples: Int = 0

    @Option(name: .customLong("temperature"), help: "Sampling temperature for --samples.")
    var temperature: Float = 1

    @Option(name: .customLong("seed"), help: "Seed of the sampling stream for --samples.")
    var seed: UInt64 = 0

    @Flag(name: .customLong("fallback_answer"), help: "With --samples: pair prompts whose samples are all wrong with the reference answer as chosen.")
    var fallbackAnswer = false

    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        guard maxNewTokens >= 1 && maxNewTokens <= 4096 else { fail("--max_new_tokens must be in 1...4096 (got \(maxNewTokens))") }
        guard samples >= 0 && samples <= 256 else { fail("--samples must be in 0...256 (got \(samples))") }
        guard !fallbackAnswer || samples > 0 else { fail("--fallback_answer needs --samples N") }
        let threadCount = threadOptions.count()
        do {
            let m = try TrainedModel(URL(fileURLWithPath: checkpoint), maxBatch: 1)
            let tokenizer = try TrainingData.loadTokenizer(m.config)
            let template = ChatTemplate(tokenizer: tokenizer)
            let url = URL(fileURLWithPath: prompts)
            let parallel = Parallel(threads: threadCount, deterministic: true)
            let text = try String(decoding: FileBytes.read(url, limit: 1 << 30), as: UTF8.self)
            var records: [(promptJSON: JSONValue, prompt: TextOrMessages, answer: String, tokens: [Int32])] = []
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                let value: JSONValue
                do { value = try JSONValue.parse(String(line)) } catch {
                    throw DataError(url, line: n + 1, "not JSON: \(error)")
                }
                let record: PostTrainingRecord
                do { record = try RecordFormat.promptOnly.parse(value) } catch {
                    throw DataError(url, line: n + 1, "prompt_only: \(error.message)")
                }
                guard case let .promptOnly(prompt, answer?) = record else {
                    throw DataError(url, line: n + 1, "prompt_only: field \"answer\" is missing (needed to tell right from wrong)")
                }
                let tokens = try PreparedExample(record, template: template).sequences[0].tokens
                guard tokens.count < m.config.model.seqLen else {
                    throw DataError(url, line: n + 1, "the prompt is \(tokens.count) tokens; the model's seq_len is \(m.config.model.seqLen)")
                }
                guard let promptJSON = value["prompt"] else { throw DataError(url, line: n + 1, "prompt_only: field \"prompt\" is missing") }
                records.append((promptJSON, prompt, answer, tokens))
            }
            // One JSONL line: the prompt as given, the answers as assistant messages for conversational prompts.
            func pairLine(_ r: (promptJSON: JSONValue, prompt: TextOrMessages, answer: String, tokens: [Int32]),
                          chosen: String, rejected: String) -> String {
                func reply(_ s: String) -> JSONValue {
                    let s = s.trimmingCharacters(in: .whitespacesAndNewlines)
                    if case .messages = r.prompt { return .array([.object([("role", .string("assistant")), ("content", .string(s))])]) }
                    return .string(s)
                }
                return JSONValue.object([("prompt", r.promptJSON), ("chosen", reply(chosen)), ("rejected", reply(rejected))]).serialized() + "\n"
            }
            var out = "", pairs = 0, summary = ""
            if samples == 0 {
                // All prompts decoded in batches: each completion is the one it would be alone.
                let completions = Greedy.generate(model: m.model, prompts: records.map(\.tokens), maxNewTokens: maxNewTokens,
                                                  tokenizer: tokenizer, parallel: parallel)
                for (r, completion) in zip(records, completions) {
                    let generated = Greedy.answerText(completion, tokenizer: tokenizer)
                    if AnswerGrading.isExactMatch(generated, expected: r.answer) { continue }
                    pairs += 1
                    out += pairLine(r, chosen: r.answer, rejected: generated)
                }
                summary = "\(pairs) pairs from the model's wrong greedy answers (\(records.count - pairs) of \(records.count) were right)"
            } else {
                let sampling = SamplingConfig(temperature: temperature, maxNewTokens: maxNewTokens,
                                              stopSequences: template.stopSequences, seed: seed)
                do { try sampling.validate() } catch { fail("--\(error)") }
                let sampler = Sampler(model: m.model, maxRows: max(samples, 64 / samples * samples))
                let sampled = sampler.generate(prompts: records.map(\.tokens), samplesPerPrompt: samples, config: sampling,
                                               parallel: parallel)
                var texts = [[String]](repeating: [], count: records.count)
                for c in sampled { texts[c.promptIndex].append(template.answerText(c.tokens)) }
                var allRight = 0, allWrong = 0, fromAnswer = 0
                for (r, answers) in zip(records, texts) {
                    switch OnPolicyPairs.pair(samples: answers, expected: r.answer, fallbackToAnswer: fallbackAnswer) {
                    case .allRight: allRight += 1
                    case .allWrong: allWrong += 1
                    case let .pair(chosen, rejected, chosenIsAnswer):
                        if chosenIsAnswer { allWrong += 1; fromAnswer += 1 }
                        pairs += 1
                        out += pairLine(r, chosen: chosen, rejected: rejected)
                    }
                }
                let wrongNote: String = fallbackAnswer ? "\(fromAnswer) of them paired with the answer" : "skipped"
                summary = "\(pairs) pairs from \(samples) samples of each of \(records.count) prompts at temperature \(temperature)"
                summary += " (\(allRight) all right, \(allWrong) all wrong: \(wrongNote))"
            }
            writeOutput(Data(out.utf8), to: output)
            print("wrote \(output): \(summary)")
        } catch { fail("\(error)") }
    }
}
