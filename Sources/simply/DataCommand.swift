import ArgumentParser
import Foundation
import SimplyCore
import SimplyData

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Prepare and generate datasets.", subcommands: [Prepare.self, Inspect.self, Generate.self, Synthetic.self, DataPreferences.self])

    struct Prepare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tokenize text, JSONL or post-training records into a prepared file for `simply train --set data.dataset=PATH`.",
            discussion: """
            Plain text and JSONL `text` records become a token shard (documents separated by eos). \
            Post-training JSONL (alpaca, sharegpt, messages, prompt_completion, preference, prompt_only) \
            becomes an example shard rendered with the ChatML template, with loss masks on the assistant tokens. \
            A bad record is an error naming file and line; --skip_invalid leaves such records out and counts them.
            """)

        @Argument(help: "Input files (plain text, JSONL with a text field, or post-training JSONL), processed in the order given.")
        var inputs: [String]

        @Option(name: .customLong("output"), help: "The token shard to write.")
        var output: String

        @Option(name: .customLong("format"), help: "auto (by extension and the first record's fields), text, jsonl, alpaca, sharegpt, messages, prompt_completion, preference or prompt_only.")
        var format: String = "auto"

        @Flag(name: .customLong("skip_invalid"), help: "Leave out malformed records and empty files, count them and report the first few (default: stop at the first).")
        var skipInvalid = false

        @Option(name: .customLong("text_field"), help: "The JSONL field holding the text.")
        var textField: String = "text"

        @Option(name: .customLong("tokenizer"), help: "byte, or a tokenizer.json (byte-level BPE).")
        var tokenizer: String = "byte"

        func run() throws {
            guard !inputs.isEmpty else { fail("no input files") }
            guard let fmt = InputFormat(rawValue: format) else {
                fail("--format must be one of \(InputFormat.allCases.map(\.rawValue).joined(separator: ", ")), not '\(format)'")
            }
            let urls = inputs.map { URL(fileURLWithPath: $0) }
            do {
                let tok = try loadTokenizer(tokenizer)
                makeParentDirectory(of: output)
                let r = try DataPrepare.prepare(inputs: urls, format: fmt, textField: textField,
                                                tokenizer: tok, output: URL(fileURLWithPath: output), skipInvalid: skipInvalid)
                if let kind = r.kind {
                    print("wrote \(output): \(r.documents) \(kind.rawValue) examples, \(r.tokens) tokens (\(r.lossTokens) in the loss) from \(r.files) file(s)")
                } else {
                    print("wrote \(output): \(r.tokens) tokens, \(r.documents) documents from \(r.files) file(s)")
                }
                if r.skipped > 0 {
                    print("skipped \(r.skipped) invalid record(s) or file(s) (--skip_invalid); first:")
                    for reason in r.skippedReasons { print("  \(reason)") }
                }
            } catch { fail("\(error)") }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a prepared file: its header, then examples decoded with the tokens in the loss marked.")

        @Argument(help: "A token shard or example shard written by `simply data prepare`.")
        var file: String

        @Option(name: .customLong("tokenizer"), help: "The tokenizer the file was prepared with: byte, or a tokenizer.json.")
        var tokenizer: String = "byte"

        @Option(name: .customLong("start"), help: "First example (or document) to show.")
        var start: Int = 0

        @Option(name: .customLong("count"), help: "How many examples (or documents) to show.")
        var count: Int = 3

        func run() throws {
            guard start >= 0, count >= 0 else { fail("--start and --count must be >= 0") }
            do {
                let tok = try loadTokenizer(tokenizer)
                let lines = try DataInspect.describe(URL(fileURLWithPath: file), tokenizer: tok, start: start, count: count,
                                                     color: isatty(STDOUT_FILENO) != 0)
                print(lines.joined(separator: "\n"))
            } catch { fail("\(error)") }
        }
    }

    struct Synthetic: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the built-in English-like corpus (data.dataset=builtin:synthetic) as a text file, e.g. to train a tokenizer on it.")

        @Option(name: .customLong("bytes"), help: "Size in bytes (the run's data.synthetic_bytes), at most 4 GiB.")
        var bytes: Int = 2_000_000

        static let maxBytes = 1 << 32

        @Option(name: .customLong("seed"), help: "The corpus seed (a run uses train.seed).")
        var seed: UInt64 = 1337

        @Option(name: .customLong("output"), help: "The text file to write.")
        var output: String

        func run() throws {
            // The corpus is built in memory: bound it before anything is reserved.
            guard (1...Self.maxBytes).contains(bytes) else { fail("--bytes must be in 1...\(Self.maxBytes), not \(bytes)") }
            let text = SyntheticCorpus.generate(seed: seed, bytes: bytes)
            writeOutput(Data(text.utf8), to: output)
            print("wrote \(output): \(bytes) bytes of the built-in corpus (seed \(seed))")
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a built-in verifiable task (arithmetic, sorting, copying, reversal) as JSONL, with held-out splits.")

        @Option(name: .customLong("task"), help: "addition, multiplication, sorting, copying or reversal.")
        var task: String

        @Option(name: .customLong("count"), help: "Examples to write (at most 10 million).")
        var count: Int = 1000

        /// All examples are held in memory before writing.
        static let maxCount = 10_000_000

        @Option(name: .customLong("split"), help: "train, or test (the ~10% of prompts held out).")
        var split: String = "train"

        @Option(name: .customLong("format"), help: "alpaca, messages, prompt_completion, preference (correct vs near-miss) or prompt_only.")
        var format: String = "alpaca"

        @Option(name: .customLong("seed"), help: "Generator seed.")
        var seed: UInt64 = 1

        @Flag(name: .customLong("conversational"), help: "Prompts as user messages, answers as assistant messages (prompt_completion, preference, prompt_only), so they render with the chat template like alpaca data.")
        var conversational = false

        @Option(name: .customLong("max_digits"), help: "Largest operand size for arithmetic.")
        var maxDigits: Int = 3

        @Option(name: .customLong("output"), help: "The JSONL file to write.")
        var output: String

        @Option(name: .customLong("off_by_one"), help: "Fraction of arithmetic answers written as answer + 1: flawed demonstrations, for experiments (supervised formats only).")
        var offByOne: Double = 0

        @Option(name: .customLong("trailing_period"), help: "Fraction of answers written with a trailing period (\"85.\"): a format slip exact match rejects, for experiments (supervised formats only).")
        var trailingPeriod: Double = 0

        @Option(name: .customLong("rejected"), help: "What a preference pair rejects: near_miss (a digit or element off) or trailing_period (the right answer with a period).")
        var rejected: String = "near_miss"

        func run() throws {
            guard let kind = TaskKind(rawValue: task) else {
                fail("--task must be one of \(TaskKind.allCases.map(\.rawValue).joined(separator: ", ")), not '\(task)'")
            }
            guard let s = TaskSplit(rawValue: split) else { fail("--split must be train or test, not '\(split)'") }
            guard let f = TaskRecordFormat(rawValue: format) else {
                fail("--format must be one of \(TaskRecordFormat.allCases.map(\.rawValue).joined(separator: ", ")), not '\(format)'")
            }
            guard (1...Self.maxCount).contains(count), (1...9).contains(maxDigits) else {
                fail("--count must be in 1...\(Self.maxCount) and --max_digits in 1...9")
            }
            let clean = TaskGenerator.examples(kind, seed: seed, split: s, count: count, maxDigits: maxDigits)
            var examples = clean
            if offByOne != 0 {
                guard (0...1).contains(offByOne), kind == .addition || kind == .multiplication,
                      [.alpaca, .messages, .promptCompletion].contains(f) else {
                    fail("--off_by_one takes a fraction in 0...1, for addition or multiplication in alpaca, messages or prompt_completion format")
                }
                examples = TaskGenerator.offByOne(examples, fraction: offByOne, seed: seed)
            }
            if trailingPeriod != 0 {
                guard (0...1).contains(trailingPeriod), [.alpaca, .messages, .promptCompletion].contains(f) else {
                    fail("--trailing_period takes a fraction in 0...1, in alpaca, messages or prompt_completion format")
                }
                examples = TaskGenerator.trailingPeriod(examples, fraction: trailingPeriod, seed: seed)
            }
            switch rejected {
            case "near_miss": break
            case "trailing_period":
                guard f == .preference else { fail("--rejected applies to --format preference") }
                examples = TaskGenerator.periodRejected(examples)
            default: fail("--rejected must be near_miss or trailing_period, not '\(rejected)'")
            }
            let text = examples.map { f.record($0, conversational: conversational).serialized() + "\n" }.joined()
            writeOutput(Data(text.utf8), to: output)
            print("wrote \(output): \(examples.count) \(kind.rawValue) examples (\(s.rawValue) split, \(f.rawValue))"
                  + (offByOne == 0 ? "" : "; \(zip(clean, examples).filter { $0.answer != $1.answer }.count) answers off by one")
                  + (trailingPeriod == 0 ? "" : "; \(examples.filter { $0.answer.hasSuffix(".") }.count) answers with a trailing period")
                  + (examples.count < count ? "; the task has no more distinct prompts at --max_digits \(maxDigits)" : ""))
        }
    }
}

/// "byte" or a tokenizer.json path.
func loadTokenizer(_ spec: String) throws -> any Tokenizer {
    do { return try TokenizerLoader.load(spec) } catch { throw ValidationError("--tokenizer: \(error)") }
}
