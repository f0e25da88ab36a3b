import ArgumentParser
import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyTrain

/// `simply data preferences`: on-policy preference pairs. For each prompt with
/// an answer, the model's greedy completion; where it is wrong, the pair
/// (chosen = the answer, rejected = the model's own answer). DPO on the
/// model's actual mistakes, instead of generated near misses.
struct DataPreferences: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preferences",
        abstract: "Write preference pairs from a model's own wrong greedy answers (chosen: the reference answer).")

    @Option(name: .customLong("checkpoint"), help: "The model: a checkpoint or run directory.")
    var checkpoint: String

    @Option(name: .customLong("prompts"), help: "prompt_only JSONL with an answer per record (simply data generate --format prompt_only).")
    var prompts: String

    @Option(name: .customLong("output"), help: "The preference JSONL to write.")
    var output: String

    @Option(name: .customLong("max_new_tokens"), help: "Longest completion.")
    var maxNewTokens: Int = 16

    @Option(name: .customLong("threads"), help: "Worker threads (never changes the result).")
    var threads: Int?

    func run() throws {
        do {
            let m = try TrainedModel(URL(fileURLWithPath: checkpoint), maxBatch: 1)
            let tokenizer = try TrainingData.loadTokenizer(m.config)
            let template = ChatTemplate(tokenizer: tokenizer)
            let url = URL(fileURLWithPath: prompts)
            let parallel = Parallel(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, deterministic: true)
            let text = try String(contentsOf: url, encoding: .utf8)
            var records: [(value: JSONValue, prompt: TextOrMessages, answer: String, tokens: [Int32])] = []
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                let value = try JSONValue.parse(String(line))
                let record: PostTrainingRecord
                do { record = try RecordFormat.promptOnly.parse(value) } catch {
                    throw DataError(url, line: n + 1, "prompt_only: \(error.message)")
                }
                guard case let .promptOnly(prompt, answer?) = record else {
                    throw DataError(url, line: n + 1, "prompt_only: field \"answer\" is missing (needed to tell right from wrong)")
                }
                records.append((value, prompt, answer, PreparedExample(record, template: template).sequences[0].tokens))
            }
            // All prompts decoded in batches: each completion is the one it would be alone.
            let completions = Greedy.generate(model: m.model, prompts: records.map(\.tokens), maxNewTokens: maxNewTokens,
                                              tokenizer: tokenizer, parallel: parallel)
            var out = "", wrong = 0
            let total = records.count
            for (r, completion) in zip(records, completions) {
                let generated = Greedy.answerText(completion, tokenizer: tokenizer)
                if TaskGenerator.isCorrect(generated, expected: r.answer) { continue }
                wrong += 1
                func reply(_ s: String) -> JSONValue {
                    if case .messages = r.prompt { return .array([.object([("role", .string("assistant")), ("content", .string(s))])]) }
                    return .string(s)
                }
                out += JSONValue.object([("prompt", r.value["prompt"]!), ("chosen", reply(r.answer)),
                                         ("rejected", reply(generated.trimmingCharacters(in: .whitespacesAndNewlines)))]).serialized() + "\n"
            }
            try Data(out.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
            print("wrote \(output): \(wrong) pairs from the model's wrong answers (\(total - wrong) of \(total) were right)")
        } catch { fail("\(error)") }
    }
}
