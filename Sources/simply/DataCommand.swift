import ArgumentParser
import Foundation
import SimplyCore
import SimplyData

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Prepare and generate datasets.", subcommands: [Prepare.self, Generate.self])

    struct Prepare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tokenize text or JSONL files into a token shard for `simply train --set data.dataset=PATH`.")

        @Argument(help: "Input files (plain text, or JSONL with a text field), processed in the order given.")
        var inputs: [String]

        @Option(name: .customLong("output"), help: "The token shard to write.")
        var output: String

        @Option(name: .customLong("format"), help: "auto (by extension), text or jsonl.")
        var format: String = "auto"

        @Option(name: .customLong("text_field"), help: "The JSONL field holding the text.")
        var textField: String = "text"

        @Option(name: .customLong("tokenizer"), help: "byte (BPE: not yet available).")
        var tokenizer: String = "byte"

        func run() throws {
            guard !inputs.isEmpty else { fail("no input files") }
            guard let fmt = InputFormat(rawValue: format) else { fail("--format must be auto, text or jsonl, not '\(format)'") }
            guard tokenizer == "byte" else { fail("--tokenizer \(tokenizer) is not available (only byte)") }
            let urls = inputs.map { URL(fileURLWithPath: $0) }
            do {
                let r = try DataPrepare.prepare(inputs: urls, format: fmt, textField: textField,
                                                tokenizer: ByteTokenizer(), output: URL(fileURLWithPath: output))
                print("wrote \(output): \(r.tokens) tokens, \(r.documents) documents from \(r.files) file(s)")
            } catch { fail("\(error)") }
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a built-in verifiable task (arithmetic, sorting, copying, reversal) as JSONL, with held-out splits.")

        @Option(name: .customLong("task"), help: "addition, multiplication, sorting, copying or reversal.")
        var task: String

        @Option(name: .customLong("count"), help: "Examples to write.")
        var count: Int = 1000

        @Option(name: .customLong("split"), help: "train, or test (the ~10% of prompts held out).")
        var split: String = "train"

        @Option(name: .customLong("format"), help: "alpaca, messages, prompt_completion, preference (correct vs near-miss) or prompt_only.")
        var format: String = "alpaca"

        @Option(name: .customLong("seed"), help: "Generator seed.")
        var seed: UInt64 = 1

        @Option(name: .customLong("max_digits"), help: "Largest operand size for arithmetic.")
        var maxDigits: Int = 3

        @Option(name: .customLong("output"), help: "The JSONL file to write.")
        var output: String

        func run() throws {
            guard let kind = TaskKind(rawValue: task) else {
                fail("--task must be one of \(TaskKind.allCases.map(\.rawValue).joined(separator: ", ")), not '\(task)'")
            }
            guard let s = TaskSplit(rawValue: split) else { fail("--split must be train or test, not '\(split)'") }
            guard let f = TaskRecordFormat(rawValue: format) else {
                fail("--format must be one of \(TaskRecordFormat.allCases.map(\.rawValue).joined(separator: ", ")), not '\(format)'")
            }
            guard count >= 1, (1...9).contains(maxDigits) else { fail("--count must be >= 1 and --max_digits in 1...9") }
            let examples = TaskGenerator.examples(kind, seed: seed, split: s, count: count, maxDigits: maxDigits)
            let text = examples.map { f.record($0).serialized() + "\n" }.joined()
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                fail("cannot write \(output): \(error.localizedDescription)")
            }
            print("wrote \(output): \(examples.count) \(kind.rawValue) examples (\(s.rawValue) split, \(f.rawValue))"
                  + (examples.count < count ? "; the task has no more distinct prompts at --max_digits \(maxDigits)" : ""))
        }
    }
}
