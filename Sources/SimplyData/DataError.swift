import Foundation

/// A problem with input data or a dataset file. Its description is one line
/// that names the file (and the line, when there is one) and what is wrong,
/// e.g. `data/train.jsonl:17: field "text" is a number, expected a string`.
public struct DataError: Error, CustomStringConvertible, Sendable {
    public let file: String?
    public let line: Int?
    public let message: String

    public init(file: String? = nil, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public init(_ url: URL, line: Int? = nil, _ message: String) {
        self.init(file: url.path, line: line, message)
    }

    public var description: String {
        switch (file, line) {
        case let (f?, l?): return "\(f):\(l): \(message)"
        case let (f?, nil): return "\(f): \(message)"
        default: return message
        }
    }
}
