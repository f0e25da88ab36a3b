import ArgumentParser
import Foundation
import SimplyData

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Prepare datasets.", subcommands: [Prepare.self])

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
}
