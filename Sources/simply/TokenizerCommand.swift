import ArgumentParser
import Foundation
import SimplyCore
import SimplyData

struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer", abstract: "Train a byte-level BPE tokenizer, or encode text with one.",
        subcommands: [Train.self, Encode.self, Decode.self])

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train byte-level BPE on text or JSONL files and write a Hugging Face tokenizer.json.")

        @Argument(help: "Input files (plain text, or JSONL with a text field).")
        var inputs: [String]

        @Option(name: .customLong("vocab_size"), help: "Vocabulary size including the 256 bytes and the 5 specials.")
        var vocabSize: Int

        @Option(name: .customLong("out"), help: "The tokenizer.json to write.")
        var out: String

        @Option(name: .customLong("min_frequency"), help: "Stop when no pair occurs this often.")
        var minFrequency: Int = 2

        @Option(name: .customLong("format"), help: "auto (by extension), text or jsonl.")
        var format: String = "auto"

        @Option(name: .customLong("text_field"), help: "The JSONL field holding the text.")
        var textField: String = "text"

        func run() throws {
            guard !inputs.isEmpty else { fail("no input files") }
            guard let fmt = InputFormat(rawValue: format) else { fail("--format must be auto, text or jsonl, not '\(format)'") }
            do {
                var texts: [String] = []
                var bytes = 0
                for path in inputs {
                    let docs = try DataPrepare.documents(in: URL(fileURLWithPath: path), format: fmt, textField: textField)
                    texts.append(contentsOf: docs)
                    bytes += docs.reduce(0) { $0 + $1.utf8.count }
                }
                let start = DispatchTime.now().uptimeNanoseconds
                let tok = try BPETrainer.train(texts: texts, vocabSize: vocabSize, minFrequency: minFrequency)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                makeParentDirectory(of: out)
                try tok.write(to: URL(fileURLWithPath: out))
                print("trained on \(bytes) bytes in \(texts.count) document(s): vocab size \(tok.vocabSize), "
                      + "\(tok.merges.count) merges, \(String(format: "%.2f", seconds)) s")
                print("wrote \(out) (\(tok.name))")
            } catch { fail("\(error)") }
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the token ids of a text (space-separated), or measure encoding speed with --bench.")

        @Option(name: .customLong("tokenizer"), help: "byte, or the path of a tokenizer.json.")
        var tokenizer: String

        @Option(name: .customLong("text"), help: "The text to encode (instead of a file).")
        var text: String?

        @Argument(help: "A file whose whole contents are encoded.")
        var file: String?

        @Flag(name: .customLong("bench"), help: "Print encoding speed in MB/s instead of the ids.")
        var bench = false

        @Flag(name: .customLong("jsonl"), help: "FILE is JSONL: encode each record's text field, one line of ids per record.")
        var jsonl = false

        @Option(name: .customLong("text_field"), help: "The JSONL field holding the text (with --jsonl).")
        var textField: String = "text"

        func run() throws {
            let tok: any Tokenizer
            do { tok = try TokenizerLoader.load(tokenizer) } catch { fail("\(error)") }
            if jsonl {
                guard let f = file, text == nil, !bench else { fail("--jsonl needs a FILE (and no --text or --bench)") }
                let docs: [String]
                do { docs = try DataPrepare.documents(in: URL(fileURLWithPath: f), format: .jsonl, textField: textField) } catch {
                    fail("\(error)")
                }
                for d in docs { print(tok.encode(d).map { String($0) }.joined(separator: " ")) }
                return
            }
            let input: String
            switch (text, file) {
            case let (t?, nil): input = t
            case let (nil, f?):
                let data: [UInt8]
                do { data = try FileBytes.read(URL(fileURLWithPath: f)) } catch { fail("\(error)") }
                guard let s = String(validating: data, as: UTF8.self) else { fail("\(f): not valid UTF-8") }
                input = s
            default: fail("give exactly one of --text or a FILE")
            }
            guard bench else {
                print(tok.encode(input).map { String($0) }.joined(separator: " "))
                return
            }
            let bytes = Double(input.utf8.count)
            guard bytes > 0 else { fail("nothing to encode") }
            func measure(_ body: () -> Int) -> (Double, Int) {
                var reps = 0, tokens = 0
                let start = DispatchTime.now().uptimeNanoseconds
                var elapsed = 0.0
                repeat {
                    tokens = body(); reps += 1
                    elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                } while elapsed < 1.0
                return (bytes * Double(reps) / elapsed / 1e6, tokens)
            }
            let (whole, count) = measure { tok.encode(input).count }
            let lines = input.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) + "\n" }
            let (perLine, _) = measure { lines.reduce(0) { $0 + tok.encode($1).count } }
            print("\(tok.name): \(Int(bytes)) bytes -> \(count) tokens (\(String(format: "%.2f", bytes / Double(count))) bytes/token)")
            print(String(format: "encode: %.1f MB/s as one text, %.1f MB/s line by line (1 thread)", whole, perLine))
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the text of token ids: --ids as raw text, or each line of FILE (space-separated ids) as a JSON string.")

        @Option(name: .customLong("tokenizer"), help: "byte, or the path of a tokenizer.json.")
        var tokenizer: String

        @Option(name: .customLong("ids"), help: "Space-separated ids (instead of a file).")
        var ids: String?

        @Argument(help: "A file with one space-separated id sequence per line.")
        var file: String?

        func run() throws {
            let tok: any Tokenizer
            do { tok = try TokenizerLoader.load(tokenizer) } catch { fail("\(error)") }
            func parse(_ line: Substring, _ place: String) -> [Int32] {
                line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map {
                    guard let id = Int32($0) else { fail("\(place): '\($0)' is not a token id") }
                    return id
                }
            }
            switch (ids, file) {
            case let (i?, nil):
                print(tok.decode(parse(Substring(i), "--ids")), terminator: "")
            case let (nil, f?):
                let data: [UInt8]
                do { data = try FileBytes.read(URL(fileURLWithPath: f)) } catch { fail("\(error)") }
                guard let text = String(validating: data, as: UTF8.self) else { fail("\(f): not valid UTF-8") }
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                if text.hasSuffix("\n") { lines.removeLast() }
                for (n, line) in lines.enumerated() {
                    print(JSONValue.string(tok.decode(parse(line, "\(f):\(n + 1)"))).serialized())
                }
            default: fail("give exactly one of --ids or a FILE")
            }
        }
    }
}
