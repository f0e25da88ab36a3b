/// A checkpoint problem, as one line that names the file (and the field or
/// tensor when there is one): "PATH: FIELD: what is wrong".
public struct CheckpointError: Error, CustomStringConvertible {
    /// The file or directory at fault.
    public let file: String
    /// The manifest field or tensor at fault, if any.
    public let field: String?
    public let message: String

    public init(_ file: String, field: String? = nil, _ message: String) {
        self.file = file
        self.field = field
        self.message = message
    }

    public var description: String {
        let text = field.map { "\(file): \($0): \(message)" } ?? "\(file): \(message)"
        // One line, whatever a message or a (damaged) name holds.
        return String(text.map { $0.isNewline ? " " : $0 })
    }
}
