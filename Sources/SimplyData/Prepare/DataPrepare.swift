import Foundation
import SimplyCore

/// How to read an input file. `.auto` chooses by extension: `.jsonl` and
/// `.json` are JSONL, anything else is plain text; a JSONL file's format is
/// then told by its first record: a `text` field (or `--text_field`) means
/// pretraining text, otherwise the post-training format whose fields it has
/// (`RecordFormat.detect`). The other cases name the format explicitly.
public enum InputFormat: String, CaseIterable, Sendable {
    case auto, text, jsonl
    case alpaca, sharegpt, messages
    case promptCompletion = "prompt_completion"
    case preference
    case promptOnly = "prompt_only"

    /// The post-training record format this names, if any.
    public var recordFormat: RecordFormat? { RecordFormat(rawValue: rawValue) }
}

public struct PrepareReport: Sendable, Equatable {
    /// Documents (pretraining) or examples (post-training) written.
    public let documents: Int
    public let tokens: Int
    public let files: Int
    /// Records or files left out under `skipInvalid`, and the first reasons.
    public let skipped: Int
    public let skippedReasons: [String]
    /// nil for a pretraining token shard, else the kind of the example shard.
    public let kind: ExampleKind?
    /// Tokens in the loss (post-training only).
    public let lossTokens: Int

    public init(documents: Int, tokens: Int, files: Int, skipped: Int = 0, skippedReasons: [String] = [],
                kind: ExampleKind? = nil, lossTokens: Int = 0) {
        self.documents = documents; self.tokens = tokens; self.files = files
        self.skipped = skipped; self.skippedReasons = skippedReasons
        self.kind = kind; self.lossTokens = lossTokens
    }
}

/// Bad records left out under `skipInvalid`: counted, the first few kept for
/// the report. Without the flag nothing is ever dropped: the first problem is
/// a `DataError` naming file and line.
struct SkipLog {
    let enabled: Bool
    var count = 0
    var reasons: [String] = []

    mutating func skip(_ e: DataError) throws {
        guard enabled else { throw e }
        count += 1
        if reasons.count < 5 { reasons.append(e.description) }
    }
}

/// Turns input files into one prepared dataset file.
///
/// Pretraining (plain text, JSONL `text`): a token shard; each document is
/// tokenized, an eos follows it, documents are concatenated in input order.
/// - Plain text: the whole file is one document, byte for byte — unless some
///   line is exactly "%" (a `fortune` file), then the file is cut at those
///   lines and each non-empty entry between them is a document (its lines keep
///   their newlines; the "%" lines are not part of any document).
/// - JSONL: each non-blank line is a JSON object and `textField` holds the
///   document as a string. Blank lines carry no record and are skipped.
///
/// Post-training (alpaca, sharegpt, messages, prompt_completion, preference,
/// prompt_only): an example shard of `PreparedExample`s rendered with the
/// chat template, with loss masks on the completion (assistant) tokens only.
///
/// Bad input is never dropped silently: malformed JSON, a missing or
/// mistyped field, invalid UTF-8, an empty file, or a file with no
/// documents is a `DataError` naming the file (and line) — or, with
/// `skipInvalid`, left out and counted in the report.
public enum DataPrepare {
    public static func prepare(inputs: [URL], format: InputFormat, textField: String,
                               tokenizer: any Tokenizer, output: URL, skipInvalid: Bool = false) throws -> PrepareReport {
        guard !inputs.isEmpty else { throw DataError(output, "no input files") }
        // Writing over an input would lose it (the shard replaces the file).
        let target = output.standardizedFileURL.resolvingSymlinksInPath().path
        if inputs.contains(where: { $0.standardizedFileURL.resolvingSymlinksInPath().path == target }) {
            throw DataError(output, "is also an input: choose another --output, so the input is not overwritten")
        }
        var skips = SkipLog(enabled: skipInvalid)
        var tokens: [Int32] = []
        var documentCount = 0
        var examples: [PreparedExample] = []
        var exampleKind: ExampleKind?? = nil   // nil: not decided; .some(nil): pretraining
        var kindSource = ""
        let template = ChatTemplate(tokenizer: tokenizer)

        for url in inputs {
            guard let file = try readInput(url, format: format, textField: textField, skips: &skips) else { continue }
            let kind: ExampleKind? = file.recordFormat?.exampleKind
            if let decided = exampleKind, decided != kind {
                func name(_ k: ExampleKind?) -> String { k.map { "\($0.rawValue) examples" } ?? "pretraining text" }
                throw DataError(url, "holds \(name(kind)) but \(kindSource) holds \(name(decided)); prepare them into separate files")
            }
            exampleKind = .some(kind)
            kindSource = url.path
            switch file.content {
            case let .documents(docs):
                for doc in docs {
                    tokens.append(contentsOf: tokenizer.encode(doc))
                    tokens.append(tokenizer.eos)
                    documentCount += 1
                }
            case let .records(records):
                for (i, r) in records.enumerated() {
                    do {
                        examples.append(try PreparedExample(r, template: template))
                    } catch let e as DataError {
                        try skips.skip(DataError(url, "record \(i + 1): \(e.message)"))
                    }
                }
            }
        }
        guard let decided = exampleKind else {
            throw DataError(output, "every input was skipped (\(skips.count) problems; first: \(skips.reasons.first ?? "none"))")
        }
        if let kind = decided {
            guard !examples.isEmpty else { throw DataError(output, "no examples in the inputs") }
            try ExampleShard.write(examples, kind: kind, vocabSize: tokenizer.vocabSize, tokenizerName: tokenizer.name, to: output)
            return PrepareReport(documents: examples.count, tokens: examples.reduce(0) { $0 + $1.tokenCount },
                                 files: inputs.count, skipped: skips.count, skippedReasons: skips.reasons, kind: kind,
                                 lossTokens: examples.reduce(0) { $0 + $1.sequences.reduce(0) { $0 + $1.lossTokens } })
        }
        try TokenShard.write(tokens: tokens, vocabSize: tokenizer.vocabSize, tokenizerName: tokenizer.name,
                             documentCount: documentCount, to: output)
        return PrepareReport(documents: documentCount, tokens: tokens.count, files: inputs.count,
                             skipped: skips.count, skippedReasons: skips.reasons)
    }

