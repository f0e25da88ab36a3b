import Foundation
import SimplyCore

/// How to read an input file. `.auto` chooses by extension: `.jsonl` and
/// `.json` are JSONL, anything else is plain text.
public enum InputFormat: String, Sendable {
    case auto, text, jsonl
}

public struct PrepareReport: Sendable, Equatable {
    public let documents: Int
    public let tokens: Int
    public let files: Int
    public init(documents: Int, tokens: Int, files: Int) {
        self.documents = documents; self.tokens = tokens; self.files = files
    }
}

/// Turns text files into one token shard: each document is tokenized, an eos
/// follows it, and the documents are concatenated in input order.
///
/// - Plain text: the whole file is one document, byte for byte — unless some
///   line is exactly "%" (a `fortune` file), then the file is cut at those
///   lines and each non-empty entry between them is a document (its lines keep
///   their newlines; the "%" lines are not part of any document).
/// - JSONL: each non-blank line is a JSON object and `textField` holds the
///   document as a string. Blank lines carry no record and are skipped.
///
/// Bad input is never dropped silently: malformed JSON, a missing or
/// non-string field, invalid UTF-8, an empty file, or a file with no
/// documents is a `DataError` naming the file (and line).
public enum DataPrepare {
    public static func prepare(inputs: [URL], format: InputFormat, textField: String,
                               tokenizer: any Tokenizer, output: URL) throws -> PrepareReport {
        guard !inputs.isEmpty else { throw DataError(output, "no input files") }
        var tokens: [Int32] = []
        var documentCount = 0
        for url in inputs {
            for doc in try documents(in: url, format: format, textField: textField) {
                tokens.append(contentsOf: tokenizer.encode(doc))
                tokens.append(tokenizer.eos)
                documentCount += 1
            }
        }
        try TokenShard.write(tokens: tokens, vocabSize: tokenizer.vocabSize, tokenizerName: tokenizer.name,
                             documentCount: documentCount, to: output)
        return PrepareReport(documents: documentCount, tokens: tokens.count, files: inputs.count)
    }

    /// The format `.auto` resolves to for a file.
    public static func resolve(_ format: InputFormat, for url: URL) -> InputFormat {
        guard format == .auto else { return format }
        let ext = url.pathExtension.lowercased()
        return ext == "jsonl" || ext == "json" ? .jsonl : .text
    }

    /// The documents of one input file, in file order.
    public static func documents(in url: URL, format: InputFormat, textField: String) throws -> [String] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataError(url, "cannot read: \(error.localizedDescription)")
        }
        var bytes = [UInt8](data)
        guard !bytes.isEmpty else { throw DataError(url, "file is empty") }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }  // UTF-8 byte-order mark
        let lines = lineRanges(bytes)
        try checkUTF8(bytes, lines: lines, url: url)

        let docs: [String]
        switch resolve(format, for: url) {
        case .jsonl: docs = try jsonlDocuments(bytes, lines: lines, textField: textField, url: url)
        default: docs = textDocuments(bytes, lines: lines)
        }
        guard !docs.isEmpty else { throw DataError(url, "no documents in file") }
        return docs
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
            // Column (1-based byte) where the first bad sequence starts.
            var it = bytes[r].makeIterator()
            var decoder = UTF8()
            var column = 1
            decoding: while true {
                switch decoder.decode(&it) {
                case let .scalarValue(s): column += UTF8.width(s)
                case .emptyInput, .error: break decoding
                }
            }
            throw DataError(url, line: n + 1, "invalid UTF-8 at byte \(column) of the line")
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

    static func jsonlDocuments(_ bytes: [UInt8], lines: [Range<Int>], textField: String, url: URL) throws -> [String] {
        var docs: [String] = []
        for (n, r) in lines.enumerated() {
            let line = bytes[r]
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }) { continue }
            let value: JSONValue
            do { value = try JSONValue.parse(String(decoding: line, as: UTF8.self)) } catch {
                throw DataError(url, line: n + 1, "malformed JSON: \(error)")
            }
            guard case let .object(pairs) = value else {
                throw DataError(url, line: n + 1, "expected a JSON object, found \(kind(value))")
            }
            guard let field = value[textField] else {
                // Keys are quoted with escapes so the message stays on one line.
                var keys = pairs.prefix(10).map { String(reflecting: $0.0) }.joined(separator: ", ")
                if pairs.count > 10 { keys += ", … (\(pairs.count) keys)" }
                throw DataError(url, line: n + 1, "field \(String(reflecting: textField)) is missing (the object has \(keys.isEmpty ? "no keys" : keys))")
            }
            guard case let .string(text) = field else {
                throw DataError(url, line: n + 1, "field \(String(reflecting: textField)) is \(kind(field)), expected a string")
            }
            docs.append(text)
        }
        return docs
    }

    static func kind(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