    /// One input file's content after parsing.
    public struct InputFile: Sendable {
        public enum Content: Sendable { case documents([String]), records([PostTrainingRecord]) }
        public let recordFormat: RecordFormat?
        public let content: Content
    }

    /// The format `.auto` resolves to for a file.
    public static func resolve(_ format: InputFormat, for url: URL) -> InputFormat {
        guard format == .auto else { return format }
        let ext = url.pathExtension.lowercased()
        return ext == "jsonl" || ext == "json" ? .jsonl : .text
    }

    /// The documents of one pretraining input file, in file order.
    public static func documents(in url: URL, format: InputFormat, textField: String) throws -> [String] {
        var skips = SkipLog(enabled: false)
        guard let file = try readInput(url, format: format, textField: textField, skips: &skips),
              case let .documents(docs) = file.content else {
            throw DataError(url, "holds post-training records, not text documents")
        }
        return docs
    }

    /// Reads, validates and parses one input; nil when the whole file is
    /// skipped (empty, under `skipInvalid`).
    static func readInput(_ url: URL, format: InputFormat, textField: String, skips: inout SkipLog) throws -> InputFile? {
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(url) } catch { throw DataError(url, error.reason) }
        return try parseInput(bytes, url: url, format: format, textField: textField, skips: &skips)
    }

    /// `prepare`'s parsing of one input file's bytes (`url` names it and, for
    /// `.auto`, tells text from JSONL by its extension); nil when the file is
    /// skipped. Errors name `url` and the line.
    public static func parseInput(_ bytes: [UInt8], url: URL, format: InputFormat, textField: String = "text",
                                  skipInvalid: Bool = false) throws -> InputFile? {
        var skips = SkipLog(enabled: skipInvalid)
        return try parseInput(bytes, url: url, format: format, textField: textField, skips: &skips)
    }

    static func parseInput(_ input: [UInt8], url: URL, format: InputFormat, textField: String,
                           skips: inout SkipLog) throws -> InputFile? {
        var bytes = input
        guard !bytes.isEmpty else { try skips.skip(DataError(url, "file is empty")); return nil }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }  // UTF-8 byte-order mark
        let lines = lineRanges(bytes)

        if resolve(format, for: url) == .text {
            try checkUTF8(bytes, lines: lines, url: url)  // a text file is one document: no line to skip
            let docs = textDocuments(bytes, lines: lines)
            guard !docs.isEmpty else { throw DataError(url, "no documents in file") }
            return InputFile(recordFormat: nil, content: .documents(docs))
        }

        // JSONL: one record per non-blank line; a bad line is an error or a skip.
        var recordFormat: RecordFormat? = format.recordFormat
        var decided = format != .auto
        var docs: [String] = []
        var records: [PostTrainingRecord] = []
        for (n, r) in lines.enumerated() {
            let line = bytes[r]
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }) { continue }
            do {
                guard let text = String(validating: line, as: UTF8.self) else {
                    throw DataError(url, line: n + 1, "invalid UTF-8 at byte \(badUTF8Column(line)) of the line")
                }
                let value: JSONValue
                do { value = try JSONValue.parse(text) } catch {
                    throw DataError(url, line: n + 1, "malformed JSON: \(error)")
                }
                guard case .object = value else {
                    throw DataError(url, line: n + 1, "expected a JSON object, found \(RecordFormat.kind(value))")
                }
                if !decided {
                    // The first good record decides the file's format.
                    if value[textField] != nil { recordFormat = nil }
                    else if let f = RecordFormat.detect(value) { recordFormat = f }
                    else {
                        throw DataError(url, line: n + 1, "field \(String(reflecting: textField)) is missing (the object has \(keyList(value))) "
                                        + "and the record has none of the fields of alpaca (instruction, output), sharegpt (conversations), "
                                        + "messages, prompt_completion (prompt, completion), preference (chosen, rejected) or prompt_only (prompt); "
                                        + "name the format with --format")
                    }
                    decided = true
                }
                if let f = recordFormat {
                    do { records.append(try f.parse(value)) } catch {
                        throw DataError(url, line: n + 1, "\(f.rawValue): \(error.message)")
                    }
                } else {
                    guard let field = value[textField] else {
                        throw DataError(url, line: n + 1, "field \(String(reflecting: textField)) is missing (the object has \(keyList(value)))")
                    }
                    guard case let .string(t) = field else {
                        throw DataError(url, line: n + 1, "field \(String(reflecting: textField)) is \(RecordFormat.kind(field)), expected a string")
                    }
                    docs.append(t)
                }
            } catch let e as DataError {
                try skips.skip(e)
            }
        }
        if let f = recordFormat {
            guard !records.isEmpty else { throw DataError(url, "no \(f.rawValue) records in file") }
            return InputFile(recordFormat: f, content: .records(records))
        }
        guard !docs.isEmpty else { throw DataError(url, "no documents in file") }
        return InputFile(recordFormat: nil, content: .documents(docs))
    }

    /// The first keys of an object, quoted with escapes (one line).
    static func keyList(_ value: JSONValue) -> String {
        guard case let .object(pairs) = value, !pairs.isEmpty else { return "no keys" }
        var keys = pairs.prefix(10).map { JSONValue.string($0.0).brief(limit: 40) }.joined(separator: ", ")
        if pairs.count > 10 { keys += ", … (\(pairs.count) keys)" }
        return keys
    }

    /// 1-based byte column where a line's first bad UTF-8 sequence starts.
    static func badUTF8Column(_ line: ArraySlice<UInt8>) -> Int {
        var it = line.makeIterator()
        var decoder = UTF8()
        var column = 1
        while true {
            switch decoder.decode(&it) {
            case let .scalarValue(s): column += UTF8.width(s)
            case .emptyInput, .error: return column
            }
        }
    }

    /// Byte ranges of the lines, each including its terminating "\n" if any.
    static func lineRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            out.append(start..<(i + 1))
            start = i + 1
        }
        if start < bytes.count { out.append(start..<bytes.count) }
        return out
    }

    /// Validates the whole file at once; on failure finds the first bad line
    /// (a newline byte never occurs inside a multi-byte UTF-8 sequence, so
    /// line-by-line validation is equivalent).
    static func checkUTF8(_ bytes: [UInt8], lines: [Range<Int>], url: URL) throws {
        if String(validating: bytes, as: UTF8.self) != nil { return }
        for (n, r) in lines.enumerated() where String(validating: bytes[r], as: UTF8.self) == nil {
            throw DataError(url, line: n + 1, "invalid UTF-8 at byte \(badUTF8Column(bytes[r])) of the line")
        }
        throw DataError(url, "invalid UTF-8")
    }

    static func isSeparator(_ bytes: [UInt8], _ r: Range<Int>) -> Bool {
        var end = r.upperBound
        if end > r.lowerBound, bytes[end - 1] == 0x0A { end -= 1 }
        if end > r.lowerBound, bytes[end - 1] == 0x0D { end -= 1 }
        return end - r.lowerBound == 1 && bytes[r.lowerBound] == UInt8(ascii: "%")
    }

    static func textDocuments(_ bytes: [UInt8], lines: [Range<Int>]) -> [String] {
        guard lines.contains(where: { isSeparator(bytes, $0) }) else {
            return [String(decoding: bytes, as: UTF8.self)]
        }
        var docs: [String] = []
        var start = 0
        for r in lines where isSeparator(bytes, r) {
            if r.lowerBound > start { docs.append(String(decoding: bytes[start..<r.lowerBound], as: UTF8.self)) }
            start = r.upperBound
        }
        if bytes.count > start { docs.append(String(decoding: bytes[start...], as: UTF8.self)) }
        return docs
    }
}
